"""Billing settings, creating estimates and invoices, and editing them (details, options,
line items, revised copies)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TypedDict, TypeVar, Unpack

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    BillingSettings,
    Company,
    Customer,
    DiscountKind,
    Estimate,
    EstimateOption,
    EstimateStatus,
    Invoice,
    Job,
    LineItem,
    RevokedLink,
)
from app.models.billing import new_document_token
from app.services.billing.totals import MAX_CENTS, MAX_QUANTITY_MILLI, MAX_TAX_MPCT, Document
from app.services.document_events import invoice_revised
from app.services.errors import Conflict, DomainError
from app.services.uniqueness import insert_or_get

D = TypeVar("D", Estimate, Invoice)


def billing_settings_for(company: Company) -> BillingSettings:
    """The company's billing defaults, created on first use (race-safe)."""
    stmt = sa.select(BillingSettings).filter_by(company_id=company.id)
    settings = db.session.scalar(stmt)
    if settings is None:
        settings, _ = insert_or_get(BillingSettings(company_id=company.id), stmt)
    return settings


def current_billing_settings(company: Company) -> BillingSettings:
    """The company's billing defaults for reading: its row, or (before the first save) an
    unsaved one holding the column defaults. Never writes."""
    settings = db.session.scalar(sa.select(BillingSettings).filter_by(company_id=company.id))
    if settings is not None:
        return settings
    defaults = {
        column.key: column.default.arg
        for column in BillingSettings.__table__.columns
        if column.default is not None and column.default.is_scalar
    }
    return BillingSettings(company_id=company.id, **defaults)


def update_billing_settings(
    *,
    company: Company,
    payment_instructions: str | None,
    estimate_terms: str | None,
    invoice_terms: str | None,
    default_tax_rate_mpct: int,
    invoice_due_days: int,
    estimate_valid_days: int,
) -> BillingSettings:
    if not 0 <= invoice_due_days <= 365:
        raise DomainError("Due in: between 0 and 365 days.", field="invoice_due_days")
    if not 1 <= estimate_valid_days <= 365:
        raise DomainError("Valid for: between 1 and 365 days.", field="estimate_valid_days")
    settings = billing_settings_for(company)
    settings.payment_instructions = _clean_text(payment_instructions)
    settings.estimate_terms = _clean_text(estimate_terms)
    settings.invoice_terms = _clean_text(invoice_terms)
    settings.default_tax_rate_mpct = default_tax_rate_mpct
    settings.invoice_due_days = invoice_due_days
    settings.estimate_valid_days = estimate_valid_days
    db.session.flush()
    return settings


def _clean_text(value: str | None) -> str | None:
    text = (value or "").strip().replace("\r\n", "\n")
    return text or None


def company_today(company: Company, now: datetime | None = None) -> date:
    return company.today(now)


def _next_number(model: type[Estimate] | type[Invoice], company: Company) -> int:
    current = db.session.scalar(
        sa.select(sa.func.max(model.number)).where(model.company_id == company.id)
    )
    return (current or 1000) + 1


def _insert_numbered(document: Document, company: Company) -> None:
    # Two creations at the same moment may read the same max(number); the unique
    # constraint catches the loser, which retries with the next number.
    for _ in range(5):
        document.number = _next_number(type(document), company)
        try:
            with db.session.begin_nested():
                db.session.add(document)
                db.session.flush()
        except IntegrityError:
            continue
        return
    raise DomainError("Could not number the document; please try again.")


def _check_parties(*, company: Company, customer: Customer, job: Job | None) -> None:
    if customer.company_id != company.id:
        raise DomainError("Pick one of your own customers.", field="customer_id")
    if job is not None and (job.company_id != company.id or job.customer_id != customer.id):
        raise DomainError("Pick one of this customer's jobs.", field="job_id")


def create_estimate(
    *,
    company: Company,
    customer: Customer,
    job: Job | None = None,
    title: str = "",
    now: datetime | None = None,
) -> Estimate:
    """A draft estimate with one (unnamed) option and the company's default terms."""
    estimate = _draft(Estimate, company=company, customer=customer, job=job, title=title, now=now)
    db.session.add(EstimateOption(estimate_id=estimate.id, title="", position=0))
    db.session.flush()
    db.session.refresh(estimate)
    return estimate


def create_invoice(
    *,
    company: Company,
    customer: Customer,
    job: Job | None = None,
    title: str = "",
    now: datetime | None = None,
) -> Invoice:
    invoice = _draft(Invoice, company=company, customer=customer, job=job, title=title, now=now)
    db.session.refresh(invoice)
    return invoice


def _estimate_defaults(settings: BillingSettings, today: date) -> dict[str, object]:
    return {
        "terms": settings.estimate_terms,
        "valid_until": today + timedelta(days=settings.estimate_valid_days),
    }


def _invoice_defaults(settings: BillingSettings, today: date) -> dict[str, object]:
    return {
        "terms": settings.invoice_terms,
        "payment_instructions": settings.payment_instructions,
        "issued_on": today,
        "due_on": today + timedelta(days=settings.invoice_due_days),
    }


# What a new draft of each kind takes from the company's billing settings and today's date.
_KIND_DEFAULTS: dict[type, Callable[[BillingSettings, date], dict[str, object]]] = {
    Estimate: _estimate_defaults,
    Invoice: _invoice_defaults,
}


def _draft(
    model: type[D],
    *,
    company: Company,
    customer: Customer,
    job: Job | None,
    title: str,
    now: datetime | None,
) -> D:
    """A numbered draft of either kind, with the company's defaults for that kind."""
    _check_parties(company=company, customer=customer, job=job)
    settings = billing_settings_for(company)
    document = model(
        company_id=company.id,
        customer_id=customer.id,
        job_id=job.id if job else None,
        title=title.strip()[:120] or (job.description[:120] if job else ""),
        status=model.statuses.DRAFT,
        tax_rate_mpct=settings.default_tax_rate_mpct,
        public_token=_fresh_token(),
        **_KIND_DEFAULTS[model](settings, company_today(company, now)),
    )
    _insert_numbered(document, company)
    return document


def _fresh_token() -> str:
    """A token no document and no revoked link has ever had (a collision of 144 random
    bits will not happen, but the check costs one indexed lookup)."""
    while True:
        token = new_document_token()
        taken = (
            db.session.scalar(sa.select(Estimate.id).filter_by(public_token=token))
            or db.session.scalar(sa.select(Invoice.id).filter_by(public_token=token))
            or db.session.scalar(sa.select(RevokedLink.id).filter_by(token=token))
        )
        if not taken:
            return token


def _past_valid_until(estimate: Estimate, now: datetime | None) -> bool:
    return (
        estimate.valid_until is not None
        and company_today(estimate.company, now) > estimate.valid_until
    )


def estimate_is_expired(estimate: Estimate, now: datetime | None = None) -> bool:
    if estimate.status == EstimateStatus.EXPIRED:
        return True
    return estimate.status in EstimateStatus.OPEN and _past_valid_until(estimate, now)


def estimate_display_status(estimate: Estimate, now: datetime | None = None) -> str:
    """The status a person should see: an open estimate past its date is expired even
    before anyone tried to approve it (which is when the expiry is stored)."""
    return EstimateStatus.EXPIRED if estimate_is_expired(estimate, now) else estimate.status


def document_is_editable(document: Document) -> bool:
    return document.is_editable


def _ensure_editable(document: Document) -> None:
    if document_is_editable(document):
        return
    if isinstance(document, Estimate) and document.superseded_by_id is not None:
        raise Conflict(f"{document.label} was replaced by a revised estimate; edit that one.")
    if isinstance(document, Estimate):
        raise Conflict(
            f"{document.label} is {estimate_display_status(document).lower()} and can no "
            "longer be changed."
            + (" Use Revise to make a new version." if document.status != "approved" else "")
        )
    raise Conflict(
        f"{document.label} can no longer be changed: it is {document.status_label.lower()}"
        + (" and has payments recorded." if document.paid_cents else ".")
    )


def _bump_version(document: Document) -> None:
    old_version = document.version or 1
    document.version = old_version + 1
    if isinstance(document, Invoice):
        invoice_revised.send(document, old_version=old_version)


class CommonDetails(TypedDict):
    """The details an estimate and an invoice share (the edit form's common fields)."""

    title: str
    tax_rate_mpct: int
    discount_kind: str
    discount_value: int
    notes: str | None
    internal_notes: str | None
    terms: str | None


def update_estimate_details(
    *,
    estimate: Estimate,
    valid_until: date | None,
    now: datetime | None = None,
    **details: Unpack[CommonDetails],
) -> Estimate:
    _ensure_editable(estimate)
    if valid_until is not None and valid_until < company_today(estimate.company, now):
        raise DomainError("Valid until can't be in the past.", field="valid_until")
    _set_common_details(estimate, extra_visible={"valid_until": valid_until}, **details)
    if estimate.status == EstimateStatus.EXPIRED and not _past_valid_until(estimate, now):
        # A new date re-opens an expired estimate.
        if estimate.sent_at is None:
            estimate.status = EstimateStatus.DRAFT
        else:
            estimate.status = EstimateStatus.VIEWED if estimate.viewed_at else EstimateStatus.SENT
        estimate.expired_at = None
    db.session.flush()
    return estimate


def update_invoice_details(
    *,
    invoice: Invoice,
    payment_instructions: str | None,
    due_on: date | None,
    **details: Unpack[CommonDetails],
) -> Invoice:
    _ensure_editable(invoice)
    if due_on is not None and invoice.issued_on is not None and due_on < invoice.issued_on:
        raise DomainError("Due date can't be before the invoice date.", field="due_on")
    _set_common_details(
        invoice,
        extra_visible={
            "payment_instructions": _clean_text(payment_instructions),
            "due_on": due_on,
        },
        **details,
    )
    db.session.flush()
    return invoice


def _set_common_details(
    document: Document,
    *,
    title: str,
    tax_rate_mpct: int,
    discount_kind: str,
    discount_value: int,
    notes: str | None,
    internal_notes: str | None,
    terms: str | None,
    extra_visible: dict[str, object],
) -> None:
    if discount_kind not in DiscountKind.ALL:
        raise DomainError("Pick a discount type.", field="discount")
    if not 0 <= tax_rate_mpct <= MAX_TAX_MPCT:
        raise DomainError("Tax rate can't be more than 30%.", field="tax_rate")
    visible = {
        "title": title.strip()[:120],
        "tax_rate_mpct": tax_rate_mpct,
        "discount_kind": discount_kind,
        "discount_value": discount_value if discount_kind != DiscountKind.NONE else 0,
        "notes": _clean_text(notes),
        "terms": _clean_text(terms),
        **extra_visible,
    }
    changed = any(getattr(document, key) != value for key, value in visible.items())
    for key, value in visible.items():
        setattr(document, key, value)
    document.internal_notes = _clean_text(internal_notes)
    if changed:
        _bump_version(document)


def add_option(*, estimate: Estimate, title: str) -> EstimateOption:
    _ensure_editable(estimate)
    name = title.strip()[:120]
    if not name:
        raise DomainError("Name the option, e.g. “Repair” or “Replace”.", field="title")
    if len(estimate.options) == 1 and not estimate.options[0].title:
        # The first option was unnamed while it was the only one; now it needs a name.
        estimate.options[0].title = "Option 1"
    option = EstimateOption(
        estimate_id=estimate.id,
        title=name,
        position=max((o.position for o in estimate.options), default=-1) + 1,
    )
    db.session.add(option)
    _bump_version(estimate)
    db.session.flush()
    db.session.refresh(estimate)
    return option


def rename_option(*, option: EstimateOption, title: str) -> EstimateOption:
    estimate = option.estimate
    _ensure_editable(estimate)
    name = title.strip()[:120]
    if not name and len(estimate.options) > 1:
        raise DomainError("Name the option so the customer can tell them apart.", field="title")
    if option.title != name:
        option.title = name
        _bump_version(estimate)
    db.session.flush()
    return option


def remove_option(*, option: EstimateOption) -> None:
    estimate = option.estimate
    _ensure_editable(estimate)
    if len(estimate.options) <= 1:
        raise DomainError("An estimate needs at least one option.", field="option")
    estimate.options.remove(option)
    _bump_version(estimate)
    db.session.flush()


def line_item_document(item: LineItem) -> Document:
    return item.option.estimate if item.option is not None else item.invoice  # type: ignore[return-value]


def add_line_item(
    *,
    document: Document,
    option: EstimateOption | None = None,
    description: str,
    quantity_milli: int,
    unit_price_cents: int,
    taxable: bool = True,
) -> LineItem:
    _ensure_editable(document)
    if isinstance(document, Estimate):
        option = option or document.options[0]
        if option.estimate_id != document.id:
            raise DomainError("That option belongs to another estimate.", field="option")
        siblings = option.items
    else:
        option = None
        siblings = document.items
    item = LineItem(
        option_id=option.id if option else None,
        invoice_id=document.id if isinstance(document, Invoice) else None,
        position=max((i.position for i in siblings), default=-1) + 1,
    )
    _set_item_fields(
        item,
        description=description,
        quantity_milli=quantity_milli,
        unit_price_cents=unit_price_cents,
        taxable=taxable,
    )
    db.session.add(item)
    _bump_version(document)
    db.session.flush()
    db.session.refresh(option or document)
    return item


def update_line_item(
    *,
    item: LineItem,
    description: str,
    quantity_milli: int,
    unit_price_cents: int,
    taxable: bool,
) -> LineItem:
    document = line_item_document(item)
    _ensure_editable(document)
    before = (item.description, item.quantity_milli, item.unit_price_cents, item.taxable)
    _set_item_fields(
        item,
        description=description,
        quantity_milli=quantity_milli,
        unit_price_cents=unit_price_cents,
        taxable=taxable,
    )
    if before != (item.description, item.quantity_milli, item.unit_price_cents, item.taxable):
        _bump_version(document)
    db.session.flush()
    return item


def remove_line_item(*, item: LineItem) -> None:
    document = line_item_document(item)
    _ensure_editable(document)
    owner = item.option if item.option is not None else item.invoice
    owner.items.remove(item)  # type: ignore[union-attr]
    _bump_version(document)
    db.session.flush()


def _set_item_fields(
    item: LineItem, *, description: str, quantity_milli: int, unit_price_cents: int, taxable: bool
) -> None:
    text = " ".join(description.split())
    if not text:
        raise DomainError("Describe the item.", field="description")
    if len(text) > 500:
        raise DomainError("Description: 500 characters at most.", field="description")
    if not 0 < quantity_milli <= MAX_QUANTITY_MILLI:
        raise DomainError("Quantity must be more than zero.", field="quantity")
    if not 0 <= unit_price_cents <= MAX_CENTS:
        raise DomainError("Unit price can't be negative.", field="unit_price")
    item.description = text
    item.quantity_milli = quantity_milli
    item.unit_price_cents = unit_price_cents
    item.taxable = taxable


def revise_estimate(*, estimate: Estimate) -> Estimate:
    """A new draft copy of an estimate that was not approved; the old one is marked
    superseded, so its link answers 410 and the customer is pointed to the new text."""
    if estimate.superseded_by_id is not None:
        raise Conflict(f"{estimate.label} was already revised.")
    if estimate.status == EstimateStatus.APPROVED:
        raise Conflict(f"{estimate.label} is approved; convert it instead of revising it.")
    copy = create_estimate(
        company=estimate.company, customer=estimate.customer, job=estimate.job, title=estimate.title
    )
    for key in ("tax_rate_mpct", "discount_kind", "discount_value", "notes", "terms"):
        setattr(copy, key, getattr(estimate, key))
    copy.internal_notes = estimate.internal_notes
    first = copy.options[0]
    for index, option in enumerate(estimate.options):
        target = first if index == 0 else EstimateOption(estimate_id=copy.id, position=index)
        target.title = option.title
        if index:
            db.session.add(target)
            db.session.flush()
        for item in option.items:
            db.session.add(_copy_item(item, option_id=target.id))
    estimate.superseded_by_id = copy.id
    db.session.flush()
    db.session.refresh(copy)
    return copy


def _copy_item(item: LineItem, **owner: int) -> LineItem:
    return LineItem(
        position=item.position,
        description=item.description,
        quantity_milli=item.quantity_milli,
        unit_price_cents=item.unit_price_cents,
        taxable=item.taxable,
        **owner,
    )

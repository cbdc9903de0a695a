"""Estimates and invoices: totals, editing, sending by text, the customer's decisions,
payments and conversions.

## Totals (the one rule, used on screen, in the text and in the PDF)
All amounts are integer cents; every division rounds **half up** (halves away from zero)
through `round_half_up`, nothing else rounds.

1. line amount   = round(quantity_milli x unit_price_cents / 1000)
2. subtotal      = sum of line amounts; taxable subtotal = sum over taxable lines
3. discount      = a fixed amount (capped at the subtotal), or round(subtotal x bp / 10000)
4. the discount is taken off before tax, spread over taxable and non-taxable lines in
   proportion: taxable discount = round(discount x taxable subtotal / subtotal)
5. tax           = round((taxable subtotal - taxable discount) x tax_rate_mpct / 100000)
6. total         = subtotal - discount + tax

## State changes
Every status change is a conditional UPDATE (`... WHERE status IN (allowed)`), so two
requests racing (an approval and a decline, two approvals, a "viewed" GET and an
approval) cannot overwrite each other: exactly one wins and the other sees the result.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

import sqlalchemy as sa
import sqlalchemy.orm as so
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.formats import day_text, money
from app.models import (
    BillingSettings,
    Company,
    Customer,
    DiscountKind,
    DocumentText,
    Estimate,
    EstimateApproval,
    EstimateOption,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    Job,
    LineItem,
    Message,
    MessageStatus,
    OptionStatus,
    Payment,
    PaymentMethod,
    RevokedLink,
    User,
    utcnow,
)
from app.models.billing import DocumentType, LinkRevocation, new_document_token
from app.services.conversations import add_notice, conversation_for
from app.services.errors import Conflict, DomainError
from app.services.jobs import create_job
from app.services.message_templates import get_template, render_text
from app.services.phones import format_phone
from app.services.routing import apply_routing
from app.services.texting import company_number, queue_text
from app.services.uniqueness import insert_or_get
from app.urls import public_path_for, public_url_for

Document = Estimate | Invoice

MAX_CENTS = 100_000_000_00  # $100 million: anything above is a typo
MAX_QUANTITY_MILLI = 1_000_000_000  # one million units
MAX_TAX_MPCT = 30_000  # 30 %
# Public tokens are URL-safe base64 of PUBLIC_TOKEN_BYTES; anything else is never looked up.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")
SEND_KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,64}")


# --------------------------------------------------------------------------- arithmetic


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest integer, halves away from zero.
    Exact (integers only): 0.5 -> 1, 1.5 -> 2, 2.5 -> 3, -0.5 -> -1."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    quotient, remainder = divmod(abs(numerator), denominator)
    if 2 * remainder >= denominator:
        quotient += 1
    return -quotient if numerator < 0 else quotient


def line_amount_cents(*, quantity_milli: int, unit_price_cents: int) -> int:
    return round_half_up(quantity_milli * unit_price_cents, 1000)


class PricedLine(Protocol):
    quantity_milli: int
    unit_price_cents: int
    taxable: bool


@dataclass(frozen=True)
class Totals:
    line_amounts: tuple[int, ...]
    subtotal_cents: int
    taxable_subtotal_cents: int
    discount_cents: int
    taxable_discount_cents: int
    tax_cents: int
    total_cents: int
    tax_rate_mpct: int


def compute_totals(
    *,
    items: Sequence[PricedLine],
    tax_rate_mpct: int,
    discount_kind: str = DiscountKind.NONE,
    discount_value: int = 0,
) -> Totals:
    """The totals of a list of lines; see the module docstring for the rule."""
    amounts = tuple(
        line_amount_cents(quantity_milli=i.quantity_milli, unit_price_cents=i.unit_price_cents)
        for i in items
    )
    subtotal = sum(amounts)
    taxable = sum(a for item, a in zip(items, amounts, strict=True) if item.taxable)
    if discount_kind == DiscountKind.AMOUNT:
        discount = min(max(discount_value, 0), subtotal)
    elif discount_kind == DiscountKind.PERCENT:
        discount = round_half_up(subtotal * min(max(discount_value, 0), 10_000), 10_000)
    else:
        discount = 0
    taxable_discount = round_half_up(discount * taxable, subtotal) if subtotal else 0
    tax = round_half_up((taxable - taxable_discount) * tax_rate_mpct, 100_000)
    return Totals(
        line_amounts=amounts,
        subtotal_cents=subtotal,
        taxable_subtotal_cents=taxable,
        discount_cents=discount,
        taxable_discount_cents=taxable_discount,
        tax_cents=tax,
        total_cents=subtotal - discount + tax,
        tax_rate_mpct=tax_rate_mpct,
    )


def option_totals(option: EstimateOption) -> Totals:
    estimate = option.estimate
    return compute_totals(
        items=option.items,
        tax_rate_mpct=estimate.tax_rate_mpct,
        discount_kind=estimate.discount_kind,
        discount_value=estimate.discount_value,
    )


def invoice_totals(invoice: Invoice) -> Totals:
    return compute_totals(
        items=invoice.items,
        tax_rate_mpct=invoice.tax_rate_mpct,
        discount_kind=invoice.discount_kind,
        discount_value=invoice.discount_value,
    )


def invoice_balance_cents(invoice: Invoice) -> int:
    return max(invoice_totals(invoice).total_cents - invoice.paid_cents, 0)


# --------------------------------------------------------------------- parsing & display

_MONEY = re.compile(r"(\d+)(?:\.(\d{1,2}))?")
_DECIMAL3 = re.compile(r"(\d+)(?:\.(\d{1,3}))?")


def parse_money(text: str | None, *, field: str, label: str = "Amount") -> int:
    """ "$1,234.5" -> 123450 cents."""
    raw = (text or "").strip().replace("$", "").replace(",", "").replace(" ", "")
    match = _MONEY.fullmatch(raw)
    if not match:
        raise DomainError(f"{label}: enter an amount like 125 or 125.50.", field=field)
    cents = int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))
    if cents > MAX_CENTS:
        raise DomainError(f"{label} is too large.", field=field)
    return cents


def _parse_thousandths(text: str, *, field: str, message: str) -> int:
    raw = text.strip().replace(",", "")
    match = _DECIMAL3.fullmatch(raw)
    if not match:
        raise DomainError(message, field=field)
    return int(match.group(1)) * 1000 + int((match.group(2) or "0").ljust(3, "0"))


def parse_quantity(text: str | None, *, field: str = "quantity") -> int:
    """ "1.5" -> 1500 (thousandths)."""
    milli = _parse_thousandths(
        text or "", field=field, message="Quantity: enter a number like 1, 2.5 or 0.25."
    )
    if milli <= 0:
        raise DomainError("Quantity must be more than zero.", field=field)
    if milli > MAX_QUANTITY_MILLI:
        raise DomainError("Quantity is too large.", field=field)
    return milli


def parse_tax_rate(text: str | None, *, field: str = "tax_rate") -> int:
    """ "8.25" or "8.25%" -> 8250 (thousandths of a percent)."""
    raw = (text or "").strip().removesuffix("%").strip()
    if not raw:
        return 0
    mpct = _parse_thousandths(
        raw, field=field, message="Tax rate: enter a percent like 8.25 (up to 3 decimals)."
    )
    if mpct > MAX_TAX_MPCT:
        raise DomainError("Tax rate can't be more than 30%.", field=field)
    return mpct


def parse_discount(text: str | None, *, field: str = "discount") -> tuple[str, int]:
    """ "" -> no discount; "10%" -> 10 percent (1000 bp); "25" or "$25" -> $25.00 off."""
    raw = (text or "").strip()
    if not raw or raw in {"0", "0%", "$0"}:
        return DiscountKind.NONE, 0
    if raw.endswith("%"):
        mpct = _parse_thousandths(
            raw[:-1].strip(), field=field, message="Discount: enter 10% or an amount like 25."
        )
        if mpct % 10:
            raise DomainError("Discount: use at most 2 decimals in a percent.", field=field)
        bp = mpct // 10
        if bp > 10_000:
            raise DomainError("Discount can't be more than 100%.", field=field)
        return DiscountKind.PERCENT, bp
    return DiscountKind.AMOUNT, parse_money(raw, field=field, label="Discount")


def format_quantity(milli: int) -> str:
    whole, rest = divmod(milli, 1000)
    return f"{whole:,}" if not rest else f"{whole:,}.{rest:03d}".rstrip("0")


def format_tax_rate(mpct: int) -> str:
    whole, rest = divmod(mpct, 1000)
    return f"{whole}%" if not rest else f"{whole}.{rest:03d}".rstrip("0") + "%"


def format_discount(kind: str, value: int) -> str:
    if kind == DiscountKind.PERCENT:
        whole, rest = divmod(value, 100)
        return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"
    if kind == DiscountKind.AMOUNT:
        return money(value)
    return ""


def format_date(value: date | None) -> str:
    return day_text(value)


# ------------------------------------------------------------------------------ settings


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


# ------------------------------------------------------------------------------ creating


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
    _check_parties(company=company, customer=customer, job=job)
    settings = billing_settings_for(company)
    estimate = Estimate(
        company_id=company.id,
        customer_id=customer.id,
        job_id=job.id if job else None,
        title=title.strip()[:120] or (job.description[:120] if job else ""),
        status=EstimateStatus.DRAFT,
        tax_rate_mpct=settings.default_tax_rate_mpct,
        terms=settings.estimate_terms,
        valid_until=company_today(company, now) + timedelta(days=settings.estimate_valid_days),
        public_token=_fresh_token(),
    )
    _insert_numbered(estimate, company)
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
    _check_parties(company=company, customer=customer, job=job)
    settings = billing_settings_for(company)
    today = company_today(company, now)
    invoice = Invoice(
        company_id=company.id,
        customer_id=customer.id,
        job_id=job.id if job else None,
        title=title.strip()[:120] or (job.description[:120] if job else ""),
        status=InvoiceStatus.DRAFT,
        tax_rate_mpct=settings.default_tax_rate_mpct,
        terms=settings.invoice_terms,
        payment_instructions=settings.payment_instructions,
        issued_on=today,
        due_on=today + timedelta(days=settings.invoice_due_days),
        public_token=_fresh_token(),
    )
    _insert_numbered(invoice, company)
    db.session.refresh(invoice)
    return invoice


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


# ------------------------------------------------------------------------------- editing


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


def estimate_is_editable(estimate: Estimate) -> bool:
    return estimate.is_editable


def invoice_is_editable(invoice: Invoice) -> bool:
    return invoice.is_editable


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
    document.version = (document.version or 1) + 1


def update_estimate_details(
    *,
    estimate: Estimate,
    title: str,
    tax_rate_mpct: int,
    discount_kind: str,
    discount_value: int,
    notes: str | None,
    internal_notes: str | None,
    terms: str | None,
    valid_until: date | None,
    now: datetime | None = None,
) -> Estimate:
    _ensure_editable(estimate)
    if valid_until is not None and valid_until < company_today(estimate.company, now):
        raise DomainError("Valid until can't be in the past.", field="valid_until")
    _set_common_details(
        estimate,
        title=title,
        tax_rate_mpct=tax_rate_mpct,
        discount_kind=discount_kind,
        discount_value=discount_value,
        notes=notes,
        internal_notes=internal_notes,
        terms=terms,
        extra_visible={"valid_until": valid_until},
    )
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
    title: str,
    tax_rate_mpct: int,
    discount_kind: str,
    discount_value: int,
    notes: str | None,
    internal_notes: str | None,
    terms: str | None,
    payment_instructions: str | None,
    due_on: date | None,
) -> Invoice:
    _ensure_editable(invoice)
    if due_on is not None and invoice.issued_on is not None and due_on < invoice.issued_on:
        raise DomainError("Due date can't be before the invoice date.", field="due_on")
    _set_common_details(
        invoice,
        title=title,
        tax_rate_mpct=tax_rate_mpct,
        discount_kind=discount_kind,
        discount_value=discount_value,
        notes=notes,
        internal_notes=internal_notes,
        terms=terms,
        extra_visible={
            "payment_instructions": _clean_text(payment_instructions),
            "due_on": due_on,
        },
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


# -------------------------------------------------------------------------- public links


def public_path(document: Document) -> str:
    return public_path_for(document.public_endpoint, token=document.public_token)


def public_url(document: Document) -> str:
    return public_url_for(document.public_endpoint, token=document.public_token)


def revoke_link(*, document: Document, reason: str = LinkRevocation.REVOKED) -> str:
    """Retire the document's link (it answers 410 from now on) and issue a new one."""
    db.session.add(
        RevokedLink(
            company_id=document.company_id,
            document_type=document.kind,
            document_id=document.id,
            token=document.public_token,
            reason=reason,
        )
    )
    document.public_token = _fresh_token()
    db.session.flush()
    return document.public_token


@dataclass(frozen=True)
class PublicLookup:
    """What a public token leads to: the document, and why it is gone if it is."""

    document: Document | None
    gone: str | None = None  # "void", "superseded", "revoked"; None while valid


def find_public_document(*, kind: str, token: str) -> PublicLookup:
    """The document behind a public token, compared exactly (case-sensitive).

    An unknown token gives PublicLookup(None) (404); a revoked token, a void invoice or a
    superseded estimate give the document with `gone` set (410, with the company's
    contact details)."""
    if not TOKEN_SHAPE.fullmatch(token or ""):
        return PublicLookup(None)
    model: type[Estimate] | type[Invoice] = Estimate if kind == DocumentType.ESTIMATE else Invoice
    document = db.session.scalar(sa.select(model).filter_by(public_token=token))
    # Databases may compare case-insensitively under some collations; the final word is an
    # exact, constant-time comparison.
    if document is not None and secrets.compare_digest(document.public_token, token):
        if isinstance(document, Invoice) and document.status == InvoiceStatus.VOID:
            return PublicLookup(document, "void")
        if isinstance(document, Estimate) and document.superseded_by_id is not None:
            return PublicLookup(document, LinkRevocation.SUPERSEDED)
        return PublicLookup(document)
    revoked = db.session.scalar(sa.select(RevokedLink).filter_by(token=token, document_type=kind))
    if revoked is None or not secrets.compare_digest(revoked.token, token):
        return PublicLookup(None)
    return PublicLookup(db.session.get(model, revoked.document_id), revoked.reason)


def mark_viewed(*, document: Document, now: datetime | None = None) -> bool:
    """Record that the customer opened the page: the first view time, and sent -> viewed.
    Never touches any other status (an approved estimate stays approved)."""
    now = now or utcnow()
    model = type(document)
    changed = False
    if document.viewed_at is None:
        result = db.session.execute(
            sa.update(model)
            .where(model.id == document.id, model.viewed_at.is_(None))
            .values(viewed_at=now)
            .execution_options(synchronize_session=False)
        )
        changed = bool(result.rowcount)
    result = db.session.execute(
        sa.update(model)
        .where(model.id == document.id, model.status == model.statuses.SENT)
        .values(status=model.statuses.VIEWED)
        .execution_options(synchronize_session=False)
    )
    changed = changed or bool(result.rowcount)
    if changed:
        db.session.refresh(document)
    return changed


# ------------------------------------------------------------------------------- sending


def document_amount_text(document: Document) -> str:
    """The amount a text quotes: the total; for an estimate with options, the range."""
    if isinstance(document, Invoice):
        return money(invoice_balance_cents(document) or invoice_totals(document).total_cents)
    if document.approved_option is not None:
        return money(option_totals(document.approved_option).total_cents)
    totals = sorted({option_totals(o).total_cents for o in document.options if o.items})
    if not totals:
        return money(0)
    if len(totals) == 1:
        return money(totals[0])
    # "for $259.80 or $1,622.38" reads well after the templates' "for"; plain ASCII keeps
    # the text in GSM-7 (an en dash would make it a UCS-2 text of more segments).
    if len(totals) == 2:
        return f"{money(totals[0])} or {money(totals[1])}"
    return f"{money(totals[0])} to {money(totals[-1])}"


def sms_values(document: Document) -> dict[str, str]:
    company = document.company
    customer = document.customer
    number = company_number(company)
    link = public_url(document)
    due = document.valid_until if isinstance(document, Estimate) else document.due_on
    return {
        "customer_first_name": customer.first_name,
        "customer_name": customer.name,
        "company_name": company.name,
        "estimate_link": link if isinstance(document, Estimate) else "",
        "invoice_link": link if isinstance(document, Invoice) else "",
        "amount": document_amount_text(document),
        "due_date": day_text(due, "%b %-d"),
        "document_number": str(document.number),
        "business_phone": format_phone(number.e164 if number else company.business_phone),
    }


def sms_body(document: Document) -> str:
    template = get_template(company=document.company, kind=document.message_kind)
    body = render_text(body=template.body, values=sms_values(document))
    link = public_url(document)
    if link not in body:
        # A template edited without its link placeholder would send a text the customer
        # can do nothing with; the link is the point of the text.
        body = f"{body.rstrip()} {link}"
    return body


def new_send_key() -> str:
    """A one-time key for a send form: a double tap on the same form sends one text."""
    return secrets.token_urlsafe(12)


def send_document(*, document: Document, actor: User | None, send_key: str) -> Message:
    """Text the document's link to the customer (one click; a resend is another click).

    The same `send_key` (one rendered form) queues at most one text. Raises
    TextingUnavailable when the company has no number or the customer opted out."""
    if not SEND_KEY_SHAPE.fullmatch(send_key or ""):
        raise DomainError("The form was stale. Reload the page and try again.")
    if isinstance(document, Estimate):
        if document.superseded_by_id is not None:
            raise Conflict(f"{document.label} was replaced by a revised estimate.")
        if estimate_is_expired(document):
            raise Conflict(f"{document.label} has expired. Change its Valid until date first.")
        if document.status == EstimateStatus.DECLINED:
            raise Conflict(f"{document.label} was declined. Use Revise to make a new version.")
        if not any(option.items for option in document.options):
            raise DomainError("Add at least one line item before sending.", field="items")
    else:
        if document.status == InvoiceStatus.VOID:
            raise Conflict(f"{document.label} is void.")
        if not document.items:
            raise DomainError("Add at least one line item before sending.", field="items")
    dedupe_key = f"{document.kind}:{document.id}:send:{send_key}"
    message = queue_text(
        company=document.company,
        to_phone=document.customer.mobile_phone,
        body=sms_body(document),
        kind=document.message_kind,
        customer=document.customer,
        job=document.job,
        author=actor,
        dedupe_key=dedupe_key,
        extra={"document": document.kind, "document_id": document.id},
    )
    db.session.flush()
    already = db.session.scalar(sa.select(DocumentText.id).filter_by(message_id=message.id))
    if already is None:
        db.session.add(
            DocumentText(
                company_id=document.company_id,
                estimate_id=document.id if isinstance(document, Estimate) else None,
                invoice_id=document.id if isinstance(document, Invoice) else None,
                message_id=message.id,
            )
        )
    model = type(document)
    now = utcnow()
    db.session.execute(
        sa.update(model)
        .where(model.id == document.id, model.status == model.statuses.DRAFT)
        .values(status=model.statuses.SENT, sent_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    db.session.refresh(document)
    return message


def document_texts(document: Document) -> list[Message]:
    column = DocumentText.estimate_id if isinstance(document, Estimate) else DocumentText.invoice_id
    return list(
        db.session.scalars(
            sa.select(Message)
            .join(DocumentText, DocumentText.message_id == Message.id)
            .where(column == document.id)
            .order_by(Message.created_at, Message.id)
        )
    )


# ------------------------------------------------------------------- customer decisions


def _notify_office(
    *, document: Document, body: str, dedupe_key: str | None = None, now: datetime | None = None
) -> Message:
    """A notice in the company's inbox, in the customer's conversation, routed like an
    inbound text (so the tech on an in-progress job or the Point of Contact sees it)."""
    if dedupe_key is not None:
        existing = db.session.scalar(sa.select(Message).filter_by(dedupe_key=dedupe_key))
        if existing is not None:
            return existing
    customer = document.customer
    conversation = conversation_for(
        company=document.company, phone=customer.mobile_phone, customer=customer
    )
    notice = add_notice(
        conversation=conversation,
        body=body,
        extra={"document": document.kind, "document_id": document.id},
        job_id=document.job_id,
        dedupe_key=dedupe_key,
        now=now,
    )
    apply_routing(message=notice)
    return notice


def _expire_if_due(estimate: Estimate, now: datetime) -> None:
    if estimate.status in EstimateStatus.OPEN and estimate_is_expired(estimate, now):
        db.session.execute(
            sa.update(Estimate)
            .where(Estimate.id == estimate.id, Estimate.status.in_(EstimateStatus.OPEN))
            .values(status=EstimateStatus.EXPIRED, expired_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(estimate)


def _refuse_closed(estimate: Estimate, *, action: str) -> None:
    company = estimate.company
    if estimate.superseded_by_id is not None:
        raise Conflict(f"This estimate was replaced by a newer one. Please contact {company.name}.")
    if estimate.status == EstimateStatus.DECLINED:
        raise Conflict(f"This estimate was declined, so it can't be {action}.")
    if estimate.status == EstimateStatus.EXPIRED:
        until = format_date(estimate.valid_until)
        raise Conflict(
            f"This estimate expired{' on ' + until if until else ''}. "
            f"Please contact {company.name} for an updated one."
        )
    if estimate.status == EstimateStatus.APPROVED:
        raise Conflict(f"This estimate was already approved, so it can't be {action}.")


def check_approval(
    *,
    estimate: Estimate,
    option_id: int | None,
    signed_name: str,
    accepted_terms: bool,
    version: int,
    now: datetime | None = None,
) -> tuple[EstimateOption, str]:
    """Everything an approval needs, checked without approving: the chosen option and the
    cleaned signature. The public page runs it before asking the customer to confirm."""
    _expire_if_due(estimate, now or utcnow())
    _refuse_closed(estimate, action="approved")
    name = " ".join((signed_name or "").split())
    if len(name) < 2:
        raise DomainError("Type your full name to sign.", field="signed_name")
    if len(name) > 120:
        raise DomainError("Your name: 120 characters at most.", field="signed_name")
    if not accepted_terms:
        raise DomainError("Please confirm that you accept the terms.", field="accept_terms")
    priced = [o for o in estimate.options if o.items]
    if option_id is None and len(priced) == 1:
        option = priced[0]
    else:
        option = next((o for o in priced if o.id == option_id), None)
    if option is None:
        raise DomainError("Choose the option you approve.", field="option_id")
    if version != estimate.version:
        raise Conflict(
            "This estimate was updated since you opened it. Please review it again, then approve."
        )
    return option, name


def approve_estimate(
    *,
    estimate: Estimate,
    option_id: int | None,
    signed_name: str,
    accepted_terms: bool,
    version: int,
    ip_address: str | None,
    user_agent: str | None,
    now: datetime | None = None,
) -> EstimateApproval:
    """The customer approves one option with a typed signature.

    Repeating an approval changes nothing and returns the first one. After a decline or
    the expiry date no approval is possible. `version` is the version the customer was
    shown: if the office changed the estimate since, the customer must look again."""
    now = now or utcnow()
    if estimate.status == EstimateStatus.APPROVED and estimate.approval is not None:
        return estimate.approval
    option, name = check_approval(
        estimate=estimate,
        option_id=option_id,
        signed_name=signed_name,
        accepted_terms=accepted_terms,
        version=version,
        now=now,
    )
    terms = estimate.terms or ""
    total = option_totals(option).total_cents
    won = db.session.execute(
        sa.update(Estimate)
        .where(
            Estimate.id == estimate.id,
            Estimate.status.in_(EstimateStatus.OPEN),
            Estimate.version == version,
        )
        .values(status=EstimateStatus.APPROVED, approved_at=now, approved_option_id=option.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(estimate)
    if not won:
        if estimate.status == EstimateStatus.APPROVED and estimate.approval is not None:
            return estimate.approval
        _refuse_closed(estimate, action="approved")
        raise Conflict("This estimate was updated since you opened it. Please review it again.")
    approval = EstimateApproval(
        estimate_id=estimate.id,
        option_id=option.id,
        option_title=option.title,
        signed_name=name,
        approved_at=now,
        ip_address=(ip_address or "")[:64] or None,
        user_agent=(user_agent or "")[:512] or None,
        document_version=version,
        total_cents=total,
        terms_snapshot=terms,
    )
    db.session.add(approval)
    for other in estimate.options:
        other.status = OptionStatus.APPROVED if other.id == option.id else OptionStatus.DECLINED
    db.session.flush()
    choice = f" ({option.title})" if len(estimate.options) > 1 and option.title else ""
    _notify_office(
        document=estimate,
        body=f"{estimate.label}{choice} for {money(total)} approved by {name}.",
        now=now,
    )
    db.session.refresh(estimate)
    return approval


def decline_estimate(
    *,
    estimate: Estimate,
    reason: str | None,
    now: datetime | None = None,
) -> bool:
    """The customer declines. Returns False (and changes nothing) if already declined."""
    now = now or utcnow()
    if estimate.status == EstimateStatus.DECLINED:
        return False
    _expire_if_due(estimate, now)
    _refuse_closed(estimate, action="declined")
    why = _clean_text(reason)
    if why and len(why) > 1000:
        raise DomainError("Reason: 1000 characters at most.", field="reason")
    won = db.session.execute(
        sa.update(Estimate)
        .where(Estimate.id == estimate.id, Estimate.status.in_(EstimateStatus.OPEN))
        .values(status=EstimateStatus.DECLINED, declined_at=now, decline_reason=why)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(estimate)
    if not won:
        if estimate.status == EstimateStatus.DECLINED:
            return False
        _refuse_closed(estimate, action="declined")
    for option in estimate.options:
        option.status = OptionStatus.DECLINED
    _notify_office(
        document=estimate,
        body=f"{estimate.label} declined by {estimate.customer.name}."
        + (f" Reason: “{why}”" if why else ""),
        now=now,
    )
    return True


def request_estimate_changes(
    *, estimate: Estimate, message: str, request_key: str, now: datetime | None = None
) -> Message:
    """The customer asks for changes: a notice in the company's inbox. The same form
    (request_key) submitted twice makes one notice."""
    now = now or utcnow()
    _refuse_closed(estimate, action="changed")
    text = _clean_text(message)
    if not text:
        raise DomainError("Tell us what you would like changed.", field="message")
    if len(text) > 1000:
        raise DomainError("Please keep it under 1000 characters.", field="message")
    if not SEND_KEY_SHAPE.fullmatch(request_key or ""):
        raise DomainError("The form was stale. Reload the page and try again.")
    notice = _notify_office(
        document=estimate,
        body=f"{estimate.customer.name} asked for changes to {estimate.label}: “{text}”",
        dedupe_key=f"estimate:{estimate.id}:changes:{request_key}",
        now=now,
    )
    estimate.changes_requested_at = now
    db.session.flush()
    return notice


# ----------------------------------------------------------------------------- converting


def convert_estimate_to_invoice(*, estimate: Estimate) -> Invoice:
    """An invoice with the approved option's lines (one click; a second click returns the
    same invoice)."""
    if estimate.converted_invoice_id is not None:
        return db.session.get(Invoice, estimate.converted_invoice_id)  # type: ignore[return-value]
    if estimate.status != EstimateStatus.APPROVED or estimate.approved_option is None:
        raise Conflict("Only an approved estimate can be turned into an invoice.")
    savepoint = db.session.begin_nested()
    invoice = create_invoice(
        company=estimate.company,
        customer=estimate.customer,
        job=estimate.converted_job or estimate.job,
        title=estimate.title,
    )
    invoice.estimate_id = estimate.id
    invoice.tax_rate_mpct = estimate.tax_rate_mpct
    invoice.discount_kind = estimate.discount_kind
    invoice.discount_value = estimate.discount_value
    invoice.notes = estimate.notes
    for item in estimate.approved_option.items:
        db.session.add(_copy_item(item, invoice_id=invoice.id))
    db.session.flush()
    won = db.session.execute(
        sa.update(Estimate)
        .where(Estimate.id == estimate.id, Estimate.converted_invoice_id.is_(None))
        .values(converted_invoice_id=invoice.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        savepoint.rollback()
        db.session.refresh(estimate)
        return db.session.get(Invoice, estimate.converted_invoice_id)  # type: ignore[return-value]
    savepoint.commit()
    db.session.refresh(estimate)
    db.session.refresh(invoice)
    return invoice


def convert_estimate_to_job(
    *,
    estimate: Estimate,
    scheduled_start: datetime,
    scheduled_end: datetime,
    techs: Sequence[User] = (),
) -> Job:
    """A job for the approved work (one click; a second click returns the same job)."""
    if estimate.converted_job_id is not None:
        return db.session.get(Job, estimate.converted_job_id)  # type: ignore[return-value]
    if estimate.status != EstimateStatus.APPROVED or estimate.approved_option is None:
        raise Conflict("Only an approved estimate can be turned into a job.")
    option = estimate.approved_option
    description = estimate.title or option.title or estimate.label
    savepoint = db.session.begin_nested()
    job = create_job(
        company=estimate.company,
        customer=estimate.customer,
        description=description[:255],
        scheduled_start=scheduled_start,
        scheduled_end=scheduled_end,
        notes=f"From {estimate.label}" + (f" ({option.title})" if option.title else ""),
        techs=techs,
    )
    won = db.session.execute(
        sa.update(Estimate)
        .where(Estimate.id == estimate.id, Estimate.converted_job_id.is_(None))
        .values(converted_job_id=job.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        savepoint.rollback()
        db.session.refresh(estimate)
        return db.session.get(Job, estimate.converted_job_id)  # type: ignore[return-value]
    savepoint.commit()
    if estimate.converted_invoice_id is not None:
        invoice = db.session.get(Invoice, estimate.converted_invoice_id)
        if invoice is not None and invoice.job_id is None:
            invoice.job_id = job.id
    db.session.flush()
    db.session.refresh(estimate)
    return job


# ------------------------------------------------------------------------------ payments


def record_payment(
    *,
    invoice: Invoice,
    amount_cents: int,
    method: str,
    received_at: datetime,
    note: str | None = None,
    actor: User | None = None,
) -> Payment:
    """Record money received. Partial payments sum up; the invoice is paid when they reach
    its total. More than the balance due is refused (a typo, usually)."""
    if invoice.status == InvoiceStatus.VOID:
        raise Conflict(f"{invoice.label} is void; no payment can be recorded.")
    if method not in PaymentMethod.ALL:
        raise DomainError("Pick how it was paid.", field="method")
    if amount_cents <= 0:
        raise DomainError("Amount must be more than zero.", field="amount")
    total = invoice_totals(invoice).total_cents
    balance = total - invoice.paid_cents
    if balance <= 0:
        raise Conflict(f"{invoice.label} is already paid in full.")
    if amount_cents > balance:
        raise DomainError(f"That is more than the balance due ({money(balance)}).", field="amount")
    # Race-safe: two payments recorded at once both land only if together they fit.
    won = db.session.execute(
        sa.update(Invoice)
        .where(
            Invoice.id == invoice.id,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.paid_cents + amount_cents <= total,
        )
        .values(paid_cents=Invoice.paid_cents + amount_cents)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        db.session.refresh(invoice)
        raise Conflict("Another payment was recorded at the same time. Check the balance.")
    payment = Payment(
        company_id=invoice.company_id,
        invoice_id=invoice.id,
        amount_cents=amount_cents,
        method=method,
        received_at=received_at,
        note=(note or "").strip()[:255] or None,
        recorded_by_id=actor.id if actor else None,
    )
    db.session.add(payment)
    db.session.flush()
    db.session.refresh(invoice)
    if invoice.paid_cents >= total:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = invoice.paid_at or received_at
    else:
        invoice.status = InvoiceStatus.PARTIALLY_PAID
    db.session.flush()
    return payment


def void_invoice(*, invoice: Invoice, reason: str | None = None) -> bool:
    """Void an invoice: its link answers 410 from now on. Returns False if already void."""
    if invoice.status == InvoiceStatus.VOID:
        return False
    if invoice.paid_cents > 0:
        raise Conflict(
            f"{invoice.label} has payments recorded, so it can't be voided. "
            "Refund the customer outside the app first."
        )
    won = db.session.execute(
        sa.update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.status != InvoiceStatus.VOID)
        .where(Invoice.paid_cents == 0)
        .values(status=InvoiceStatus.VOID, voided_at=utcnow(), void_reason=_clean_text(reason))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(invoice)
    return bool(won)


# ------------------------------------------------------------------------------ timeline


@dataclass(frozen=True)
class TimelineStep:
    label: str
    at: datetime | None
    state: str  # "done", "todo", "failed"
    detail: str = ""


def document_progress(document: Document) -> list[TimelineStep]:
    """sent -> delivered -> viewed -> approved/declined (estimate) or paid (invoice),
    read from the latest text's Message status and the document's own timestamps."""
    texts = document_texts(document)
    latest = texts[-1] if texts else None
    steps: list[TimelineStep] = []
    if latest is None:
        steps.append(TimelineStep("Sent", None, "todo", "Not texted yet"))
        steps.append(TimelineStep("Delivered", None, "todo"))
    else:
        failed = latest.status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
        queued = latest.status in (MessageStatus.PENDING, MessageStatus.SENDING)
        steps.append(
            TimelineStep(
                "Sent",
                latest.sent_at or (None if queued else latest.created_at),
                "todo" if queued else "done",
                "Waiting to go out" if queued else "",
            )
        )
        if failed:
            steps.append(
                TimelineStep(
                    "Not delivered",
                    latest.updated_at,
                    "failed",
                    latest.error_message or f"Error {latest.error_code or ''}".strip(),
                )
            )
        else:
            steps.append(
                TimelineStep(
                    "Delivered",
                    latest.delivered_at,
                    "done" if latest.status == MessageStatus.DELIVERED else "todo",
                )
            )
    steps.append(
        TimelineStep("Viewed", document.viewed_at, "done" if document.viewed_at else "todo")
    )
    if isinstance(document, Estimate):
        if document.status == EstimateStatus.DECLINED:
            steps.append(
                TimelineStep(
                    "Declined", document.declined_at, "failed", document.decline_reason or ""
                )
            )
        elif estimate_is_expired(document):
            steps.append(TimelineStep("Expired", document.expired_at, "failed"))
        else:
            approval = document.approval
            steps.append(
                TimelineStep(
                    "Approved",
                    document.approved_at,
                    "done" if approval else "todo",
                    f"Signed by {approval.signed_name}" if approval else "",
                )
            )
    elif document.status == InvoiceStatus.VOID:
        steps.append(TimelineStep("Void", document.voided_at, "failed", document.void_reason or ""))
    else:
        steps.append(
            TimelineStep(
                "Paid",
                document.paid_at,
                "done" if document.status == InvoiceStatus.PAID else "todo",
                f"{money(document.paid_cents)} received so far"
                if document.status == InvoiceStatus.PARTIALLY_PAID
                else "",
            )
        )
    return steps


# -------------------------------------------------------------------------------- lists


def list_estimates(*, company: Company, status: str | None = None) -> list[Estimate]:
    # The list shows every estimate's total: load options, items and customers up front.
    stmt = (
        sa.select(Estimate)
        .where(Estimate.company_id == company.id)
        .options(
            so.selectinload(Estimate.options).selectinload(EstimateOption.items),
            so.selectinload(Estimate.customer),
            so.selectinload(Estimate.approved_option).selectinload(EstimateOption.items),
        )
    )
    # The tabs follow the status people see: an open estimate past its date is "expired".
    today = company_today(company)
    past_date = sa.and_(
        Estimate.status.in_(EstimateStatus.OPEN),
        Estimate.valid_until.is_not(None),
        Estimate.valid_until < today,
    )
    if status == EstimateStatus.EXPIRED:
        stmt = stmt.where(sa.or_(Estimate.status == EstimateStatus.EXPIRED, past_date))
    elif status in EstimateStatus.OPEN:
        stmt = stmt.where(Estimate.status == status, sa.not_(past_date))
    elif status:
        stmt = stmt.where(Estimate.status == status)
    return list(db.session.scalars(stmt.order_by(Estimate.number.desc()).limit(200)))


def list_invoices(*, company: Company, status: str | None = None) -> list[Invoice]:
    stmt = (
        sa.select(Invoice)
        .where(Invoice.company_id == company.id)
        .options(so.selectinload(Invoice.items), so.selectinload(Invoice.customer))
    )
    if status:
        stmt = stmt.where(Invoice.status == status)
    return list(db.session.scalars(stmt.order_by(Invoice.number.desc()).limit(200)))


def estimate_total_for_list(estimate: Estimate) -> int:
    """The number shown in a list: the approved option, else the cheapest priced option."""
    if estimate.approved_option is not None:
        return option_totals(estimate.approved_option).total_cents
    totals = [option_totals(o).total_cents for o in estimate.options if o.items]
    return min(totals) if totals else 0

"""The customer's decisions on an estimate: approve, decline, ask for changes (and the
notice each leaves in the office's inbox)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.formats import money
from app.models import (
    Estimate,
    EstimateApproval,
    EstimateOption,
    EstimateStatus,
    Message,
    OptionStatus,
    utcnow,
)
from app.services.billing.documents import _clean_text, estimate_is_expired
from app.services.billing.sending import SEND_KEY_SHAPE
from app.services.billing.totals import Document, format_date, option_totals
from app.services.conversations import add_notice, conversation_for
from app.services.errors import Conflict, DomainError
from app.services.routing import apply_routing


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

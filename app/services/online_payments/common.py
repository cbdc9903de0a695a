"""What the online payment modules share: the account lookups, open sessions and the
office's inbox notices."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    CheckoutSession,
    CheckoutStatus,
    Company,
    Direction,
    Estimate,
    Invoice,
    Message,
    MessageKind,
    MessageStatus,
    StripeAccount,
)
from app.payments import gateway
from app.payments.gateway import PaymentGatewayError
from app.services.conversations import conversation_for
from app.services.errors import Conflict
from app.services.routing import apply_routing
from app.services.texting import company_number

log = logging.getLogger(__name__)


# Stripe's smallest card charge in USD.
MINIMUM_CENTS = 50
# How long a Checkout Session stays payable (Stripe allows 30 minutes to 24 hours).
SESSION_LIFETIME = timedelta(hours=23)
# A session about to expire is not handed out again: the customer needs time to type.
REUSE_MARGIN = timedelta(minutes=30)


class PaymentsUnavailable(Conflict):
    """Online payment is not possible for this invoice right now (message says why)."""


def payments_enabled() -> bool:
    return gateway.enabled()


def stripe_account(company: Company) -> StripeAccount | None:
    """The company's current account: the latest one it connected (earlier ones, after a
    disconnect, are kept for their late events)."""
    return db.session.scalar(
        sa.select(StripeAccount)
        .filter_by(company_id=company.id)
        .order_by(StripeAccount.id.desc())
        .limit(1)
    )


def active_account(company: Company) -> StripeAccount | None:
    account = stripe_account(company)
    return account if account is not None and account.active else None


def open_sessions(
    *, invoice_id: int | None = None, company_id: int | None = None
) -> list[CheckoutSession]:
    stmt = sa.select(CheckoutSession).where(CheckoutSession.status == CheckoutStatus.OPEN)
    if invoice_id is not None:
        stmt = stmt.where(CheckoutSession.invoice_id == invoice_id)
    if company_id is not None:
        stmt = stmt.where(CheckoutSession.company_id == company_id)
    return list(db.session.scalars(stmt.order_by(CheckoutSession.id)))


def expire_session(session: CheckoutSession) -> None:
    try:
        gateway.expire_checkout_session(
            account_id=session.account_id, session_id=session.stripe_session_id
        )
    except PaymentGatewayError as error:
        # Could not reach Stripe: keep it open here, so it is tried again next time; the
        # overpayment guard in the webhook covers a payment made on it meanwhile.
        log.warning("could not expire %s: %s", session.stripe_session_id, error.message)
        return
    session.status = CheckoutStatus.EXPIRED


def office_notice(
    *, invoice: Invoice | Estimate, body: str, dedupe_key: str, now: datetime
) -> Message:
    """A notice in the company's inbox, in the customer's conversation, routed like an
    inbound text (so the Point of Contact sees it). `invoice` may be an estimate (a
    deposit)."""
    existing = db.session.scalar(sa.select(Message).filter_by(dedupe_key=dedupe_key))
    if existing is not None:
        return existing
    company = invoice.company
    customer = invoice.customer
    conversation = conversation_for(company=company, phone=customer.mobile_phone, customer=customer)
    number = company_number(company)
    notice = Message(
        company_id=company.id,
        conversation_id=conversation.id,
        direction=Direction.IN,
        kind=MessageKind.NOTICE,
        from_phone=customer.mobile_phone,
        to_phone=number.e164 if number else "",
        body=body,
        status=MessageStatus.RECEIVED,
        dedupe_key=dedupe_key,
        job_id=invoice.job_id,
        extra={"document": invoice.kind, "document_id": invoice.id},
        created_at=now,
    )
    db.session.add(notice)
    db.session.flush()
    conversation.last_message_at = now
    apply_routing(message=notice)
    return notice

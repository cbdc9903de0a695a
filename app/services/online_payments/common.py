"""What the online payment modules share: the account lookups, the Checkout Sessions
(reused, expired, made) of an invoice or a deposit, what an event's session names, and the
office's inbox notices."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

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
    Payment,
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


def aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def lock_document(document: Invoice | Estimate) -> None:
    """Hold the invoice's or estimate's row until the caller commits (and read it again):
    a double tap makes one session, and a deposit's event and the estimate's conversion to
    an invoice do not cross. On SQLite the caller's savepoint takes the database's write
    lock (BEGIN IMMEDIATE) instead."""
    model = type(document)
    db.session.execute(sa.select(model.id).where(model.id == document.id).with_for_update())
    db.session.refresh(document)


def remote_status(session: CheckoutSession) -> str | None:
    """Stripe's word on an open session before it is reused or replaced: it may have been
    paid or expired without its event having arrived yet (or, with the fake, forgotten by
    a restart: None)."""
    try:
        remote = gateway.retrieve_checkout_session(
            account_id=session.account_id, session_id=session.stripe_session_id
        )
    except PaymentGatewayError:
        return None
    return remote.status


def reuse_open_session(
    sessions: Iterable[CheckoutSession],
    *,
    account: StripeAccount,
    version: int,
    amount_cents: int,
    now: datetime,
    being_confirmed: str,
    balance_cents: int | None = None,
    field: str | None = None,
) -> CheckoutSession | None:
    """The open session to send the customer to again: same document version, amount
    (and balance, when given) and account, not about to expire, and open at Stripe. None
    when there is none; the stale ones are then expired at Stripe. A session Stripe calls
    complete (paid, its event not here yet) refuses with `being_confirmed`: a second
    session could pay twice."""
    stale: list[CheckoutSession] = []
    for session in sessions:
        fresh = (
            session.invoice_version == version
            and (balance_cents is None or session.balance_cents == balance_cents)
            and session.amount_cents == amount_cents
            and session.account_id == account.account_id
            and aware(session.expires_at) > now + REUSE_MARGIN
        )
        status = remote_status(session)
        if status == "complete":
            raise PaymentsUnavailable(being_confirmed, field=field)
        if fresh and status == "open":
            return session
        stale.append(session)
    for session in stale:
        expire_session(session)
    return None


def new_session(
    *,
    document: Invoice | Estimate,
    account: StripeAccount,
    amount_cents: int,
    balance_cents: int,
    description: str,
    metadata: dict[str, str],
    client_reference_id: str,
    idempotency_key: str,
    success_url: str,
    cancel_url: str,
    now: datetime,
    payment_method_types: tuple[str, ...] | None = None,
    field: str | None = None,
) -> CheckoutSession:
    """A Checkout Session at Stripe on the company's connected account (a direct charge,
    less the platform's STRIPE_PLATFORM_FEE_BPS) for the document's current version, and
    its row here. Nothing is charged here."""
    fee = amount_cents * int(current_app.config.get("STRIPE_PLATFORM_FEE_BPS") or 0) // 10_000
    methods = {} if payment_method_types is None else {"payment_method_types": payment_method_types}
    try:
        remote = gateway.create_checkout_session(
            account_id=account.account_id,
            amount_cents=amount_cents,
            description=description,
            metadata=metadata,
            client_reference_id=client_reference_id,
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=now + SESSION_LIFETIME,
            application_fee_cents=fee,
            customer_email=document.customer.email,
            # Lets the SDK retry a lost answer without making a second session.
            idempotency_key=idempotency_key,
            **methods,
        )
    except PaymentGatewayError as error:
        raise PaymentsUnavailable(
            f"Online payment is not available right now ({error.message}). Nothing was charged.",
            field=field,
        ) from error
    session = CheckoutSession(
        company_id=document.company_id,
        invoice_id=document.id if isinstance(document, Invoice) else None,
        estimate_id=document.id if isinstance(document, Estimate) else None,
        stripe_session_id=remote.id,
        account_id=account.account_id,
        invoice_version=document.version,
        balance_cents=balance_cents,
        amount_cents=amount_cents,
        url=remote.url or "",
        status=CheckoutStatus.OPEN,
        expires_at=remote.expires_at,
        created_at=now,
    )
    db.session.add(session)
    db.session.flush()
    return session


def owned_document(
    model: type[Invoice] | type[Estimate], account: StripeAccount, raw_id: Any
) -> Invoice | Estimate | None:
    """The invoice or estimate an event's metadata names, only if it belongs to the
    account's company: an event from one company's account never touches another's."""
    raw = str(raw_id or "")
    if not raw.isdigit():
        return None
    document = db.session.get(model, int(raw))
    if document is None or document.company_id != account.company_id:
        return None
    return document


def follow_session(local: CheckoutSession | None, event_type: str) -> bool:
    """Our copy of the session follows Stripe's Checkout event: True when it expired."""
    if event_type == "checkout.session.expired":
        if local is not None and local.status == CheckoutStatus.OPEN:
            local.status = CheckoutStatus.EXPIRED
        return True
    if local is not None:
        local.status = CheckoutStatus.COMPLETE
    return False


def paid_intent(session: dict[str, Any]) -> tuple[str, int] | None:
    """The PaymentIntent and amount of an event's session; None when either is missing."""
    intent = str(session.get("payment_intent") or "")
    amount = int(session.get("amount_total") or 0)
    if not intent or amount <= 0:
        return None
    return intent, amount


def payment_by_intent(company_id: int, intent: str) -> Payment | None:
    return db.session.scalar(
        sa.select(Payment).filter_by(company_id=company_id, stripe_payment_intent_id=intent)
    )


def add_payment_once(payment: Payment) -> bool:
    """Insert the payment; False when one for its PaymentIntent is already there (a replay
    or a concurrent delivery of the same event)."""
    try:
        with db.session.begin_nested():
            db.session.add(payment)
            db.session.flush()
    except IntegrityError:
        return False
    return True


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

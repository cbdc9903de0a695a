"""Online payments: a company connects its Stripe account; the customer pays a texted
invoice on Stripe's hosted Checkout; Stripe's signed events record the payment.

The rules that keep the money right:
- A Checkout Session is made for one invoice **version** and **balance**. It is reused while
  open and unexpired for the same amount; when the balance or the invoice changed, the old
  session is expired at Stripe first, so it can no longer be paid.
- A payment is unique per (company, PaymentIntent) and each Stripe event is handled once
  (unique event id): replays and concurrent deliveries record one payment.
- Only succeeded money counts toward the invoice (through `billing.record_payment`, the
  same race-safe path as the office's). An ACH debit is a `processing` payment until Stripe
  says it cleared; while it is processing, it is held out of what the customer can pay.
- Money that arrives when the balance is already covered (two tabs, a check recorded
  meanwhile) is refunded at Stripe at once for the excess, and the office is told:
  an invoice is never overpaid.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
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
    Invoice,
    InvoiceStatus,
    Message,
    MessageKind,
    MessageStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    StripeAccount,
    StripeEvent,
    User,
    utcnow,
)
from app.payments import gateway
from app.payments.gateway import PaymentGatewayError
from app.services import billing, payment_texts
from app.services.conversations import conversation_for
from app.services.errors import Conflict, DomainError
from app.services.routing import apply_routing
from app.services.texting import company_number
from app.templating import money

log = logging.getLogger(__name__)

# Stripe's smallest card charge in USD.
MINIMUM_CENTS = 50
# How long a Checkout Session stays payable (Stripe allows 30 minutes to 24 hours).
SESSION_LIFETIME = timedelta(hours=23)
# A session about to expire is not handed out again: the customer needs time to type.
REUSE_MARGIN = timedelta(minutes=30)


class PaymentsUnavailable(Conflict):
    """Online payment is not possible for this invoice right now (message says why)."""


# ------------------------------------------------------------------------- Connect


def payments_enabled() -> bool:
    return gateway.enabled()


def stripe_account(company: Company) -> StripeAccount | None:
    return db.session.scalar(sa.select(StripeAccount).filter_by(company_id=company.id))


def active_account(company: Company) -> StripeAccount | None:
    account = stripe_account(company)
    return account if account is not None and account.active else None


def start_connect(*, company: Company, actor: User, return_url: str, refresh_url: str) -> str:
    """The Stripe onboarding URL for the company's Standard account (made on first use;
    a company that disconnected gets a new account)."""
    if not payments_enabled():
        raise PaymentsUnavailable("Stripe is not configured on this server.")
    account = stripe_account(company)
    try:
        if account is None or account.disconnected_at is not None:
            remote = gateway.create_account(
                email=company.email or actor.email,
                business_name=company.name,
                company_id=company.id,
            )
            if account is None:
                account = StripeAccount(company_id=company.id, account_id=remote.id)
                db.session.add(account)
            account.account_id = remote.id
            account.charges_enabled = remote.charges_enabled
            account.details_submitted = remote.details_submitted
            account.connected_at = None
            account.disconnected_at = None
            account.connected_by_id = actor.id
            db.session.flush()
        return gateway.onboarding_link(
            account_id=account.account_id, refresh_url=refresh_url, return_url=return_url
        )
    except PaymentGatewayError as error:
        raise PaymentsUnavailable(f"Stripe: {error.message}") from error


def refresh_account(*, company: Company, now: datetime | None = None) -> StripeAccount | None:
    """Read the account's state from Stripe (the onboarding return page does this: the
    return URL alone proves nothing, the account's `charges_enabled` does)."""
    account = stripe_account(company)
    if account is None or account.disconnected_at is not None:
        return account
    try:
        remote = gateway.retrieve_account(account.account_id)
    except PaymentGatewayError as error:
        raise PaymentsUnavailable(f"Stripe: {error.message}") from error
    account.charges_enabled = remote.charges_enabled
    account.details_submitted = remote.details_submitted
    if remote.charges_enabled and account.connected_at is None:
        account.connected_at = now or utcnow()
    db.session.flush()
    return account


def adopt_account(
    *, company: Company, account_id: str, now: datetime | None = None
) -> StripeAccount:
    """Connect the company to an existing account of the platform (the demo company and
    the fake's demo account), reading its state from Stripe."""
    try:
        remote = gateway.retrieve_account(account_id)
    except PaymentGatewayError as error:
        raise PaymentsUnavailable(f"Stripe: {error.message}") from error
    account = stripe_account(company) or StripeAccount(company_id=company.id, account_id=account_id)
    db.session.add(account)
    account.account_id = remote.id
    account.charges_enabled = remote.charges_enabled
    account.details_submitted = remote.details_submitted
    account.connected_at = (now or utcnow()) if remote.charges_enabled else None
    account.disconnected_at = None
    db.session.flush()
    return account


def disconnect(*, company: Company, now: datetime | None = None) -> bool:
    """Stop taking payments into the company's account. Open sessions are closed at
    Stripe, so a link the customer already has cannot be paid either."""
    account = stripe_account(company)
    if account is None or account.disconnected_at is not None:
        return False
    for session in _open_sessions(company_id=company.id):
        _expire(session)
    account.disconnected_at = now or utcnow()
    db.session.flush()
    return True


def set_partial_payments(*, company: Company, allowed: bool) -> None:
    billing.billing_settings_for(company).allow_partial_payments = allowed
    db.session.flush()


# ------------------------------------------------------------------------- paying


def processing_cents(invoice: Invoice) -> int:
    return sum(p.amount_cents for p in invoice.payments if p.status == PaymentStatus.PROCESSING)


def payable_cents(invoice: Invoice) -> int:
    """What the customer can pay online now: the balance less bank payments on their way."""
    return max(billing.invoice_balance_cents(invoice) - processing_cents(invoice), 0)


@dataclass(frozen=True)
class PayOption:
    """What the invoice page offers: `amount_cents` to pay, or `reason` why not."""

    amount_cents: int
    partial_allowed: bool
    reason: str | None


def pay_option(invoice: Invoice) -> PayOption | None:
    """None when online payment is not part of this install or company at all (the page
    shows nothing); otherwise the amount, or the reason it cannot be paid now."""
    if not payments_enabled():
        return None
    account = stripe_account(invoice.company)
    if account is None:
        return None
    partial = billing.billing_settings_for(invoice.company).allow_partial_payments
    amount = payable_cents(invoice)
    reason = _refusal(invoice, account, amount)
    return PayOption(amount_cents=amount, partial_allowed=partial, reason=reason)


def _refusal(invoice: Invoice, account: StripeAccount | None, payable: int) -> str | None:
    company = invoice.company.name
    if invoice.status == InvoiceStatus.VOID:
        return f"This invoice was voided by {company}; there is nothing to pay."
    if account is None or account.disconnected_at is not None:
        return f"{company} no longer takes payments online. Please contact them to pay."
    if not account.charges_enabled:
        return f"{company} is still setting up online payments. Please try again later."
    if billing.invoice_balance_cents(invoice) <= 0:
        return "This invoice is paid in full."
    if payable <= 0:
        return "Your bank payment is on its way; there is nothing more to pay now."
    return None


def parse_amount(text: str | None, *, payable: int) -> int:
    """The customer's partial amount. Empty = the whole payable amount."""
    if not (text or "").strip():
        return payable
    cleaned = (text or "").strip().replace("$", "").replace(",", "")
    if cleaned.startswith("-"):
        raise DomainError("Enter an amount more than zero.", field="amount")
    amount = billing.parse_money(cleaned, field="amount", label="Amount")
    return amount


def start_checkout(
    *,
    invoice: Invoice,
    version: int,
    amount_cents: int,
    success_url: str,
    cancel_url: str,
    now: datetime | None = None,
) -> CheckoutSession:
    """The Checkout Session to send the customer to: reused when one is open for the same
    version and amount; otherwise a new one on the company's connected account (a direct
    charge), after closing the stale ones. Nothing is charged here."""
    now = now or utcnow()
    _lock_invoice(invoice)
    account = stripe_account(invoice.company)
    payable = payable_cents(invoice)
    reason = _refusal(invoice, account, payable)
    if reason is not None:
        raise PaymentsUnavailable(reason)
    assert account is not None
    if version != invoice.version:
        raise Conflict(
            "This invoice was changed since you opened it. Check the new amount and try again.",
            field="version",
        )
    partial = billing.billing_settings_for(invoice.company).allow_partial_payments
    if amount_cents <= 0:
        raise DomainError("Enter an amount more than zero.", field="amount")
    if amount_cents > payable:
        raise DomainError(f"That is more than the balance due ({money(payable)}).", field="amount")
    if amount_cents != payable and not partial:
        raise DomainError(
            f"{invoice.company.name} takes the full balance ({money(payable)}) online.",
            field="amount",
        )
    if amount_cents < MINIMUM_CENTS and amount_cents != payable:
        raise DomainError(f"The smallest online payment is {money(MINIMUM_CENTS)}.", field="amount")
    stale: list[CheckoutSession] = []
    for session in _open_sessions(invoice_id=invoice.id):
        fresh = (
            session.invoice_version == invoice.version
            and session.balance_cents == payable
            and session.amount_cents == amount_cents
            and session.account_id == account.account_id
            and _aware(session.expires_at) > now + REUSE_MARGIN
        )
        remote_status = _remote_status(session)
        if remote_status == "complete":
            # Paid at Stripe, its event not here yet: a second session could pay twice.
            raise PaymentsUnavailable(
                "A payment for this invoice is being confirmed. Refresh this page in a minute."
            )
        if fresh and remote_status == "open":
            return session
        stale.append(session)
    for session in stale:
        _expire(session)
    fee = amount_cents * int(current_app.config.get("STRIPE_PLATFORM_FEE_BPS") or 0) // 10_000
    metadata = {
        "invoice_id": str(invoice.id),
        "invoice_version": str(invoice.version),
        "company_id": str(invoice.company_id),
    }
    try:
        remote = gateway.create_checkout_session(
            account_id=account.account_id,
            amount_cents=amount_cents,
            description=f"{invoice.label} from {invoice.company.name}",
            metadata=metadata,
            client_reference_id=f"invoice-{invoice.id}-v{invoice.version}",
            success_url=success_url,
            cancel_url=cancel_url,
            expires_at=now + SESSION_LIFETIME,
            application_fee_cents=fee,
            customer_email=invoice.customer.email,
            # Lets the SDK retry a lost answer without making a second session.
            idempotency_key=f"checkout-{invoice.id}-{secrets.token_hex(8)}",
        )
    except PaymentGatewayError as error:
        raise PaymentsUnavailable(
            f"Online payment is not available right now ({error.message}). Nothing was charged."
        ) from error
    session = CheckoutSession(
        company_id=invoice.company_id,
        invoice_id=invoice.id,
        stripe_session_id=remote.id,
        account_id=account.account_id,
        invoice_version=invoice.version,
        balance_cents=payable,
        amount_cents=amount_cents,
        url=remote.url or "",
        status=CheckoutStatus.OPEN,
        expires_at=remote.expires_at,
        created_at=now,
    )
    db.session.add(session)
    db.session.flush()
    return session


def _lock_invoice(invoice: Invoice) -> None:
    """Hold the invoice's row until the caller commits, so a double tap (two requests at
    once) makes one session: the second waits, then finds and reuses the first's. On
    SQLite the savepoint takes the database's write lock (BEGIN IMMEDIATE) instead."""
    with db.session.begin_nested():
        db.session.execute(sa.select(Invoice.id).where(Invoice.id == invoice.id).with_for_update())
    db.session.refresh(invoice)


def _remote_status(session: CheckoutSession) -> str | None:
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


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _open_sessions(
    *, invoice_id: int | None = None, company_id: int | None = None
) -> list[CheckoutSession]:
    stmt = sa.select(CheckoutSession).where(CheckoutSession.status == CheckoutStatus.OPEN)
    if invoice_id is not None:
        stmt = stmt.where(CheckoutSession.invoice_id == invoice_id)
    if company_id is not None:
        stmt = stmt.where(CheckoutSession.company_id == company_id)
    return list(db.session.scalars(stmt.order_by(CheckoutSession.id)))


def _expire(session: CheckoutSession) -> None:
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


def session_for_invoice(*, invoice: Invoice, stripe_session_id: str) -> CheckoutSession | None:
    return db.session.scalar(
        sa.select(CheckoutSession).filter_by(
            invoice_id=invoice.id, stripe_session_id=stripe_session_id
        )
    )


# ------------------------------------------------------------------------- webhook events

HANDLED = {
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "account.updated",
    "account.application.deauthorized",
}


def handle_event(*, event: dict[str, Any], now: datetime | None = None) -> str:
    """Apply one verified Stripe event, once. Returns what was made of it (logged and
    stored). The caller commits."""
    now = now or utcnow()
    event_id = str(event.get("id") or "")
    event_type = str(event.get("type") or "")
    account_id = event.get("account")
    if not event_id:
        raise DomainError("The event has no id.")
    record = StripeEvent(
        event_id=event_id, type=event_type[:80], account_id=account_id, received_at=now
    )
    try:
        with db.session.begin_nested():
            db.session.add(record)
            db.session.flush()
    except IntegrityError:
        return "duplicate"
    if event_type not in HANDLED:
        record.outcome = "ignored: not a type the product uses"
        return record.outcome
    obj = (event.get("data") or {}).get("object") or {}
    account = (
        db.session.scalar(sa.select(StripeAccount).filter_by(account_id=account_id))
        if account_id
        else None
    )
    if account is None:
        record.outcome = "ignored: not a connected account of ours"
        log.warning("stripe event %s for unknown account %s ignored", event_id, account_id)
        return record.outcome
    record.company_id = account.company_id
    if event_type == "account.application.deauthorized":
        # The Pro disconnected the platform from their own Stripe dashboard.
        if account.disconnected_at is None:
            account.disconnected_at = now
        record.outcome = "account disconnected by its owner"
        return record.outcome
    if event_type == "account.updated":
        account.charges_enabled = bool(obj.get("charges_enabled"))
        account.details_submitted = bool(obj.get("details_submitted"))
        if account.charges_enabled and account.connected_at is None:
            account.connected_at = now
        record.outcome = "account updated"
        return record.outcome
    if event_type == "charge.refunded":
        record.outcome = _refunded(account=account, charge=obj, now=now)
    else:
        record.outcome = _checkout_event(
            account=account, event_type=event_type, session=obj, now=now
        )
    if record.outcome.startswith("ignored"):
        log.warning("stripe event %s (%s) %s", event_id, event_type, record.outcome)
    db.session.flush()
    return record.outcome


def _invoice_for(account: StripeAccount, metadata: dict[str, Any]) -> Invoice | None:
    """The invoice the metadata names, only if it belongs to the account's company: an
    event from one company's account never touches another company's invoice."""
    raw = str((metadata or {}).get("invoice_id") or "")
    if not raw.isdigit():
        return None
    invoice = db.session.get(Invoice, int(raw))
    if invoice is None or invoice.company_id != account.company_id:
        return None
    return invoice


def _checkout_event(
    *, account: StripeAccount, event_type: str, session: dict[str, Any], now: datetime
) -> str:
    invoice = _invoice_for(account, session.get("metadata") or {})
    if invoice is None:
        return "ignored: the session names no invoice of this company"
    local = session_for_invoice(invoice=invoice, stripe_session_id=str(session.get("id")))
    if event_type == "checkout.session.expired":
        if local is not None and local.status == CheckoutStatus.OPEN:
            local.status = CheckoutStatus.EXPIRED
        return "session expired"
    if local is not None:
        local.status = CheckoutStatus.COMPLETE
    intent = str(session.get("payment_intent") or "")
    amount = int(session.get("amount_total") or 0)
    if not intent or amount <= 0:
        return "ignored: no payment intent or amount"
    existing = _payment_by_intent(account.company_id, intent)
    paid = session.get("payment_status") == "paid"
    if event_type == "checkout.session.completed":
        if paid:
            return _record_received(
                account=account,
                invoice=invoice,
                intent=intent,
                amount=amount,
                method=PaymentMethod.CARD,
                session_id=session.get("id"),
                now=now,
            )
        if existing is not None:
            return "duplicate payment"
        payment = Payment(
            company_id=invoice.company_id,
            invoice_id=invoice.id,
            amount_cents=amount,
            method=PaymentMethod.ACH,
            status=PaymentStatus.PROCESSING,
            received_at=now,
            stripe_payment_intent_id=intent,
            stripe_checkout_session_id=session.get("id"),
            note="Paid online",
        )
        try:
            with db.session.begin_nested():
                db.session.add(payment)
                db.session.flush()
        except IntegrityError:
            return "duplicate payment"
        db.session.refresh(invoice)
        _office_notice(
            invoice=invoice,
            body=f"{invoice.customer.name} started a bank payment of {money(amount)} on "
            f"{invoice.label}. It takes a few business days to clear.",
            dedupe_key=f"stripe:{intent}:processing",
            now=now,
        )
        return "bank payment processing"
    if event_type == "checkout.session.async_payment_succeeded":
        return _record_received(
            account=account,
            invoice=invoice,
            intent=intent,
            amount=amount,
            method=PaymentMethod.ACH,
            session_id=session.get("id"),
            now=now,
        )
    # async_payment_failed
    if existing is None or existing.status != PaymentStatus.PROCESSING:
        return "ignored: no processing payment to fail"
    existing.status = PaymentStatus.FAILED
    existing.failure_reason = "The bank payment failed."
    db.session.flush()
    db.session.refresh(invoice)
    _office_notice(
        invoice=invoice,
        body=(
            f"The bank payment of {money(existing.amount_cents)} for {invoice.label} failed. "
            f"{money(billing.invoice_balance_cents(invoice))} is due again."
        ),
        dedupe_key=f"stripe:{intent}:failed",
        now=now,
    )
    return "bank payment failed"


def _payment_by_intent(company_id: int, intent: str) -> Payment | None:
    return db.session.scalar(
        sa.select(Payment).filter_by(company_id=company_id, stripe_payment_intent_id=intent)
    )


def _record_received(
    *,
    account: StripeAccount,
    invoice: Invoice,
    intent: str,
    amount: int,
    method: str,
    session_id: str | None,
    now: datetime,
) -> str:
    """Money arrived: count it once, through billing.record_payment. An ACH payment that
    was processing becomes this payment (same PaymentIntent). What exceeds the balance is
    refunded at Stripe."""
    try:
        with db.session.begin_nested():
            existing = db.session.scalar(
                sa.select(Payment)
                .filter_by(company_id=account.company_id, stripe_payment_intent_id=intent)
                .with_for_update()
            )
            if existing is not None and existing.status != PaymentStatus.PROCESSING:
                return "duplicate payment"
            if existing is not None:
                db.session.delete(existing)
                db.session.flush()
            db.session.refresh(invoice)
            balance = billing.invoice_balance_cents(invoice)
            counted = min(amount, balance)
            payment = None
            if counted > 0:
                payment = billing.record_payment(
                    invoice=invoice,
                    amount_cents=counted,
                    method=method,
                    received_at=now,
                    note="Paid online",
                )
                payment.stripe_payment_intent_id = intent
                payment.stripe_checkout_session_id = session_id
                db.session.flush()
    except IntegrityError:
        db.session.refresh(invoice)
        return "duplicate payment"
    except DomainError as error:
        db.session.refresh(invoice)
        counted, payment = 0, None
        log.warning("payment %s not counted on %s: %s", intent, invoice.label, error)
    excess = amount - counted
    if excess > 0:
        _refund_excess(account=account, invoice=invoice, intent=intent, excess=excess, now=now)
    if payment is None:
        return "refunded: the invoice was already paid"
    _after_payment(invoice=invoice, payment=payment, now=now)
    return "payment recorded" + (f", {money(excess)} refunded" if excess else "")


def _refund_excess(
    *, account: StripeAccount, invoice: Invoice, intent: str, excess: int, now: datetime
) -> None:
    try:
        gateway.refund(
            account_id=account.account_id,
            payment_intent=intent,
            amount_cents=excess,
            idempotency_key=f"overpaid-{intent}",
        )
        body = (
            f"A customer paid {money(excess)} more than the balance of {invoice.label} "
            "online; the extra was refunded to them automatically."
        )
    except PaymentGatewayError as error:
        body = (
            f"A customer paid {money(excess)} more than the balance of {invoice.label} "
            f"online and the automatic refund failed ({error.message}): refund it in Stripe."
        )
    _office_notice(invoice=invoice, body=body, dedupe_key=f"stripe:{intent}:overpaid", now=now)


def _refunded(*, account: StripeAccount, charge: dict[str, Any], now: datetime) -> str:
    intent = str(charge.get("payment_intent") or "")
    payment = _payment_by_intent(account.company_id, intent) if intent else None
    if payment is None:
        # Our own refund of an overpayment that was never counted, or not ours at all.
        return "ignored: no payment of this company for the charge"
    refunded_total = int(charge.get("amount_refunded") or 0)
    # Stripe's total refunded on the charge; our payment may be less than the charge when
    # an excess was refunded at once (that part was never counted).
    counted_refund = max(0, min(payment.amount_cents, refunded_total - _never_counted(payment)))
    delta = counted_refund - payment.refunded_cents
    if delta <= 0:
        return "refund already recorded"
    invoice = payment.invoice
    payment.refunded_cents = counted_refund
    if counted_refund >= payment.amount_cents:
        payment.status = PaymentStatus.REFUNDED
    db.session.execute(
        sa.update(Invoice)
        .where(Invoice.id == invoice.id)
        .values(paid_cents=Invoice.paid_cents - delta)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    db.session.refresh(invoice)
    if invoice.status != InvoiceStatus.VOID:
        reopened = InvoiceStatus.VIEWED if invoice.viewed_at else InvoiceStatus.SENT
        invoice.status = InvoiceStatus.PARTIALLY_PAID if invoice.paid_cents > 0 else reopened
        invoice.paid_at = None
    db.session.flush()
    return f"refund of {money(delta)} recorded"


def _never_counted(payment: Payment) -> int:
    """The part of the charge refunded as an overpayment when it arrived."""
    session = db.session.scalar(
        sa.select(CheckoutSession).filter_by(stripe_session_id=payment.stripe_checkout_session_id)
    )
    return max(0, session.amount_cents - payment.amount_cents) if session else 0


def _after_payment(*, invoice: Invoice, payment: Payment, now: datetime) -> None:
    """Tell the office, and text the customer a receipt."""
    _office_notice(
        invoice=invoice,
        body=f"{invoice.customer.name} paid {money(payment.amount_cents)} on {invoice.label} "
        f"online ({payment.method_label}).",
        dedupe_key=f"stripe:{payment.stripe_payment_intent_id}:paid",
        now=now,
    )
    payment_texts.queue_receipt(invoice=invoice, payment=payment)


def _office_notice(*, invoice: Invoice, body: str, dedupe_key: str, now: datetime) -> Message:
    """A notice in the company's inbox, in the customer's conversation, routed like an
    inbound text (so the Point of Contact sees it)."""
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


# ------------------------------------------------------------------------- office actions


def refund_payment(*, payment: Payment, amount_cents: int) -> None:
    """Refund an online payment at Stripe; the `charge.refunded` event records it."""
    if payment.stripe_payment_intent_id is None:
        raise DomainError("Only online payments can be refunded from here.")
    remaining = payment.amount_cents - payment.refunded_cents
    if amount_cents <= 0 or amount_cents > remaining:
        raise DomainError(f"Refund between {money(1)} and {money(remaining)}.", field="amount")
    account = db.session.scalar(sa.select(StripeAccount).filter_by(company_id=payment.company_id))
    if account is None:
        raise PaymentsUnavailable("The company has no Stripe account.")
    try:
        gateway.refund(
            account_id=account.account_id,
            payment_intent=payment.stripe_payment_intent_id,
            amount_cents=amount_cents,
            idempotency_key=f"refund-{payment.id}-{payment.refunded_cents}-{amount_cents}",
        )
    except PaymentGatewayError as error:
        raise PaymentsUnavailable(f"Stripe: {error.message}") from error

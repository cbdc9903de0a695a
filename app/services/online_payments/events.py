"""Stripe's webhook events, each applied once: card payments, ACH processing/succeeded/
failed, refunds, account updates."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.formats import money
from app.models import (
    CheckoutSession,
    Estimate,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    StripeAccount,
    StripeEvent,
    utcnow,
)
from app.payments import gateway
from app.payments.gateway import PaymentGatewayError
from app.services import billing, payment_texts
from app.services.errors import DomainError
from app.services.online_payments import deposits
from app.services.online_payments.checkout import session_for_invoice
from app.services.online_payments.common import (
    add_payment_once,
    follow_session,
    office_notice,
    owned_document,
    paid_intent,
    payment_by_intent,
)

log = logging.getLogger(__name__)


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


def _checkout_event(
    *, account: StripeAccount, event_type: str, session: dict[str, Any], now: datetime
) -> str:
    metadata = session.get("metadata") or {}
    if metadata.get("purpose") == "deposit":
        return _deposit_checkout_event(
            account=account, event_type=event_type, session=session, now=now
        )
    invoice = owned_document(Invoice, account, metadata.get("invoice_id"))
    if invoice is None:
        return "ignored: the session names no invoice of this company"
    local = session_for_invoice(invoice=invoice, stripe_session_id=str(session.get("id")))
    if follow_session(local, event_type):
        return "session expired"
    found = paid_intent(session)
    if found is None:
        return "ignored: no payment intent or amount"
    intent, amount = found
    existing = payment_by_intent(account.company_id, intent)
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
        if not add_payment_once(payment):
            return "duplicate payment"
        db.session.refresh(invoice)
        office_notice(
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
    office_notice(
        invoice=invoice,
        body=(
            f"The bank payment of {money(existing.amount_cents)} for {invoice.label} failed. "
            f"{money(billing.invoice_balance_cents(invoice))} is due again."
        ),
        dedupe_key=f"stripe:{intent}:failed",
        now=now,
    )
    return "bank payment failed"


def _deposit_checkout_event(
    *, account: StripeAccount, event_type: str, session: dict[str, Any], now: datetime
) -> str:
    estimate = deposits.estimate_for(account, session.get("metadata") or {})
    if estimate is None:
        return "ignored: the session names no estimate of this company"
    deposits.lock_estimate(estimate)
    paid = event_type == "checkout.session.completed" and session.get("payment_status") == "paid"
    invoice = (
        db.session.get(Invoice, estimate.converted_invoice_id)
        if estimate.converted_invoice_id
        else None
    )
    if invoice is None or not paid:
        return deposits.deposit_event(
            account=account,
            estimate=estimate,
            event_type=event_type,
            session=session,
            now=now,
            refund_excess=_refund_excess,
        )
    # The office already made the invoice: the deposit is paid on it (never beyond its
    # balance; any excess is refunded), and still reads as the estimate's deposit.
    follow_session(deposits.deposit_session(estimate, str(session.get("id"))), event_type)
    found = paid_intent(session)
    if found is None:
        return "ignored: no payment intent or amount"
    intent, amount = found
    already = deposits.paid_deposit(estimate)
    if already is not None and already.stripe_payment_intent_id != intent:
        # A second deposit (another tab): the customer gets it back, as before the invoice.
        _refund_excess(account=account, invoice=estimate, intent=intent, excess=amount, now=now)
        return "refunded: the deposit was already paid"
    outcome = _record_received(
        account=account,
        invoice=invoice,
        intent=intent,
        amount=amount,
        method=PaymentMethod.CARD,
        session_id=session.get("id"),
        now=now,
    )
    payment = payment_by_intent(account.company_id, intent)
    if payment is not None and payment.estimate_id is None:
        payment.estimate_id = estimate.id
        payment.note = f"Deposit on {estimate.label}"
        db.session.flush()
    return outcome.replace("payment recorded", "deposit recorded on the invoice")


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
            db.session.refresh(invoice)
            balance = billing.invoice_balance_cents(invoice)
            counted = min(amount, balance)
            payment = None
            if counted > 0:
                if existing is not None:
                    db.session.delete(existing)
                    db.session.flush()
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
        # A bank payment that cleared when nothing was due any more: it stays on the
        # invoice as failed (never counted), saying why.
        processing = payment_by_intent(account.company_id, intent)
        if processing is not None and processing.status == PaymentStatus.PROCESSING:
            processing.status = PaymentStatus.FAILED
            processing.failure_reason = "Refunded: nothing was due when it cleared."
            db.session.flush()
        return "refunded: nothing was due"
    _after_payment(invoice=invoice, payment=payment, now=now)
    return "payment recorded" + (f", {money(excess)} refunded" if excess else "")


def _refund_excess(
    *, account: StripeAccount, invoice: Invoice | Estimate, intent: str, excess: int, now: datetime
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
    office_notice(invoice=invoice, body=body, dedupe_key=f"stripe:{intent}:overpaid", now=now)


def _refunded(*, account: StripeAccount, charge: dict[str, Any], now: datetime) -> str:
    intent = str(charge.get("payment_intent") or "")
    payment = payment_by_intent(account.company_id, intent) if intent else None
    if payment is None:
        # Our own refund of an overpayment that was never counted, or not ours at all.
        return "ignored: no payment of this company for the charge"
    if payment.status not in (PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED):
        # Money that was never counted (a bank payment refunded as it cleared).
        return "refund of an uncounted payment: nothing to change"
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
    if invoice is None:
        # A deposit not yet on an invoice: nothing counted anywhere else.
        db.session.flush()
        return f"deposit refund of {money(delta)} recorded"
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
    office_notice(
        invoice=invoice,
        body=f"{invoice.customer.name} paid {money(payment.amount_cents)} on {invoice.label} "
        f"online ({payment.method_label}).",
        dedupe_key=f"stripe:{payment.stripe_payment_intent_id}:paid",
        now=now,
    )
    payment_texts.queue_receipt(invoice=invoice, payment=payment)

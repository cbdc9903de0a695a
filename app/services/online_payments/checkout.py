"""Paying: what the invoice page offers, and the Checkout Session it sends the customer
to (made or reused per invoice version and balance); refunds the office starts."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.formats import money
from app.models import (
    CheckoutSession,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentStatus,
    StripeAccount,
    utcnow,
)
from app.payments import gateway
from app.payments.gateway import PaymentGatewayError
from app.services import billing
from app.services.document_events import invoice_revised
from app.services.errors import Conflict, DomainError
from app.services.online_payments.common import (
    MINIMUM_CENTS,
    PaymentsUnavailable,
    expire_session,
    lock_document,
    new_session,
    open_sessions,
    payments_enabled,
    reuse_open_session,
    stripe_account,
)


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
    # A double tap (two requests at once) makes one session: the second waits, then finds
    # and reuses the first's.
    with db.session.begin_nested():
        lock_document(invoice)
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
    reused = reuse_open_session(
        open_sessions(invoice_id=invoice.id),
        account=account,
        version=invoice.version,
        amount_cents=amount_cents,
        balance_cents=payable,
        now=now,
        being_confirmed="A payment for this invoice is being confirmed. "
        "Refresh this page in a minute.",
    )
    if reused is not None:
        return reused
    return new_session(
        document=invoice,
        account=account,
        amount_cents=amount_cents,
        balance_cents=payable,
        description=f"{invoice.label} from {invoice.company.name}",
        metadata={
            "invoice_id": str(invoice.id),
            "invoice_version": str(invoice.version),
            "company_id": str(invoice.company_id),
        },
        client_reference_id=f"invoice-{invoice.id}-v{invoice.version}",
        idempotency_key=f"checkout-{invoice.id}-{secrets.token_hex(8)}",
        success_url=success_url,
        cancel_url=cancel_url,
        now=now,
    )


@invoice_revised.connect
def expire_sessions_of_old_versions(invoice: Invoice, *, old_version: int, **_: object) -> None:
    """The office changed the invoice: a Checkout Session the customer may have open for
    an earlier version is expired at Stripe now (not at the next Pay), so the old amount
    can no longer be paid; Stripe answers with `checkout.session.expired`."""
    if not payments_enabled():
        return
    for session in open_sessions(invoice_id=invoice.id):
        if session.invoice_version != invoice.version:
            expire_session(session)


def session_for_invoice(*, invoice: Invoice, stripe_session_id: str) -> CheckoutSession | None:
    return db.session.scalar(
        sa.select(CheckoutSession).filter_by(
            invoice_id=invoice.id, stripe_session_id=stripe_session_id
        )
    )


def refund_payment(*, payment: Payment, amount_cents: int) -> None:
    """Refund an online payment at Stripe; the `charge.refunded` event records it."""
    if payment.stripe_payment_intent_id is None:
        raise DomainError("Only online payments can be refunded from here.")
    remaining = payment.amount_cents - payment.refunded_cents
    if amount_cents <= 0 or amount_cents > remaining:
        raise DomainError(f"Refund between {money(1)} and {money(remaining)}.", field="amount")
    # The account the money went to (the company may have connected another since).
    account_id = db.session.scalar(
        sa.select(CheckoutSession.account_id).filter_by(
            stripe_session_id=payment.stripe_checkout_session_id
        )
    ) or db.session.scalar(
        sa.select(StripeAccount.account_id)
        .filter_by(company_id=payment.company_id)
        .order_by(StripeAccount.id.desc())
        .limit(1)
    )
    if account_id is None:
        raise PaymentsUnavailable("The company has no Stripe account.")
    try:
        gateway.refund(
            account_id=account_id,
            payment_intent=payment.stripe_payment_intent_id,
            amount_cents=amount_cents,
            idempotency_key=f"refund-{payment.id}-{payment.refunded_cents}-{amount_cents}",
        )
    except PaymentGatewayError as error:
        raise PaymentsUnavailable(f"Stripe: {error.message}") from error

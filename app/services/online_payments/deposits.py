"""Deposits: a company may ask the customer for a deposit once they approved an estimate
(billing settings: none, a percent of the approved total, or a fixed amount). The
estimate's page offers "Pay deposit $X"; the customer pays on Stripe Checkout on the
company's connected account (a direct charge, like an invoice payment); Stripe's signed
event records the deposit once (unique per company and PaymentIntent) as a `Payment` of the
estimate. Converting the estimate to an invoice moves it onto the invoice
(`billing.take_deposits`), where it counts against the balance.

A deposit is taken by card only: it confirms the booking at once, while a bank debit would
leave the Pro waiting days to know whether the job is secured.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.formats import money
from app.models import (
    BillingSettings,
    CheckoutSession,
    CheckoutStatus,
    Company,
    DepositKind,
    Estimate,
    EstimateStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    StripeAccount,
    utcnow,
)
from app.services import billing, payment_texts
from app.services.errors import Conflict, DomainError
from app.services.online_payments.common import (
    MINIMUM_CENTS,
    PaymentsUnavailable,
    add_payment_once,
    follow_session,
    lock_document,
    new_session,
    office_notice,
    owned_document,
    paid_intent,
    payment_by_intent,
    payments_enabled,
    reuse_open_session,
    stripe_account,
)

# -- the company's setting -------------------------------------------------------------------


def set_deposit(*, company: Company, kind: str, value: str | None) -> BillingSettings:
    """Ask for no deposit, a percent of the approved total ("25" or "12.5"), or a fixed
    amount ("150" or "$150.00")."""
    if kind not in DepositKind.ALL:
        raise DomainError("Pick whether to ask for a deposit.", field="deposit_kind")
    raw = (value or "").strip()
    if kind == DepositKind.NONE:
        amount = 0
    elif kind == DepositKind.PERCENT:
        amount = _percent_bps(raw)
    else:
        if not raw:
            raise DomainError("Enter the deposit amount, like 150.", field="deposit_value")
        amount = billing.parse_money(raw, field="deposit_value", label="Deposit")
        if amount < MINIMUM_CENTS:
            raise DomainError(
                f"The smallest deposit is {money(MINIMUM_CENTS)} (Stripe's minimum).",
                field="deposit_value",
            )
    settings = billing.billing_settings_for(company)
    settings.deposit_kind = kind
    settings.deposit_value = amount
    db.session.flush()
    return settings


def _percent_bps(raw: str) -> int:
    text = raw.removesuffix("%").strip()
    try:
        percent = Decimal(text)
    except InvalidOperation:
        raise DomainError("Enter a percent like 25 or 12.5.", field="deposit_value") from None
    if not percent.is_finite() or percent < 1 or percent > 100:
        raise DomainError("A percent deposit is between 1% and 100%.", field="deposit_value")
    bps = percent * 100
    if bps != bps.to_integral_value():
        raise DomainError("Use at most 2 decimals in the percent.", field="deposit_value")
    return int(bps)


def deposit_setting_text(settings: BillingSettings) -> str:
    """The setting as the office reads and types it ("25" for 25 %, "150.00")."""
    if settings.deposit_kind == DepositKind.PERCENT:
        return f"{Decimal(settings.deposit_value) / 100:f}".rstrip("0").rstrip(".")
    if settings.deposit_kind == DepositKind.AMOUNT:
        return f"{settings.deposit_value / 100:.2f}"
    return ""


def required_deposit_cents(*, settings: BillingSettings, total_cents: int) -> int:
    """What the setting asks for on an approved total of `total_cents` (0 = no deposit).
    A fixed amount may be more than the total: the caller refuses that."""
    if settings.deposit_kind == DepositKind.PERCENT:
        return billing.round_half_up(total_cents * settings.deposit_value, 10_000)
    if settings.deposit_kind == DepositKind.AMOUNT:
        return settings.deposit_value
    return 0


# -- what the estimate page offers ---------------------------------------------------------


@dataclass(frozen=True)
class DepositOption:
    """What the approved estimate's page shows: `paid` (the deposit received), or the
    `amount_cents` to pay, or `reason` why it cannot be paid now."""

    amount_cents: int
    reason: str | None
    paid: Payment | None = None


def paid_deposit(estimate: Estimate) -> Payment | None:
    """The deposit received on the estimate (succeeded, not refunded in full)."""
    return db.session.scalar(
        sa.select(Payment)
        .where(
            Payment.estimate_id == estimate.id,
            Payment.status == PaymentStatus.SUCCEEDED,
        )
        .order_by(Payment.id)
        .limit(1)
    )


def approved_total_cents(estimate: Estimate) -> int:
    approval = estimate.approval
    return approval.total_cents if approval is not None else 0


def deposit_option(estimate: Estimate) -> DepositOption | None:
    """None when there is nothing to show about a deposit: online payments off, the
    company not connected, the estimate not approved, or no deposit asked for."""
    if not payments_enabled() or estimate.status != EstimateStatus.APPROVED:
        return None
    paid = paid_deposit(estimate)
    if paid is not None:
        return DepositOption(amount_cents=paid.amount_cents, reason=None, paid=paid)
    account = stripe_account(estimate.company)
    settings = billing.current_billing_settings(estimate.company)
    if account is None or settings.deposit_kind == DepositKind.NONE:
        return None
    amount = required_deposit_cents(settings=settings, total_cents=approved_total_cents(estimate))
    return DepositOption(amount_cents=amount, reason=_refusal(estimate, account, settings, amount))


def _refusal(
    estimate: Estimate, account: StripeAccount | None, settings: BillingSettings, amount: int
) -> str | None:
    company = estimate.company.name
    if estimate.status != EstimateStatus.APPROVED or estimate.approval is None:
        return "A deposit can be paid once the estimate is approved."
    if account is None or account.disconnected_at is not None:
        return f"{company} no longer takes payments online. Please contact them to pay."
    if not account.charges_enabled:
        return f"{company} is still setting up online payments. Please try again later."
    if estimate.converted_invoice_id is not None:
        return f"{company} has sent the invoice for this work; please pay that instead."
    if settings.deposit_kind == DepositKind.NONE:
        return f"{company} does not ask for a deposit."
    total = approved_total_cents(estimate)
    if amount > total:
        return (
            f"The deposit {company} asks for ({money(amount)}) is more than this estimate's "
            f"total ({money(total)}). Please contact {company}."
        )
    if amount < MINIMUM_CENTS:
        return (
            f"The deposit ({money(amount)}) is below the smallest online payment "
            f"({money(MINIMUM_CENTS)}). Please contact {company}."
        )
    if _deposit_processing(estimate):
        return "Your deposit is being confirmed. Refresh this page in a minute."
    return None


def _deposit_processing(estimate: Estimate) -> bool:
    return (
        db.session.scalar(
            sa.select(Payment.id).where(
                Payment.estimate_id == estimate.id,
                Payment.status == PaymentStatus.PROCESSING,
            )
        )
        is not None
    )


# -- the Checkout Session ------------------------------------------------------------------


def start_deposit_checkout(
    *,
    estimate: Estimate,
    version: int,
    success_url: str,
    cancel_url: str,
    now: datetime | None = None,
) -> CheckoutSession:
    """The Checkout Session for the estimate's deposit: reused while open for the same
    version and amount, otherwise a new one on the connected account (a direct charge),
    after closing the stale ones. Nothing is charged here."""
    now = now or utcnow()
    with db.session.begin_nested():
        lock_estimate(estimate)
    if paid_deposit(estimate) is not None:
        raise Conflict("Your deposit is already paid. Thank you!", field="deposit")
    account = stripe_account(estimate.company)
    settings = billing.current_billing_settings(estimate.company)
    amount = required_deposit_cents(settings=settings, total_cents=approved_total_cents(estimate))
    reason = _refusal(estimate, account, settings, amount)
    if reason is not None:
        raise PaymentsUnavailable(reason, field="deposit")
    assert account is not None
    if version != estimate.version:
        raise Conflict(
            "This estimate was changed since you opened it. Check it and try again.",
            field="version",
        )
    reused = reuse_open_session(
        _open_deposit_sessions(estimate),
        account=account,
        version=estimate.version,
        amount_cents=amount,
        now=now,
        being_confirmed="Your deposit is being confirmed. Refresh this page in a minute.",
        field="deposit",
    )
    if reused is not None:
        return reused
    return new_session(
        document=estimate,
        account=account,
        amount_cents=amount,
        balance_cents=amount,
        description=f"Deposit on {estimate.label} from {estimate.company.name}",
        metadata={
            "estimate_id": str(estimate.id),
            "estimate_version": str(estimate.version),
            "company_id": str(estimate.company_id),
            "purpose": "deposit",
        },
        client_reference_id=f"estimate-{estimate.id}-v{estimate.version}-deposit",
        idempotency_key=f"deposit-{estimate.id}-{secrets.token_hex(8)}",
        success_url=success_url,
        cancel_url=cancel_url,
        now=now,
        payment_method_types=("card",),
        field="deposit",
    )


def _open_deposit_sessions(estimate: Estimate) -> list[CheckoutSession]:
    return list(
        db.session.scalars(
            sa.select(CheckoutSession)
            .where(
                CheckoutSession.estimate_id == estimate.id,
                CheckoutSession.status == CheckoutStatus.OPEN,
            )
            .order_by(CheckoutSession.id)
        )
    )


# -- Stripe's events -----------------------------------------------------------------------


def estimate_for(account: StripeAccount, metadata: dict[str, Any]) -> Estimate | None:
    """The estimate the metadata names, only if it belongs to the account's company."""
    return owned_document(Estimate, account, (metadata or {}).get("estimate_id"))


def deposit_event(
    *,
    account: StripeAccount,
    estimate: Estimate,
    event_type: str,
    session: dict[str, Any],
    now: datetime,
    refund_excess: Callable[..., None],
) -> str:
    """A Checkout event of a deposit session, for an estimate not (yet) turned into an
    invoice (the caller locked the estimate's row and looked). Paid: the deposit is
    recorded once per PaymentIntent; a second deposit (two tabs) is refunded at once."""
    if follow_session(deposit_session(estimate, str(session.get("id"))), event_type):
        return "deposit session expired"
    if event_type != "checkout.session.completed" or session.get("payment_status") != "paid":
        return "ignored: a deposit is paid by card (no bank debit)"
    found = paid_intent(session)
    if found is None:
        return "ignored: no payment intent or amount"
    intent, amount = found
    if payment_by_intent(account.company_id, intent) is not None:
        return "duplicate payment"
    if paid_deposit(estimate) is not None:
        refund_excess(account=account, invoice=estimate, intent=intent, excess=amount, now=now)
        return "refunded: the deposit was already paid"
    payment = Payment(
        company_id=estimate.company_id,
        estimate_id=estimate.id,
        invoice_id=None,
        amount_cents=amount,
        method=PaymentMethod.CARD,
        status=PaymentStatus.SUCCEEDED,
        received_at=now,
        stripe_payment_intent_id=intent,
        stripe_checkout_session_id=session.get("id"),
        note=f"Deposit on {estimate.label}",
    )
    if not add_payment_once(payment):
        return "duplicate payment"
    office_notice(
        invoice=estimate,
        body=f"{estimate.customer.name} paid a deposit of {money(amount)} on "
        f"{estimate.label} online (card).",
        dedupe_key=f"stripe:{intent}:deposit",
        now=now,
    )
    # Only the delivery that inserted the payment gets here, and the receipt's dedupe key
    # is the payment's: one text however many times Stripe delivers the event.
    payment_texts.queue_deposit_receipt(estimate=estimate, payment=payment)
    return "deposit recorded"


def deposit_session(estimate: Estimate, stripe_session_id: str) -> CheckoutSession | None:
    return db.session.scalar(
        sa.select(CheckoutSession).filter_by(
            estimate_id=estimate.id, stripe_session_id=stripe_session_id
        )
    )


def lock_estimate(estimate: Estimate) -> None:
    """The lock `billing.take_deposits` takes too: a conversion to an invoice happening
    now either already moved the deposits (`converted_invoice_id` is then set) or waits."""
    lock_document(estimate)

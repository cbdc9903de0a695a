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

Modules: `accounts` (Connect), `checkout` (what can be paid, the Checkout Session, office
refunds), `deposits` (the deposit on an approved estimate), `events` (the webhook's
events), `common` (what they share).
"""

from app.services.online_payments.accounts import (
    adopt_account,
    disconnect,
    refresh_account,
    set_partial_payments,
    start_connect,
)
from app.services.online_payments.checkout import (
    PayOption,
    parse_amount,
    pay_option,
    payable_cents,
    processing_cents,
    refund_payment,
    session_for_invoice,
    start_checkout,
)
from app.services.online_payments.common import (
    MINIMUM_CENTS,
    PaymentsUnavailable,
    active_account,
    payments_enabled,
    stripe_account,
)
from app.services.online_payments.deposits import (
    DepositOption,
    deposit_option,
    deposit_setting_text,
    paid_deposit,
    required_deposit_cents,
    set_deposit,
    start_deposit_checkout,
)
from app.services.online_payments.events import HANDLED, handle_event

__all__ = [
    "HANDLED",
    "MINIMUM_CENTS",
    "DepositOption",
    "PayOption",
    "PaymentsUnavailable",
    "active_account",
    "adopt_account",
    "deposit_option",
    "deposit_setting_text",
    "disconnect",
    "handle_event",
    "paid_deposit",
    "parse_amount",
    "pay_option",
    "payable_cents",
    "payments_enabled",
    "processing_cents",
    "refresh_account",
    "refund_payment",
    "required_deposit_cents",
    "session_for_invoice",
    "set_deposit",
    "set_partial_payments",
    "start_checkout",
    "start_connect",
    "start_deposit_checkout",
    "stripe_account",
]

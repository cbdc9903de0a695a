"""Online payments through Stripe Connect: each company's connected account, the hosted
Checkout Sessions made for its invoices, and the Stripe events already handled.

The money itself is a `Payment` (app/models/billing.py), unique per (company, PaymentIntent).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class StripeAccount(db.Model):
    """A company's Standard connected account. The latest row is the current one;
    disconnecting keeps the row (with `disconnected_at`) and connecting again adds a new
    one, so late events of an old account (an ACH debit clearing) still find the company."""

    __tablename__ = "stripe_accounts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    account_id: so.Mapped[str] = so.mapped_column(sa.String(255), unique=True)
    charges_enabled: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    details_submitted: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # Set when onboarding finished and charges were first enabled.
    connected_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    disconnected_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    connected_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    @property
    def active(self) -> bool:
        """Customers can pay into it now."""
        return self.charges_enabled and self.disconnected_at is None


class CheckoutStatus:
    OPEN = "open"
    COMPLETE = "complete"  # paid, or an ACH debit started
    EXPIRED = "expired"  # timed out, or closed because the balance changed


class CheckoutSession(db.Model):
    """A Stripe Checkout Session made for one invoice at one version and balance, or for
    the deposit on one approved estimate (`estimate_id`, no `invoice_id`; the version is
    the estimate's). Reused while open, unexpired and still for the same amount; otherwise
    closed and replaced."""

    __tablename__ = "checkout_sessions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    invoice_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    estimate_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("estimates.id", ondelete="CASCADE"), index=True
    )
    stripe_session_id: so.Mapped[str] = so.mapped_column(sa.String(255), unique=True)
    account_id: so.Mapped[str] = so.mapped_column(sa.String(255))
    # The version of the document it was made for (the invoice's, or the estimate's).
    invoice_version: so.Mapped[int] = so.mapped_column()
    balance_cents: so.Mapped[int] = so.mapped_column(sa.BigInteger)  # the balance when made
    amount_cents: so.Mapped[int] = so.mapped_column(sa.BigInteger)  # what it charges
    url: so.Mapped[str] = so.mapped_column(sa.Text)
    status: so.Mapped[str] = so.mapped_column(sa.String(10), default=CheckoutStatus.OPEN)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class StripeEvent(db.Model):
    """A Stripe event already handled: the unique event id is what makes a replay (Stripe
    retries for three days) or a concurrent duplicate delivery do nothing."""

    __tablename__ = "stripe_events"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    event_id: so.Mapped[str] = so.mapped_column(sa.String(255), unique=True)
    type: so.Mapped[str] = so.mapped_column(sa.String(80))
    account_id: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    company_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    # What the handler made of it: "recorded", "ignored: <why>", ...
    outcome: so.Mapped[str] = so.mapped_column(sa.String(255), default="")
    received_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

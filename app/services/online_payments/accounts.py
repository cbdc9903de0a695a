"""Connect: a company's Standard Stripe account, made and onboarded through Account
Links; its state read from Stripe; disconnecting."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Company,
    StripeAccount,
    User,
    utcnow,
)
from app.payments import gateway
from app.payments.gateway import PaymentGatewayError
from app.services import billing
from app.services.online_payments.common import (
    PaymentsUnavailable,
    expire_session,
    open_sessions,
    payments_enabled,
    stripe_account,
)


def start_connect(*, company: Company, actor: User, return_url: str, refresh_url: str) -> str:
    """The Stripe onboarding URL for the company's Standard account (made on first use;
    a company that disconnected gets a new account)."""
    if not payments_enabled():
        raise PaymentsUnavailable("Stripe is not configured on this server.")
    account = stripe_account(company)
    try:
        if account is None or account.disconnected_at is not None:
            # A new row: the old account's rows stay, so its late events (an ACH debit
            # clearing, a refund) still find the company.
            remote = gateway.create_account(
                email=company.email or actor.email,
                business_name=company.name,
                company_id=company.id,
            )
            account = StripeAccount(
                company_id=company.id,
                account_id=remote.id,
                charges_enabled=remote.charges_enabled,
                details_submitted=remote.details_submitted,
                connected_by_id=actor.id,
            )
            db.session.add(account)
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
    account = db.session.scalar(sa.select(StripeAccount).filter_by(account_id=remote.id))
    if account is None or account.company_id != company.id:
        account = StripeAccount(company_id=company.id, account_id=remote.id)
        db.session.add(account)
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
    for session in open_sessions(company_id=company.id):
        expire_session(session)
    account.disconnected_at = now or utcnow()
    db.session.flush()
    return True


def set_partial_payments(*, company: Company, allowed: bool) -> None:
    billing.billing_settings_for(company).allow_partial_payments = allowed
    db.session.flush()

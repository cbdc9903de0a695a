"""An open Checkout Session is expired at Stripe as soon as the office edits the invoice
(a new version), through the real `stripe` SDK against the fake over HTTP; Stripe's signed
`checkout.session.expired` event follows."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
import stripe

from app.extensions import db
from app.models import CheckoutSession, CheckoutStatus, StripeEvent
from app.payments import gateway
from app.services import billing, online_payments
from app.services.errors import Conflict


def _expire_requests(fake, session: CheckoutSession) -> list[tuple[str, str, str]]:
    path = f"/v1/checkout/sessions/{session.stripe_session_id}/expire"
    return [r for r in fake.requests if r[1] == path]


def _add_line(invoice) -> None:
    billing.add_line_item(
        document=invoice,
        option=None,
        description="Extra part",
        quantity_milli=1000,
        unit_price_cents=1000,
        taxable=False,
    )


def test_editing_the_invoice_expires_its_open_session_at_stripe(paying):
    session = paying.checkout()
    old_version = paying.invoice.version
    _add_line(paying.invoice)
    db.session.commit()

    assert _expire_requests(paying.fake, session) == [
        ("POST", f"/v1/checkout/sessions/{session.stripe_session_id}/expire", session.account_id)
    ]
    db.session.refresh(session)
    assert session.status == CheckoutStatus.EXPIRED
    # The customer's open Checkout page can no longer be paid.
    with pytest.raises(Exception, match="expired"):
        paying.fake.pay_with_card(session.stripe_session_id)

    # Stripe's signed event arrives and is taken (once) without changing anything else.
    [delivery] = paying.fake.deliver_pending()
    assert (delivery.type, delivery.status) == ("checkout.session.expired", 200)
    stored = db.session.scalar(sa.select(StripeEvent).filter_by(event_id=delivery.event_id))
    assert stored.outcome == "session expired"

    # The page the customer had (the old version) is refused; the new one gets a new session.
    with pytest.raises(Conflict, match="changed since you opened it"):
        online_payments.start_checkout(
            invoice=paying.invoice,
            version=old_version,
            amount_cents=9500,
            success_url="http://t/s",
            cancel_url="http://t/c",
        )
    db.session.rollback()
    fresh = paying.checkout()
    assert fresh.id != session.id and fresh.amount_cents == 10500


def test_details_edit_expires_too_but_an_unchanged_save_does_not(paying):
    session = paying.checkout()
    invoice = paying.invoice

    def save(title: str) -> None:
        billing.update_invoice_details(
            invoice=invoice,
            title=title,
            tax_rate_mpct=invoice.tax_rate_mpct,
            discount_kind=invoice.discount_kind,
            discount_value=invoice.discount_value,
            notes=invoice.notes,
            internal_notes=invoice.internal_notes,
            terms=invoice.terms,
            payment_instructions=invoice.payment_instructions,
            due_on=invoice.due_on,
        )
        db.session.commit()

    save(invoice.title)  # nothing the customer sees changed: no new version
    assert _expire_requests(paying.fake, session) == []
    save("Kitchen sink and faucet")
    assert len(_expire_requests(paying.fake, session)) == 1
    db.session.refresh(session)
    assert session.status == CheckoutStatus.EXPIRED


def test_stripe_unreachable_while_editing_keeps_the_edit(paying):
    session = paying.checkout()
    paying.fake.fail_next(1, status=500)
    _add_line(paying.invoice)
    db.session.commit()
    db.session.refresh(session)
    # Still open here, so the next Pay tries again; the version check refuses the old page.
    assert session.status == CheckoutStatus.OPEN
    assert paying.invoice.version == session.invoice_version + 1
    fresh = paying.checkout()
    assert fresh.id != session.id
    db.session.refresh(session)
    assert session.status == CheckoutStatus.EXPIRED


def test_the_fakes_expire_endpoint_answers_like_stripe(paying):
    session = paying.checkout()
    client = gateway.client()
    options = {"stripe_account": session.account_id}
    expired = client.v1.checkout.sessions.expire(session.stripe_session_id, options=options)
    assert (expired.object, expired.id, expired.status) == (
        "checkout.session",
        session.stripe_session_id,
        "expired",
    )
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.checkout.sessions.expire(session.stripe_session_id, options=options)
    assert again.value.http_status == 400
    assert 'Only Checkout Sessions with a status in ["open"] can be expired' in str(again.value)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.expire("cs_test_nope", options=options)
    assert missing.value.http_status == 404 and missing.value.code == "resource_missing"
    # Without the Stripe-Account header the connected account's session does not exist.
    with pytest.raises(stripe.InvalidRequestError) as platform:
        client.v1.checkout.sessions.expire(session.stripe_session_id)
    assert platform.value.http_status == 404
    # The event is signed as Stripe signs it: the SDK's own verifier accepts it.
    event = paying.fake.event("checkout.session.expired")
    payload = json.dumps(event)
    verified = stripe.Webhook.construct_event(
        payload, paying.fake.sign(payload), paying.fake.webhook_secret
    )
    assert verified["data"]["object"]["id"] == session.stripe_session_id

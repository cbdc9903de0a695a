"""The fake Stripe as the real `stripe` SDK sees it over HTTP: paths, JSON shapes, error
bodies, the Stripe-Account header, and signed events the SDK's own verifier accepts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import stripe

from app.models import utcnow
from app.payments import gateway
from app.payments.fake_stripe import decode_form


def _session(account_id: str, amount: int = 1000, **overrides):
    params = {
        "account_id": account_id,
        "amount_cents": amount,
        "description": "Invoice #1",
        "metadata": {"invoice_id": "1"},
        "client_reference_id": "invoice-1-v1",
        "success_url": "http://x/s?checkout={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://x/c",
        "expires_at": utcnow() + timedelta(hours=2),
        "application_fee_cents": 30,
        "customer_email": None,
        "idempotency_key": f"k-{amount}",
    }
    params.update(overrides)
    return gateway.create_checkout_session(**params)


def test_stripe_nested_form_encoding_is_decoded():
    body = "a[0]=card&a[1]=us_bank_account&m[invoice_id]=7&l[0][price_data][unit_amount]=5"
    assert decode_form(body) == {
        "a": ["card", "us_bank_account"],
        "m": {"invoice_id": "7"},
        "l": [{"price_data": {"unit_amount": "5"}}],
    }


def test_account_onboarding_and_a_direct_charge_session(stripe_fake):
    account = gateway.create_account(email="o@example.com", business_name="Acme", company_id=1)
    assert account.id.startswith("acct_") and account.charges_enabled is False
    link = gateway.onboarding_link(
        account_id=account.id, refresh_url="http://x/r", return_url="http://x/ok"
    )
    assert "/dev/stripe/connect/" in link

    with pytest.raises(gateway.PaymentGatewayError, match="cannot currently make charges"):
        _session(account.id)
    stripe_fake.complete_onboarding(account.id)
    assert gateway.retrieve_account(account.id).charges_enabled is True

    session = _session(account.id)
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.amount_total == 1000 and session.url.endswith(session.id)
    # Made on the connected account: invisible to the platform and to another account.
    assert ("POST", "/v1/checkout/sessions", account.id) in stripe_fake.requests
    with pytest.raises(gateway.PaymentGatewayError) as missing:
        gateway.retrieve_checkout_session(account_id="", session_id=session.id)
    assert missing.value.status == 404 and missing.value.code == "resource_missing"
    with pytest.raises(gateway.PaymentGatewayError) as foreign:
        gateway.retrieve_checkout_session(account_id="acct_nobody", session_id=session.id)
    assert foreign.value.status == 403


def test_error_bodies_are_stripes(stripe_fake):
    account = gateway.create_account(email=None, business_name="Acme", company_id=1)
    stripe_fake.complete_onboarding(account.id)
    with pytest.raises(gateway.PaymentGatewayError) as small:
        _session(account.id, amount=20)
    assert small.value.code == "amount_too_small" and small.value.status == 400
    stripe_fake.fail_next(1, status=500)
    with pytest.raises(gateway.PaymentGatewayError) as broken:
        gateway.retrieve_account(account.id)
    assert broken.value.status == 500


def test_card_payment_refund_and_signed_events(app, stripe_fake):
    account = gateway.create_account(email=None, business_name="Acme", company_id=1)
    stripe_fake.complete_onboarding(account.id)
    session = _session(account.id)
    stripe_fake.pay_with_card(session.id)
    paid = gateway.retrieve_checkout_session(account_id=account.id, session_id=session.id)
    assert paid.status == "complete" and paid.payment_status == "paid"
    event = stripe_fake.event("checkout.session.completed")
    assert event["account"] == account.id
    assert event["data"]["object"]["metadata"] == {"invoice_id": "1"}
    assert "_line_items" not in event["data"]["object"]

    refund = gateway.refund(
        account_id=account.id,
        payment_intent=paid.payment_intent,
        amount_cents=400,
        idempotency_key="r",
    )
    assert refund.amount == 400 and refund.status == "succeeded"
    with pytest.raises(gateway.PaymentGatewayError) as too_much:
        gateway.refund(
            account_id=account.id,
            payment_intent=paid.payment_intent,
            amount_cents=700,
            idempotency_key="r2",
        )
    assert too_much.value.code == "amount_too_large"
    charge = stripe_fake.event("charge.refunded")["data"]["object"]
    assert charge["amount_refunded"] == 400 and charge["refunded"] is False

    # The SDK's own verifier accepts what the fake signs, and only that.
    payload = json.dumps(event)
    header = stripe_fake.sign(payload)
    secret = app.config["STRIPE_WEBHOOK_SECRET"]
    assert stripe.Webhook.construct_event(payload, header, secret).id == event["id"]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(payload.replace("1000", "1"), header, secret)


def test_declined_card_leaves_the_session_open(stripe_fake):
    account = gateway.create_account(email=None, business_name="Acme", company_id=1)
    stripe_fake.complete_onboarding(account.id)
    session = _session(account.id)
    with pytest.raises(Exception, match="declined"):
        stripe_fake.pay_with_card(session.id, decline=True)
    again = gateway.retrieve_checkout_session(account_id=account.id, session_id=session.id)
    assert again.status == "open"
    gateway.expire_checkout_session(account_id=account.id, session_id=session.id)
    assert (
        gateway.retrieve_checkout_session(account_id=account.id, session_id=session.id).status
        == "expired"
    )


def test_the_in_process_client_speaks_to_the_same_fake(app, stripe_fake):
    """`make run` hands the SDK's requests to the fake in-process (no STRIPE_API_BASE_URL)."""
    app.config["STRIPE_API_BASE_URL"] = ""
    account = gateway.create_account(email=None, business_name="Acme", company_id=1)
    stripe_fake.complete_onboarding(account.id)
    session = _session(account.id)
    assert (
        gateway.retrieve_checkout_session(account_id=account.id, session_id=session.id).status
        == "open"
    )
    with pytest.raises(gateway.PaymentGatewayError) as foreign:
        gateway.retrieve_checkout_session(account_id="acct_nobody", session_id=session.id)
    assert foreign.value.status == 403
    app.config["STRIPE_SECRET_KEY"], key = "sk_test_wrong", app.config["STRIPE_SECRET_KEY"]
    try:
        with pytest.raises(gateway.PaymentGatewayError) as refused:
            gateway.retrieve_account(account.id)
    finally:
        app.config["STRIPE_SECRET_KEY"] = key
    assert refused.value.status == 401


def test_the_in_process_client_streams_what_it_answers(app, stripe_fake):
    """The SDK asks its HTTP client for a stream when it downloads a file: the in-process
    client gives the same body, status and headers as a plain request, to be read."""
    account = gateway.create_account(email=None, business_name="Acme", company_id=1)
    http = gateway.InProcessStripeClient(stripe_fake.api)
    headers = {"Authorization": f"Bearer {app.config['STRIPE_SECRET_KEY']}"}
    url = f"https://api.stripe.com/v1/accounts/{account.id}"
    body, status, response_headers = http.request("get", url, headers)
    stream, stream_status, stream_headers = http.request_stream_with_retries("get", url, headers)
    assert (stream_status, stream_headers) == (status, response_headers)
    assert status == 200 and account.id.encode() in body
    assert stream.read() == body

"""Online payment pages: Pay on /i/<token>, Settings -> Billing -> Online payments, the
fake Stripe's /dev pages."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import CheckoutSession, Invoice, InvoiceStatus, Role
from app.services import billing, online_payments


def _pay_form(html: str) -> str:
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match, "no pay form on the page"
    return match.group(1)


def test_invoice_page_offers_pay_and_sends_the_customer_to_checkout(client, paying):
    invoice = paying.invoice
    page = client.get(f"/i/{invoice.public_token}")
    html = page.get_data(as_text=True)
    assert "Pay $95.00" in html
    version = _pay_form(html)
    response = client.post(f"/i/{invoice.public_token}/pay", data={"version": version})
    assert response.status_code == 303
    assert "/dev/checkout/cs_test_" in response.headers["Location"]

    # On the hosted page: pay by card, back to the invoice, which shows Paid with the date.
    checkout = client.get(response.headers["Location"])
    assert checkout.status_code == 200 and "$95.00" in checkout.get_data(as_text=True)
    back = client.post(response.headers["Location"], data={"action": "card"})
    assert back.status_code == 303 and "checkout=cs_test_" in back.headers["Location"]
    paying.fake.deliver_pending()
    html = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "Paid in full" in html and "We received your payment of $95.00 on" in html
    assert "Pay $95.00" not in html


def test_a_declined_card_says_so_on_the_hosted_page(client, paying):
    session = paying.checkout()
    response = client.post(f"/dev/checkout/{session.stripe_session_id}", data={"action": "decline"})
    assert response.status_code == 402
    assert "Your card was declined." in response.get_data(as_text=True)


def test_bank_payment_shows_processing_on_the_invoice(client, paying):
    session = paying.checkout()
    back = client.post(f"/dev/checkout/{session.stripe_session_id}", data={"action": "bank"})
    paying.fake.deliver_pending()
    html = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "Your bank payment is on its way" in html
    assert "processing since" in html


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("96.00", "That is more than the balance due ($95.00)."),
        ("0", "Enter an amount more than zero."),
        ("-5", "Enter an amount more than zero."),
        ("abc", "Amount"),
    ],
)
def test_bad_partial_amounts_get_a_clear_message(client, paying, amount, message):
    online_payments.set_partial_payments(company=paying.company, allowed=True)
    db.session.commit()
    token = paying.invoice.public_token
    response = client.post(
        f"/i/{token}/pay", data={"version": str(paying.invoice.version), "amount": amount}
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert not [r for r in paying.fake.requests if r[1] == "/v1/checkout/sessions"]


def test_an_outdated_page_is_refused(client, paying):
    token = paying.invoice.public_token
    response = client.post(f"/i/{token}/pay", data={"version": str(paying.invoice.version - 1)})
    assert response.status_code == 409
    assert "changed since you opened it" in response.get_data(as_text=True)


def test_disconnected_company_shows_a_message_not_a_button(client, paying):
    online_payments.disconnect(company=paying.company)
    db.session.commit()
    html = client.get(f"/i/{paying.invoice.public_token}").get_data(as_text=True)
    assert "no longer takes payments online" in html and "Pay $95.00" not in html
    response = client.post(
        f"/i/{paying.invoice.public_token}/pay", data={"version": str(paying.invoice.version)}
    )
    assert response.status_code == 409


def test_void_invoice_cannot_be_paid(client, paying):
    billing.void_invoice(invoice=paying.invoice)
    db.session.commit()
    response = client.post(
        f"/i/{paying.invoice.public_token}/pay", data={"version": str(paying.invoice.version)}
    )
    assert response.status_code == 410
    assert not [r for r in paying.fake.requests if r[1] == "/v1/checkout/sessions"]


def test_owner_connects_stripe_from_billing_settings(client, make, stripe_fake, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    html = client.get("/billing/payments").get_data(as_text=True)
    assert "Connect Stripe" in html
    response = client.post("/billing/payments/connect")
    assert response.status_code == 303 and "/dev/stripe/connect/" in response.headers["Location"]
    onboarding = client.get(response.headers["Location"])
    assert "Finish onboarding" in onboarding.get_data(as_text=True)
    back = client.post(response.headers["Location"], data={"action": "finish"})
    assert back.headers["Location"].endswith("/billing/payments/return")
    done = client.get(back.headers["Location"], follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "Stripe is connected" in html and "Disconnect Stripe" in html
    client.post("/billing/payments/disconnect")
    html = client.get("/billing/payments").get_data(as_text=True)
    assert "Stripe was disconnected" in html and "Connect Stripe" in html


def test_leaving_onboarding_early_connects_nothing(client, make, stripe_fake, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    link = client.post("/billing/payments/connect").headers["Location"]
    back = client.post(link, data={"action": "later"})
    html = client.get("/billing/payments/return", follow_redirects=True).get_data(as_text=True)
    assert back.status_code == 303
    assert "onboarding isn&#39;t finished yet" in html and "Continue Stripe setup" in html


def test_stripe_failing_on_the_way_back_is_flashed(client, make, stripe_fake, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    link = client.post("/billing/payments/connect").headers["Location"]
    client.post(link, data={"action": "finish"})
    stripe_fake.fail_next(1, status=500)
    response = client.get("/billing/payments/return")
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/billing/payments")
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'class="flash flash-error"' in html and "Stripe: " in html
    assert "Stripe is connected" not in html


def test_office_and_tech_users_cannot_connect(client, make, stripe_fake, log_in):
    company = make.company()
    tech = make.user(company, role=Role.TECH)
    db.session.commit()
    log_in(client, tech)
    assert client.get("/billing/payments").status_code == 403
    assert client.post("/billing/payments/connect").status_code == 403


def test_not_configured_says_so(app, client, make, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    key = app.config["STRIPE_SECRET_KEY"]
    app.config["STRIPE_SECRET_KEY"] = ""
    try:
        html = client.get("/billing/payments").get_data(as_text=True)
        assert "Stripe is not configured" in html
        response = client.post("/billing/payments/connect", follow_redirects=True)
        assert "Stripe is not configured" in response.get_data(as_text=True)
    finally:
        app.config["STRIPE_SECRET_KEY"] = key


def test_partial_payments_setting(client, paying, log_in):
    log_in(client, paying.company.owner)
    client.post("/billing/payments/options", data={"allow_partial_payments": "y"})
    html = client.get(f"/i/{paying.invoice.public_token}").get_data(as_text=True)
    assert "Amount to pay (up to $95.00)" in html
    response = client.post(
        f"/i/{paying.invoice.public_token}/pay",
        data={"version": str(paying.invoice.version), "amount": "40"},
    )
    assert response.status_code == 303
    paying.fake.pay_with_card(response.headers["Location"].rsplit("/", 1)[1])
    paying.fake.deliver_pending()
    invoice = db.session.get(Invoice, paying.invoice.id)
    db.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID and invoice.paid_cents == 4000


def test_cancel_on_the_hosted_page_goes_back_with_nothing_charged(client, paying):
    session = paying.checkout()
    back = client.post(f"/dev/checkout/{session.stripe_session_id}", data={"action": "cancel"})
    assert back.headers["Location"].endswith("?canceled=1")
    html = client.get(back.headers["Location"]).get_data(as_text=True)
    assert "Payment canceled. Nothing was charged." in html and "Pay $95.00" in html


def test_bank_payment_clears_on_the_dev_page(client, paying):
    session = paying.checkout()
    client.post(f"/dev/checkout/{session.stripe_session_id}", data={"action": "bank"})
    paying.fake.deliver_pending()
    page = client.get(f"/dev/checkout/{session.stripe_session_id}").get_data(as_text=True)
    assert "The bank payment clears" in page
    client.post(f"/dev/checkout/{session.stripe_session_id}", data={"action": "bank_succeeds"})
    paying.fake.deliver_pending()
    invoice = db.session.get(Invoice, paying.invoice.id)
    db.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PAID


def test_owner_refunds_an_online_payment_from_the_invoice_page(app, client, paying, make, log_in):
    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)
    paying.fake.deliver_pending()
    invoice = db.session.get(Invoice, paying.invoice.id)
    [payment] = invoice.payments
    log_in(client, paying.company.owner)
    page = client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    assert f"/invoices/{invoice.id}/payments/{payment.id}/refund" in page
    too_much = client.post(
        f"/invoices/{invoice.id}/payments/{payment.id}/refund",
        data={"amount": "100.00"},
        follow_redirects=True,
    )
    assert "Refund between $0.01 and $95.00." in too_much.get_data(as_text=True)
    response = client.post(
        f"/invoices/{invoice.id}/payments/{payment.id}/refund", data={"amount": "15.00"}
    )
    assert response.status_code == 303
    paying.fake.deliver_pending()
    db.session.expire_all()
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert invoice.paid_cents == 8000 and invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert "$15.00 refunded" in client.get(f"/invoices/{invoice.id}").get_data(as_text=True)
    # Another company's payment is 404.
    other = make.company("Other")
    db.session.commit()
    stranger = app.test_client()
    log_in(stranger, other.owner)
    assert stranger.post(f"/invoices/{invoice.id}/payments/{payment.id}/refund").status_code == 404


def test_a_double_tap_makes_one_checkout_session(app, paying):
    import threading

    token, version = paying.invoice.public_token, str(paying.invoice.version)
    db.session.commit()
    locations: list[str] = []
    start = threading.Barrier(2)

    def tap() -> None:
        start.wait()
        response = app.test_client().post(f"/i/{token}/pay", data={"version": version})
        locations.append(response.headers.get("Location", str(response.status_code)))

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(locations) == 2 and locations[0] == locations[1], locations
    assert len([r for r in paying.fake.requests if r[:2] == ("POST", "/v1/checkout/sessions")]) == 1


def test_office_invoice_page_shows_a_bank_payment_processing(client, paying, log_in):
    session = paying.checkout()
    paying.fake.pay_with_bank(session.stripe_session_id)
    paying.fake.deliver_pending()
    log_in(client, paying.company.owner)
    html = client.get(f"/invoices/{paying.invoice.id}").get_data(as_text=True)
    assert "Bank payment processing" in html and "Bank account (ACH)" in html
    assert "Processing" in html
    # The office's inbox has the notice, in the customer's conversation.
    inbox = client.get("/inbox", follow_redirects=True).get_data(as_text=True)
    assert paying.invoice.customer.name in inbox


def test_stripe_failing_or_unreachable_is_explained_and_nothing_is_charged(app, client, paying):
    token, version = paying.invoice.public_token, str(paying.invoice.version)
    paying.fake.fail_next(1, status=500)
    response = client.post(f"/i/{token}/pay", data={"version": version})
    assert response.status_code == 409
    assert "Nothing was charged" in response.get_data(as_text=True)
    base = app.config["STRIPE_API_BASE_URL"]
    app.config["STRIPE_API_BASE_URL"] = "http://127.0.0.1:9"  # nothing listens there
    try:
        response = client.post(f"/i/{token}/pay", data={"version": version})
    finally:
        app.config["STRIPE_API_BASE_URL"] = base
    assert response.status_code == 409
    assert "Stripe could not be reached" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckoutSession)) == 0
    # Once Stripe answers again, paying works.
    assert client.post(f"/i/{token}/pay", data={"version": version}).status_code == 303


def test_a_failed_bank_payment_shows_and_pay_is_offered_again(client, paying):
    session = paying.checkout()
    client.post(f"/dev/checkout/{session.stripe_session_id}", data={"action": "bank"})
    client.post(f"/dev/checkout/{session.stripe_session_id}", data={"action": "bank_fails"})
    paying.fake.deliver_pending()
    html = client.get(f"/i/{paying.invoice.public_token}").get_data(as_text=True)
    assert "Bank account (ACH) of" in html and "not received" in html
    assert "Pay $95.00" in html

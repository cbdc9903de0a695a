"""The deposit on an approved estimate: the company's setting, the estimate page's
"Pay deposit", the Checkout Session on the connected account (real `stripe` SDK against
the fake over HTTP), the webhook recording it once, and the invoice made from the estimate
counting it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    CheckoutSession,
    DepositKind,
    Estimate,
    Invoice,
    InvoiceStatus,
    Message,
    MessageKind,
    MessageStatus,
    Payment,
    PaymentStatus,
    RegistrationStatus,
    utcnow,
)
from app.payments import gateway
from app.services import billing, online_payments
from app.services.errors import Conflict, DomainError
from tests.fixtures.payments import connect_company, deliver_at_once, return_urls


def approve(estimate: Estimate) -> Estimate:
    billing.approve_estimate(
        estimate=estimate,
        option_id=estimate.options[0].id,
        signed_name="Pat Customer",
        accepted_terms=True,
        version=estimate.version,
        ip_address="203.0.113.9",
        user_agent="pytest",
    )
    db.session.commit()
    return estimate


@pytest.fixture
def depositing(make, bill, stripe_fake):
    """A connected company asking for a 25 % deposit, and an approved estimate of $180."""

    class Depositing:
        def __init__(self) -> None:
            self.company = make.company("Deposit Plumbing")
            make.number(self.company)
            self.account = connect_company(self.company, stripe_fake)
            online_payments.set_deposit(company=self.company, kind="percent", value="25")
            self.estimate = approve(bill.estimate(self.company))
            self.fake = stripe_fake

        def checkout(self, estimate: Estimate | None = None) -> CheckoutSession:
            estimate = estimate or self.estimate
            page = f"http://testserver.local/e/{estimate.public_token}"
            session = online_payments.start_deposit_checkout(
                estimate=estimate,
                version=estimate.version,
                **return_urls(page),
            )
            db.session.commit()
            return session

        def pay(self) -> Payment:
            session = self.checkout()
            self.fake.pay_with_card(session.stripe_session_id)
            [delivery] = self.fake.deliver_pending()
            assert delivery.status == 200, delivery.body
            return online_payments.paid_deposit(self.estimate)

    return Depositing()


# -- the setting -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "stored"),
    [
        ("none", "", (DepositKind.NONE, 0)),
        ("percent", "25", (DepositKind.PERCENT, 2500)),
        ("percent", "12.5%", (DepositKind.PERCENT, 1250)),
        ("amount", "$150", (DepositKind.AMOUNT, 15000)),
        ("amount", "99.99", (DepositKind.AMOUNT, 9999)),
    ],
)
def test_the_deposit_setting_is_stored(make, kind, value, stored):
    company = make.company()
    settings = online_payments.set_deposit(company=company, kind=kind, value=value)
    assert (settings.deposit_kind, settings.deposit_value) == stored


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("weekly", "5", "Pick whether"),
        ("percent", "0", "between 1% and 100%"),
        ("percent", "0.5", "between 1% and 100%"),
        ("percent", "101", "between 1% and 100%"),
        ("percent", "-5", "between 1% and 100%"),
        ("percent", "ten", "like 25"),
        ("percent", "12.345", "2 decimals"),
        ("percent", "NaN", "between 1% and 100%"),
        ("amount", "", "Enter the deposit amount"),
        ("amount", "0.25", r"smallest deposit is \$0\.50"),
        ("amount", "lots", "like 125"),
    ],
)
def test_a_bad_deposit_setting_is_refused(make, kind, value, message):
    company = make.company()
    with pytest.raises(DomainError, match=message) as caught:
        online_payments.set_deposit(company=company, kind=kind, value=value)
    assert caught.value.field in {"deposit_kind", "deposit_value"}


def test_the_settings_page_saves_the_deposit_and_shows_errors(make, log_in, client, stripe_fake):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    page = client.get("/billing/payments")
    assert page.status_code == 200 and "Deposit on approved estimates" in page.text
    bad = client.post(
        "/billing/payments/deposit", data={"deposit_kind": "percent", "deposit_value": "150"}
    )
    assert bad.status_code == 422 and "between 1% and 100%" in bad.text
    assert 'value="150"' in bad.text  # what was typed is kept
    good = client.post(
        "/billing/payments/deposit", data={"deposit_kind": "amount", "deposit_value": "75"}
    )
    assert good.status_code == 303
    settings = billing.current_billing_settings(company)
    assert (settings.deposit_kind, settings.deposit_value) == ("amount", 7500)
    assert 'value="75.00"' in client.get("/billing/payments").text


# -- paying it --------------------------------------------------------------------------------


def test_the_approved_estimate_page_offers_the_deposit(depositing, client):
    page = client.get(f"/e/{depositing.estimate.public_token}")
    assert page.status_code == 200
    assert "Pay deposit $45.00" in page.text  # 25 % of $180.00


def test_no_deposit_shown_when_not_asked_or_not_connected(depositing, make, bill, client):
    online_payments.set_deposit(company=depositing.company, kind="none", value="")
    db.session.commit()
    assert 'id="deposit"' not in client.get(f"/e/{depositing.estimate.public_token}").text
    other = make.company("Unconnected Co")
    online_payments.set_deposit(company=other, kind="percent", value="25")
    estimate = approve(bill.estimate(other))
    assert "Pay deposit" not in client.get(f"/e/{estimate.public_token}").text


def test_not_offered_before_approval(depositing, bill, client):
    estimate = bill.estimate(depositing.company)
    db.session.commit()
    assert online_payments.deposit_option(estimate) is None
    assert "Pay deposit" not in client.get(f"/e/{estimate.public_token}").text


def test_the_deposit_session_is_a_direct_card_charge_naming_the_estimate(depositing):
    session = depositing.checkout()
    assert session.estimate_id == depositing.estimate.id and session.invoice_id is None
    assert session.amount_cents == 4500
    assert session.invoice_version == depositing.estimate.version
    remote = depositing.fake.objects[depositing.account.account_id][session.stripe_session_id]
    assert remote["metadata"] == {
        "estimate_id": str(depositing.estimate.id),
        "estimate_version": str(depositing.estimate.version),
        "company_id": str(depositing.company.id),
        "purpose": "deposit",
    }
    assert remote["payment_method_types"] == ["card"]
    assert remote["client_reference_id"] == (
        f"estimate-{depositing.estimate.id}-v{depositing.estimate.version}-deposit"
    )
    # Made on the connected account, through the SDK's Stripe-Account header.
    assert (
        "POST",
        "/v1/checkout/sessions",
        depositing.account.account_id,
    ) in depositing.fake.requests
    assert depositing.checkout().id == session.id  # reused while open
    with pytest.raises(Exception, match="us_bank_account"):
        depositing.fake.pay_with_bank(session.stripe_session_id)


def test_paying_records_the_deposit_once_and_the_page_says_so(depositing, client):
    session = depositing.checkout()
    depositing.fake.pay_with_card(session.stripe_session_id)
    event = depositing.fake.pending[0]
    for _ in range(3):
        assert depositing.fake.deliver(event).status == 200
    depositing.fake.pending.clear()
    # A new event id for the same PaymentIntent records nothing either.
    assert depositing.fake.deliver({**event, "id": event["id"] + "_again"}).status == 200
    deposits = list(
        db.session.scalars(sa.select(Payment).filter_by(estimate_id=depositing.estimate.id))
    )
    assert [(p.amount_cents, p.status, p.invoice_id) for p in deposits] == [
        (4500, PaymentStatus.SUCCEEDED, None)
    ]
    page = client.get(f"/e/{depositing.estimate.public_token}?checkout={session.stripe_session_id}")
    assert "Deposit paid" in page.text and "Pay deposit" not in page.text
    notices = db.session.scalars(
        sa.select(Message.body).filter_by(company_id=depositing.company.id, kind=MessageKind.NOTICE)
    )
    assert any("paid a deposit of $45.00" in body for body in notices)
    with pytest.raises(Conflict, match="already paid"):
        depositing.checkout()


def test_the_invoice_made_from_the_estimate_counts_the_deposit(depositing, client):
    depositing.pay()
    invoice = billing.convert_estimate_to_invoice(estimate=depositing.estimate)
    db.session.commit()
    assert invoice.paid_cents == 4500 and invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert billing.invoice_balance_cents(invoice) == 18000 - 4500
    [payment] = invoice.payments
    assert payment.is_deposit and payment.estimate_id == depositing.estimate.id
    page = client.get(f"/i/{invoice.public_token}")
    assert re.search(r"Deposit paid \w+ \d+ · Card</dt><dd>\u2212\$45\.00", page.text)
    assert "$135.00" in page.text
    # And the customer pays the rest online.
    assert online_payments.pay_option(invoice).amount_cents == 13500

    from app.services import documents_pdf
    from tests.services.test_documents_pdf import flat, pdf_pages

    text = flat(" ".join(pdf_pages(documents_pdf.document_pdf(invoice))))
    assert "Deposit paid" in text and "-$45.00" in text and "Balance due $135.00" in text


def test_a_deposit_paid_after_the_invoice_was_made_counts_on_the_invoice(depositing):
    session = depositing.checkout()
    invoice = billing.convert_estimate_to_invoice(estimate=depositing.estimate)
    db.session.commit()
    depositing.fake.pay_with_card(session.stripe_session_id)
    [delivery] = depositing.fake.deliver_pending()
    assert delivery.status == 200
    db.session.expire_all()
    invoice = db.session.get(Invoice, invoice.id)
    assert invoice.paid_cents == 4500
    [payment] = invoice.payments
    assert payment.is_deposit and payment.stripe_payment_intent_id


def _twin_session(depositing):
    """Another tab's session, made at Stripe for the same estimate before the first was
    paid (two requests at once from two devices)."""
    return gateway.create_checkout_session(
        account_id=depositing.account.account_id,
        amount_cents=4500,
        description="Deposit",
        metadata={
            "estimate_id": str(depositing.estimate.id),
            "estimate_version": str(depositing.estimate.version),
            "company_id": str(depositing.company.id),
            "purpose": "deposit",
        },
        client_reference_id="twin",
        success_url="http://t/s",
        cancel_url="http://t/c",
        expires_at=utcnow() + timedelta(hours=2),
        application_fee_cents=0,
        customer_email=None,
        idempotency_key="twin",
        payment_method_types=("card",),
    )


@pytest.mark.parametrize("invoiced", [False, True], ids=["before-invoice", "after-invoice"])
def test_a_second_deposit_from_another_tab_is_refunded(depositing, invoiced):
    first = depositing.checkout()
    twin = _twin_session(depositing)
    depositing.fake.pay_with_card(first.stripe_session_id)
    depositing.fake.deliver_pending()
    if invoiced:
        billing.convert_estimate_to_invoice(estimate=depositing.estimate)
        db.session.commit()
    depositing.fake.pay_with_card(twin.id)
    assert {d.status for d in depositing.fake.deliver_pending()} == {200}
    db.session.expire_all()
    deposits = list(
        db.session.scalars(sa.select(Payment).filter_by(estimate_id=depositing.estimate.id))
    )
    assert [p.amount_cents for p in deposits] == [4500]
    if invoiced:
        assert db.session.get(Invoice, deposits[0].invoice_id).paid_cents == 4500
    refund = depositing.fake.event("charge.refunded")["data"]["object"]
    assert refund["payment_intent"] == twin_intent(depositing, twin.id)
    assert refund["amount_refunded"] == 4500


def twin_intent(depositing, session_id: str) -> str:
    return depositing.fake.find_session(session_id)[1]["payment_intent"]


def test_a_fixed_deposit_above_the_estimate_total_is_refused(depositing, client):
    online_payments.set_deposit(company=depositing.company, kind="amount", value="500")
    db.session.commit()
    option = online_payments.deposit_option(depositing.estimate)
    assert "more than this estimate's total ($180.00)" in option.reason
    with pytest.raises(Conflict, match=r"\(\$500.00\) is more than"):
        depositing.checkout()
    page = client.post(
        f"/e/{depositing.estimate.public_token}/deposit",
        data={"version": str(depositing.estimate.version)},
    )
    assert page.status_code == 409 and "is more than this estimate" in page.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckoutSession)) == 0


def test_the_pay_deposit_button_sends_the_customer_to_checkout(depositing, client):
    response = client.post(
        f"/e/{depositing.estimate.public_token}/deposit",
        data={"version": str(depositing.estimate.version)},
    )
    assert response.status_code == 303
    assert "/dev/checkout/cs_" in response.headers["Location"]
    stale = client.post(f"/e/{depositing.estimate.public_token}/deposit", data={"version": "999"})
    assert stale.status_code == 409 and "changed since you opened it" in stale.text


def test_a_deposit_refund_before_the_invoice_is_recorded(depositing):
    payment = depositing.pay()
    online_payments.refund_payment(payment=payment, amount_cents=4500)
    db.session.commit()
    [delivery] = depositing.fake.deliver_pending()
    assert delivery.status == 200
    db.session.refresh(payment)
    assert payment.status == PaymentStatus.REFUNDED and payment.refunded_cents == 4500
    assert online_payments.paid_deposit(depositing.estimate) is None


def test_the_office_estimate_page_shows_the_deposit(depositing, client, log_in):
    log_in(client, depositing.company.owner)
    url = f"/estimates/{depositing.estimate.id}"
    assert "Deposit of $45.00 asked, not paid yet" in client.get(url).text
    depositing.pay()
    html = client.get(url).text
    assert "Deposit paid</strong> · $45.00 online" in html
    assert "it will count on the invoice you create" in html


def test_ten_concurrent_deliveries_record_one_deposit(depositing):
    session = depositing.checkout()
    depositing.fake.pay_with_card(session.stripe_session_id)
    event = depositing.fake.pending.pop(0)
    estimate_id = depositing.estimate.id
    db.session.commit()
    db.session.close()
    assert deliver_at_once(depositing.fake, event) == [200] * 10
    deposits = list(db.session.scalars(sa.select(Payment).filter_by(estimate_id=estimate_id)))
    assert [p.amount_cents for p in deposits] == [4500]
    # Nothing was refunded: the copies are the same PaymentIntent, not a second deposit.
    assert not [e for e in depositing.fake.events if e["type"] == "charge.refunded"]


def test_no_deposit_checkout_before_approval_or_for_an_unknown_link(depositing, bill, client):
    open_estimate = bill.estimate(depositing.company)
    db.session.commit()
    refused = client.post(
        f"/e/{open_estimate.public_token}/deposit", data={"version": str(open_estimate.version)}
    )
    assert refused.status_code == 409 and "once the estimate is approved" in refused.text
    assert client.post("/e/not-a-real-token-at-all-xx/deposit").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckoutSession)) == 0


# -- the receipt text ------------------------------------------------------------------------


def _receipts(company_id: int, kind: str = MessageKind.DEPOSIT_RECEIPT) -> list[Message]:
    return list(
        db.session.scalars(
            sa.select(Message).filter_by(company_id=company_id, kind=kind).order_by(Message.id)
        )
    )


def test_a_paid_deposit_texts_one_receipt_through_the_outbox(depositing, dispatcher, fake):
    session = depositing.checkout()
    depositing.fake.pay_with_card(session.stripe_session_id)
    event = depositing.fake.pending[0]
    depositing.fake.deliver_pending()
    for n in range(4):  # Stripe's retries, and a second delivery under its own id
        assert depositing.fake.deliver({**event, "id": f"{event['id']}_{n}"}).status == 200
        assert depositing.fake.deliver(event).status == 200
    estimate, customer = depositing.estimate, depositing.estimate.customer
    [receipt] = _receipts(depositing.company.id)
    assert receipt.to_phone == customer.mobile_phone
    assert receipt.body.startswith(
        f"Thank you, {customer.first_name}! Deposit Plumbing received your deposit of $45.00 "
        f"for estimate #{estimate.number}. Details: http"
    )
    assert f"/e/{estimate.public_token}" in receipt.body
    assert receipt.extra["document"] == "estimate"
    assert receipt.extra["document_id"] == estimate.id
    # Written in the webhook's transaction, sent by the outbox worker afterwards.
    assert receipt.status == MessageStatus.PENDING and receipt.twilio_sid is None
    assert not [m for m in fake.outbound() if "received your deposit" in m.body]
    dispatcher().run_once()
    db.session.refresh(receipt)
    assert receipt.twilio_sid is not None
    assert [m.body for m in fake.outbound() if "received your deposit" in m.body] == [receipt.body]


def test_ten_concurrent_deliveries_text_one_receipt(depositing):
    session = depositing.checkout()
    depositing.fake.pay_with_card(session.stripe_session_id)
    event = depositing.fake.pending.pop(0)
    company_id = depositing.company.id
    db.session.commit()
    db.session.close()
    assert deliver_at_once(depositing.fake, event) == [200] * 10
    assert len(_receipts(company_id)) == 1


def test_no_receipt_to_an_opted_out_customer_and_the_deposit_stands(depositing, client, log_in):
    from app.services.inbound import opt_out

    phone = depositing.estimate.customer.mobile_phone
    opt_out(company_id=depositing.company.id, phone=phone, keyword="STOP")
    db.session.commit()
    payment = depositing.pay()
    assert payment.amount_cents == 4500
    assert _receipts(depositing.company.id) == []
    log_in(client, depositing.company.owner)
    html = client.get(f"/estimates/{depositing.estimate.id}").text
    assert "Deposit paid" in html and "No receipt texted" in html


def test_no_receipt_while_the_company_may_not_text(depositing):
    from app.services.registration import find_registration

    registration = find_registration(depositing.company)
    registration.status = RegistrationStatus.PENDING
    db.session.commit()
    assert depositing.pay() is not None
    assert _receipts(depositing.company.id) == []


def test_the_receipt_is_not_held_for_quiet_hours(depositing, monkeypatch):
    # 23:30 in Chicago: a reminder would wait for the morning; the customer who just paid
    # is waiting for their receipt, as for an invoice payment.
    from app.services import texting
    from app.services.quiet_hours import quiet_hours_delay

    late = datetime(2026, 12, 3, 5, 30, tzinfo=UTC)
    customer = depositing.estimate.customer
    assert quiet_hours_delay(
        company=depositing.company,
        phone=customer.mobile_phone,
        kind=MessageKind.REMINDER,
        address=customer.address,
        now=late,
    )
    monkeypatch.setattr(texting, "utcnow", lambda: late)
    depositing.pay()
    [receipt] = _receipts(depositing.company.id)
    assert "quiet_hours" not in receipt.extra
    assert receipt.next_attempt_at.replace(tzinfo=UTC) == late


def test_the_receipt_follows_the_edited_template_and_can_be_turned_off(
    depositing, bill, client, log_in
):
    from app.services.message_templates import save_template, set_template_enabled

    log_in(client, depositing.company.owner)
    page = client.get("/texts").text
    assert "Deposit receipt" in page
    assert client.get(f"/texts/{MessageKind.DEPOSIT_RECEIPT}").status_code == 200
    with pytest.raises(DomainError, match=r"\{invoice_link\} can't be used"):
        save_template(
            company=depositing.company,
            kind=MessageKind.DEPOSIT_RECEIPT,
            body="Paid {amount}: {invoice_link}",
        )
    # Without its link the text still carries it: it is where the customer sees the deposit.
    save_template(
        company=depositing.company,
        kind=MessageKind.DEPOSIT_RECEIPT,
        body="{company_name} got {amount}, {customer_first_name}.",
    )
    db.session.commit()
    depositing.pay()
    [receipt] = _receipts(depositing.company.id)
    link = billing.public_url(depositing.estimate)
    first = depositing.estimate.customer.first_name
    # (The first text to a number also ends with the opt-out line: docs/compliance.md.)
    assert receipt.body.startswith(f"Deposit Plumbing got $45.00, {first}. {link}")

    set_template_enabled(
        company=depositing.company, kind=MessageKind.DEPOSIT_RECEIPT, enabled=False
    )
    second = approve(bill.estimate(depositing.company, depositing.estimate.customer))
    session = depositing.checkout(second)
    depositing.fake.pay_with_card(session.stripe_session_id)
    depositing.fake.deliver_pending()
    assert online_payments.paid_deposit(second) is not None
    assert len(_receipts(depositing.company.id)) == 1


def test_the_receipt_shows_on_the_estimate_progress_and_the_job_timeline(
    depositing, make, bill, client, log_in
):
    from app.services.job_queries import job_timeline

    customer = depositing.estimate.customer
    job = make.job(depositing.company, customer)
    estimate = bill.estimate(depositing.company, customer)
    estimate.job_id = job.id
    db.session.commit()
    depositing.estimate = approve(estimate)
    depositing.pay()
    steps = [(s.label, s.state, s.detail) for s in billing.document_progress(estimate)]
    assert steps[-1] == ("Deposit paid", "done", "$45.00 online. Receipt text: waiting to send.")
    [receipt] = _receipts(depositing.company.id)
    receipt.status = MessageStatus.DELIVERED
    db.session.commit()
    log_in(client, depositing.company.owner)
    progress = client.get(f"/estimates/{estimate.id}/progress").text
    assert "Deposit paid" in progress and "Receipt text: delivered." in progress
    entries = {(e.title, e.detail) for e in job_timeline(job)}
    assert ("Deposit receipt text", receipt.body) in entries


def test_a_deposit_paid_on_the_invoice_texts_the_invoice_receipt_only(depositing):
    session = depositing.checkout()
    invoice = billing.convert_estimate_to_invoice(estimate=depositing.estimate)
    db.session.commit()
    depositing.fake.pay_with_card(session.stripe_session_id)
    depositing.fake.deliver_pending()
    assert _receipts(depositing.company.id) == []
    [receipt] = _receipts(depositing.company.id, MessageKind.PAYMENT_RECEIPT)
    assert f"for invoice #{invoice.number}" in receipt.body
    # The estimate's progress finds that receipt.
    step = billing.document_progress(depositing.estimate)[-1]
    assert (step.label, step.detail) == (
        "Deposit paid",
        "$45.00 online. Receipt text: waiting to send.",
    )

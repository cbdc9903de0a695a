"""Paying a texted invoice through Stripe, end to end: the real `stripe` SDK against the
fake over HTTP, the fake's signed events delivered to POST /webhooks/stripe."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    CheckoutSession,
    CheckoutStatus,
    Invoice,
    InvoiceStatus,
    Message,
    MessageKind,
    Payment,
    PaymentMethod,
    PaymentStatus,
    StripeEvent,
    utcnow,
)
from app.services import billing, online_payments
from app.services.errors import Conflict, DomainError
from tests.fixtures.payments import connect_company, deliver_at_once


def _payments(invoice: Invoice) -> list[Payment]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Payment).filter_by(invoice_id=invoice.id)))


def _notices(invoice: Invoice) -> list[str]:
    return list(
        db.session.scalars(
            sa.select(Message.body).filter_by(
                company_id=invoice.company_id, kind=MessageKind.NOTICE
            )
        )
    )


def test_connect_reads_the_accounts_state_from_stripe(make, stripe_fake):
    company = make.company()
    url = online_payments.start_connect(
        company=company, actor=company.owner, return_url="http://t/ok", refresh_url="http://t/r"
    )
    assert "/dev/stripe/connect/" in url
    # Coming back without finishing onboarding connects nothing.
    assert online_payments.refresh_account(company=company).active is False
    account = online_payments.stripe_account(company)
    stripe_fake.complete_onboarding(account.account_id)
    account = online_payments.refresh_account(company=company)
    assert account.active and account.connected_at is not None


def test_pay_by_card_records_one_card_payment(paying):
    session = paying.checkout()
    assert session.amount_cents == 9500 and session.invoice_version == paying.invoice.version
    assert paying.checkout().id == session.id  # reused: same balance, unexpired
    paying.fake.pay_with_card(session.stripe_session_id)
    [delivery] = paying.fake.deliver_pending()
    assert delivery.status == 200, delivery.body

    [payment] = _payments(paying.invoice)
    assert (payment.method, payment.status, payment.amount_cents) == ("card", "succeeded", 9500)
    assert payment.stripe_payment_intent_id.startswith("pi_")
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_at is not None
    assert any("paid $95.00" in body for body in _notices(invoice))
    assert online_payments.pay_option(invoice).reason == "This invoice is paid in full."


def test_a_declined_card_records_nothing(paying):
    session = paying.checkout()
    with pytest.raises(Exception, match="declined"):
        paying.fake.pay_with_card(session.stripe_session_id, decline=True)
    paying.fake.deliver_pending()
    assert _payments(paying.invoice) == []
    assert billing.invoice_balance_cents(paying.invoice) == 9500


@pytest.fixture
def days_later(monkeypatch):
    """A frozen clock for the webhook handler, `days` after now."""

    def freeze(days: int):
        frozen = utcnow() + timedelta(days=days)
        monkeypatch.setattr(online_payments.events, "utcnow", lambda: frozen)
        return frozen

    return freeze


def test_ach_processing_then_succeeded_days_later(paying, days_later):
    session = paying.checkout()
    paying.fake.pay_with_bank(session.stripe_session_id)
    paying.fake.deliver_pending()
    [payment] = _payments(paying.invoice)
    assert (payment.method, payment.status) == (PaymentMethod.ACH, PaymentStatus.PROCESSING)
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert invoice.paid_cents == 0
    # While the debit is on its way, nothing more can be paid online (no double payment).
    option = online_payments.pay_option(invoice)
    assert option.amount_cents == 0 and "on its way" in option.reason

    cleared = days_later(4)
    paying.fake.settle_bank(session.stripe_session_id, succeed=True)
    paying.fake.deliver_pending()
    [payment] = _payments(paying.invoice)
    assert (payment.method, payment.status) == (PaymentMethod.ACH, PaymentStatus.SUCCEEDED)
    assert payment.received_at.replace(tzinfo=None) == cleared.replace(tzinfo=None)
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_cents == 9500


def test_ach_failure_days_later_reopens_the_balance_and_tells_the_office(paying, days_later):
    session = paying.checkout()
    paying.fake.pay_with_bank(session.stripe_session_id)
    paying.fake.deliver_pending()
    days_later(5)
    paying.fake.settle_bank(session.stripe_session_id, succeed=False)
    paying.fake.deliver_pending()
    [payment] = _payments(paying.invoice)
    assert payment.status == PaymentStatus.FAILED
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert invoice.paid_cents == 0 and invoice.status != InvoiceStatus.PAID
    assert online_payments.pay_option(invoice).amount_cents == 9500
    assert any("bank payment of $95.00" in body and "failed" in body for body in _notices(invoice))


def test_refund_is_recorded_from_charge_refunded(paying):
    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)
    paying.fake.deliver_pending()
    [payment] = _payments(paying.invoice)
    online_payments.refund_payment(payment=payment, amount_cents=2000)
    db.session.commit()
    paying.fake.deliver_pending()
    [payment] = _payments(paying.invoice)
    assert payment.refunded_cents == 2000 and payment.status == PaymentStatus.SUCCEEDED
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert invoice.paid_cents == 7500 and invoice.status == InvoiceStatus.PARTIALLY_PAID
    online_payments.refund_payment(payment=payment, amount_cents=7500)
    db.session.commit()
    paying.fake.deliver_pending()
    [payment] = _payments(paying.invoice)
    assert payment.status == PaymentStatus.REFUNDED
    assert db.session.get(Invoice, paying.invoice.id).paid_cents == 0


def test_replayed_five_times_records_one_payment(paying):
    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)
    event = paying.fake.pending[0]
    for _ in range(5):
        assert paying.fake.deliver(event).status == 200
    paying.fake.pending.clear()
    assert len(_payments(paying.invoice)) == 1
    assert db.session.get(Invoice, paying.invoice.id).paid_cents == 9500
    # Even as a new event (a different id, same PaymentIntent), no second payment.
    copy = {**event, "id": event["id"] + "_again"}
    assert paying.fake.deliver(copy).status == 200
    assert len(_payments(paying.invoice)) == 1


def test_ten_concurrent_deliveries_record_one_payment(paying):
    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)
    event = paying.fake.pending.pop(0)
    invoice_id = paying.invoice.id
    db.session.commit()
    db.session.close()
    # Half the same event, half copies with their own ids: both must dedupe.
    assert deliver_at_once(paying.fake, event) == [200] * 10
    invoice = db.session.get(Invoice, invoice_id)
    assert len(_payments(invoice)) == 1
    assert invoice.paid_cents == 9500


@pytest.mark.parametrize("how", ["unsigned", "tampered", "wrong secret"])
def test_unsigned_or_tampered_events_are_refused(paying, client, how):
    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)
    event = paying.fake.pending.pop(0)
    payload = json.dumps(event)
    headers = {"Stripe-Signature": paying.fake.sign(payload)}
    if how == "unsigned":
        headers = {}
    elif how == "tampered":
        payload = payload.replace('"amount_total": 9500', '"amount_total": 1')
    else:
        headers = {
            "Stripe-Signature": paying.fake.sign(payload).split(",v1=")[0] + ",v1=" + "0" * 64
        }
    response = client.post(
        "/webhooks/stripe", data=payload, headers=headers, content_type="application/json"
    )
    assert response.status_code == 403
    assert _payments(paying.invoice) == []
    assert db.session.scalar(sa.select(StripeEvent).filter_by(event_id=event["id"])) is None


def test_an_event_naming_another_companys_invoice_is_ignored_and_logged(paying, make, bill, caplog):
    other = make.company("Other Co")
    victim = bill.invoice(other)
    db.session.commit()
    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)
    event = paying.fake.pending.pop(0)
    event["data"]["object"]["metadata"]["invoice_id"] = str(victim.id)
    with caplog.at_level(logging.WARNING):
        assert paying.fake.deliver(event).status == 200
    assert _payments(victim) == [] and _payments(paying.invoice) == []
    stored = db.session.scalar(sa.select(StripeEvent).filter_by(event_id=event["id"]))
    assert stored.outcome.startswith("ignored")
    assert "ignored" in caplog.text


def test_a_session_for_an_outdated_version_is_refused(paying):
    version = paying.invoice.version
    billing.add_line_item(
        document=paying.invoice,
        option=None,
        description="Extra part",
        quantity_milli=1000,
        unit_price_cents=1000,
        taxable=False,
    )
    db.session.commit()
    assert paying.invoice.version != version
    with pytest.raises(Conflict, match="changed"):
        online_payments.start_checkout(
            invoice=paying.invoice,
            version=version,
            amount_cents=9500,
            success_url="http://t/s",
            cancel_url="http://t/c",
        )
    assert (
        paying.fake.requests.count(("POST", "/v1/checkout/sessions", paying.account.account_id))
        == 0
    )


def test_a_changed_balance_expires_the_old_session(paying):
    first = paying.checkout()
    billing.record_payment(
        invoice=paying.invoice, amount_cents=1500, method="cash", received_at=utcnow()
    )
    db.session.commit()
    second = paying.checkout()
    assert second.id != first.id and second.amount_cents == 8000
    db.session.refresh(first)
    assert first.status == CheckoutStatus.EXPIRED
    with pytest.raises(Exception, match="expired"):
        paying.fake.pay_with_card(first.stripe_session_id)


def test_money_beyond_the_balance_is_refunded_never_overpaid(paying):
    session = paying.checkout()
    # The office records a check for the whole invoice while the customer has Checkout open.
    billing.record_payment(
        invoice=paying.invoice, amount_cents=9000, method="check", received_at=utcnow()
    )
    db.session.commit()
    paying.fake.pay_with_card(session.stripe_session_id)
    paying.fake.deliver_pending()
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert invoice.paid_cents == 9500 and invoice.status == InvoiceStatus.PAID
    online = [p for p in _payments(invoice) if p.stripe_payment_intent_id]
    assert [p.amount_cents for p in online] == [500]
    refund = paying.fake.event("charge.refunded")["data"]["object"]
    assert refund["amount_refunded"] == 9000
    paying.fake.deliver_pending()  # our own refund's event changes nothing counted
    assert db.session.get(Invoice, paying.invoice.id).paid_cents == 9500
    assert any("refunded to them automatically" in body for body in _notices(invoice))


@pytest.mark.parametrize(
    ("amount", "message"),
    [(9600, "more than the balance"), (0, "more than zero"), (-500, "more than zero")],
)
def test_bad_amounts_are_refused_and_nothing_is_charged(paying, amount, message):
    online_payments.set_partial_payments(company=paying.company, allowed=True)
    with pytest.raises(DomainError, match=message):
        online_payments.start_checkout(
            invoice=paying.invoice,
            version=paying.invoice.version,
            amount_cents=amount,
            success_url="http://t/s",
            cancel_url="http://t/c",
        )
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckoutSession)) == 0


def test_partial_amounts_only_when_the_company_allows(paying):
    with pytest.raises(DomainError, match="full balance"):
        paying.checkout(amount=4000)
    online_payments.set_partial_payments(company=paying.company, allowed=True)
    session = paying.checkout(amount=4000)
    paying.fake.pay_with_card(session.stripe_session_id)
    paying.fake.deliver_pending()
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert invoice.paid_cents == 4000 and invoice.status == InvoiceStatus.PARTIALLY_PAID


def test_void_invoice_and_disconnected_company_are_refused(paying, bill):
    billing.void_invoice(invoice=paying.invoice)
    with pytest.raises(Conflict, match="voided"):
        paying.checkout(amount=9500)
    other = bill.invoice(paying.company)
    session = paying.checkout(invoice=other)
    online_payments.disconnect(company=paying.company)
    db.session.commit()
    with pytest.raises(Conflict, match="no longer takes payments online"):
        paying.checkout(amount=9500, invoice=other)
    # The session the customer may still have open was closed at Stripe.
    with pytest.raises(Exception, match="expired"):
        paying.fake.pay_with_card(session.stripe_session_id)


def test_a_session_paid_before_its_event_arrives_is_not_paid_twice(paying):
    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)  # event still on its way
    with pytest.raises(Conflict, match="being confirmed"):
        paying.checkout()
    paying.fake.deliver_pending()
    assert db.session.get(Invoice, paying.invoice.id).status == InvoiceStatus.PAID


def test_a_session_stripe_no_longer_has_is_replaced(paying):
    session = paying.checkout()
    paying.fake.objects[paying.account.account_id].pop(session.stripe_session_id)
    again = paying.checkout()
    assert again.id != session.id


def test_the_pdf_lists_the_online_payment_and_its_refund(paying):
    from app.services import documents_pdf
    from tests.services.test_documents_pdf import flat, pdf_pages

    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)
    paying.fake.deliver_pending()
    invoice = db.session.get(Invoice, paying.invoice.id)
    text = flat(" ".join(pdf_pages(documents_pdf.document_pdf(invoice))))
    assert "· Card -$95.00" in text and "Balance due $0.00" in text
    online_payments.refund_payment(payment=invoice.payments[0], amount_cents=1000)
    db.session.commit()
    paying.fake.deliver_pending()
    invoice = db.session.get(Invoice, paying.invoice.id)
    db.session.refresh(invoice)
    text = flat(" ".join(pdf_pages(documents_pdf.document_pdf(invoice))))
    assert "Refunded $10.00" in text and "Balance due $10.00" in text


def test_an_owner_disconnecting_from_their_stripe_dashboard_stops_payments(paying):
    paying.fake.deauthorize(paying.account.account_id)
    [delivery] = paying.fake.deliver_pending()
    assert delivery.status == 200
    db.session.expire_all()
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert "no longer takes payments online" in online_payments.pay_option(invoice).reason
    with pytest.raises(Conflict, match="no longer takes payments online"):
        paying.checkout(amount=9500)


def test_a_bank_payment_clearing_after_the_invoice_was_paid_is_refunded(paying, days_later):
    session = paying.checkout()
    paying.fake.pay_with_bank(session.stripe_session_id)
    paying.fake.deliver_pending()
    # Meanwhile the customer hands the tech a check for the whole amount.
    invoice = db.session.get(Invoice, paying.invoice.id)
    billing.record_payment(invoice=invoice, amount_cents=9500, method="check", received_at=utcnow())
    db.session.commit()
    days_later(4)
    paying.fake.settle_bank(session.stripe_session_id, succeed=True)
    paying.fake.deliver_pending()
    db.session.expire_all()
    invoice = db.session.get(Invoice, paying.invoice.id)
    assert invoice.paid_cents == 9500 and invoice.status == InvoiceStatus.PAID
    ach = [p for p in invoice.payments if p.method == PaymentMethod.ACH]
    assert [(p.status, p.failure_reason) for p in ach] == [
        (PaymentStatus.FAILED, "Refunded: nothing was due when it cleared.")
    ]
    assert paying.fake.event("charge.refunded")["data"]["object"]["amount_refunded"] == 9500


def test_late_events_of_an_account_replaced_by_a_reconnect_still_count(paying, days_later):
    session = paying.checkout()
    paying.fake.pay_with_bank(session.stripe_session_id)
    paying.fake.deliver_pending()
    old_account = paying.account.account_id
    online_payments.disconnect(company=paying.company)
    db.session.commit()
    new = connect_company(paying.company, paying.fake)
    assert new.account_id != old_account and online_payments.active_account(paying.company) == new
    days_later(3)
    paying.fake.settle_bank(session.stripe_session_id, succeed=True)
    paying.fake.deliver_pending()
    invoice = db.session.get(Invoice, paying.invoice.id)
    db.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PAID
    # A refund goes to the account the money went to.
    online_payments.refund_payment(payment=invoice.payments[0], amount_cents=500)
    db.session.commit()
    assert ("POST", "/v1/refunds", old_account) in paying.fake.requests
    paying.fake.deliver_pending()
    db.session.refresh(invoice)
    assert invoice.paid_cents == 9000


def test_deliver_pending_waits_for_an_event_the_background_thread_took(paying, monkeypatch):
    # Stripe's own delivery (the fake's background thread, started by a browser test) may
    # have taken an event off the queue and be mid-delivery when a test delivers by hand.
    fake = paying.fake
    taken, by_hand = threading.Event(), fake.deliver

    def slow_delivery(event, **kwargs):
        taken.set()
        time.sleep(0.5)
        return by_hand(event, **kwargs)

    monkeypatch.setattr(fake, "deliver", slow_delivery)
    fake.auto_deliver = True
    session = paying.checkout()
    fake.pay_with_card(session.stripe_session_id)
    assert taken.wait(timeout=10)
    fake.auto_deliver = False
    fake.deliver_pending()
    assert db.session.get(Invoice, paying.invoice.id).status == InvoiceStatus.PAID


def test_the_background_delivery_leaves_the_queue_alone_once_switched_off(paying):
    fake = paying.fake
    fake.auto_deliver = True
    fake.pay_with_card(paying.checkout().stripe_session_id)
    fake.deliver_pending()  # returns once the background thread's delivery is in too
    fake.auto_deliver = False
    db.session.expire_all()
    invoice = db.session.get(Invoice, paying.invoice.id)
    online_payments.refund_payment(payment=invoice.payments[0], amount_cents=1000)
    db.session.commit()
    fake._wake.set()  # what its 5 s timer does
    time.sleep(0.3)
    assert [event["type"] for event in fake.pending]

"""The receipt text after an online payment, and the automatic payment reminders."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Invoice, Message, MessageKind, utcnow
from app.services import billing, online_payments, payment_texts
from app.services.errors import DomainError
from app.services.inbound import opt_out


def _texts(invoice: Invoice, kind: str) -> list[Message]:
    return list(
        db.session.scalars(
            sa.select(Message)
            .filter_by(company_id=invoice.company_id, kind=kind)
            .order_by(Message.id)
        )
    )


def test_a_card_payment_texts_a_receipt_once(paying):
    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)
    event = paying.fake.pending[0]
    paying.fake.deliver_pending()
    paying.fake.deliver({**event, "id": event["id"] + "_replay"})
    [receipt] = _texts(paying.invoice, MessageKind.PAYMENT_RECEIPT)
    assert receipt.to_phone == paying.invoice.customer.mobile_phone
    assert "received your payment of $95.00 for invoice #" in receipt.body
    assert paying.invoice.public_token in receipt.body
    assert receipt.job_id == paying.invoice.job_id


def test_no_receipt_to_an_opted_out_customer(paying):
    opt_out(
        company_id=paying.company.id, phone=paying.invoice.customer.mobile_phone, keyword="STOP"
    )
    db.session.commit()
    session = paying.checkout()
    paying.fake.pay_with_card(session.stripe_session_id)
    paying.fake.deliver_pending()
    assert db.session.get(Invoice, paying.invoice.id).paid_cents == 9500
    assert _texts(paying.invoice, MessageKind.PAYMENT_RECEIPT) == []


@pytest.fixture
def sent_invoice(make, bill):
    company = make.company("Remind Co", time_zone="America/Chicago")
    make.number(company)
    invoice = bill.invoice(company)
    billing.send_document(document=invoice, actor=company.owner, send_key=billing.new_send_key())
    payment_texts.update_reminder_settings(
        company=company, basis="sent", first_days=3, second_days=7
    )
    db.session.commit()
    return invoice


def _noon(invoice: Invoice, days: int) -> datetime:
    """Noon in the company's time zone, `days` after the invoice was sent."""
    tz = invoice.company.tz
    local = invoice.sent_at.astimezone(tz) + timedelta(days=days)
    return local.replace(hour=12, minute=0, second=0, microsecond=0).astimezone(
        invoice.sent_at.tzinfo
    )


def test_two_reminders_on_their_days_then_no_more(sent_invoice):
    invoice = sent_invoice
    assert payment_texts.queue_due_payment_reminders(now=_noon(invoice, 2)) == 0
    assert payment_texts.queue_due_payment_reminders(now=_noon(invoice, 3)) == 1
    assert payment_texts.queue_due_payment_reminders(now=_noon(invoice, 3)) == 0
    assert payment_texts.queue_due_payment_reminders(now=_noon(invoice, 6)) == 0
    assert payment_texts.queue_due_payment_reminders(now=_noon(invoice, 7)) == 1
    assert payment_texts.queue_due_payment_reminders(now=_noon(invoice, 30)) == 0
    reminders = _texts(invoice, MessageKind.PAYMENT_REMINDER)
    assert len(reminders) == 2
    assert "has $95.00 due" in reminders[0].body and invoice.public_token in reminders[0].body


def test_no_reminder_in_quiet_hours(sent_invoice):
    late = _noon(sent_invoice, 3) + timedelta(hours=10)  # 22:00 local
    assert payment_texts.queue_due_payment_reminders(now=late) == 0


def test_a_payment_stops_the_reminders(sent_invoice):
    billing.record_payment(
        invoice=sent_invoice, amount_cents=9500, method="check", received_at=utcnow()
    )
    db.session.commit()
    assert payment_texts.queue_due_payment_reminders(now=_noon(sent_invoice, 3)) == 0


def test_never_to_an_opted_out_customer(sent_invoice):
    opt_out(
        company_id=sent_invoice.company_id, phone=sent_invoice.customer.mobile_phone, keyword="STOP"
    )
    db.session.commit()
    assert payment_texts.queue_due_payment_reminders(now=_noon(sent_invoice, 3)) == 0
    assert _texts(sent_invoice, MessageKind.PAYMENT_REMINDER) == []


def test_days_after_the_due_date(sent_invoice):
    payment_texts.update_reminder_settings(
        company=sent_invoice.company, basis="due", first_days=1, second_days=None
    )
    due = sent_invoice.due_on
    days_to_due = (due - billing.company_today(sent_invoice.company, sent_invoice.sent_at)).days
    assert payment_texts.queue_due_payment_reminders(now=_noon(sent_invoice, days_to_due)) == 0
    assert payment_texts.queue_due_payment_reminders(now=_noon(sent_invoice, days_to_due + 1)) == 1


@pytest.mark.parametrize(
    ("first", "second", "field"),
    [
        (None, 3, "first_reminder_days"),
        (5, 5, "second_reminder_days"),
        (400, None, "first_reminder_days"),
    ],
)
def test_reminder_settings_are_checked(sent_invoice, first, second, field):
    with pytest.raises(DomainError) as error:
        payment_texts.update_reminder_settings(
            company=sent_invoice.company, basis="sent", first_days=first, second_days=second
        )
    assert error.value.field == field


def test_office_saves_reminder_settings(client, make, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    bad = client.post(
        "/billing/payments/reminders",
        data={"reminder_basis": "sent", "first_reminder_days": "x", "second_reminder_days": ""},
    )
    assert bad.status_code == 422 and "whole number of days" in bad.get_data(as_text=True)
    ok = client.post(
        "/billing/payments/reminders",
        data={"reminder_basis": "due", "first_reminder_days": "2", "second_reminder_days": "9"},
    )
    assert ok.status_code == 303
    settings = billing.billing_settings_for(company)
    db.session.refresh(settings)
    assert (
        settings.reminder_basis,
        settings.first_reminder_days,
        settings.second_reminder_days,
    ) == (
        "due",
        2,
        9,
    )
    assert online_payments.payments_enabled()


def test_the_jobs_timeline_shows_the_online_payment(paying, make):
    from app.services.job_queries import job_timeline

    job = make.job(paying.company, paying.invoice.customer)
    invoice = billing.create_invoice(company=paying.company, customer=job.customer, job=job)
    billing.add_line_item(
        document=invoice,
        option=None,
        description="Repair",
        quantity_milli=1000,
        unit_price_cents=12000,
        taxable=False,
    )
    db.session.commit()
    session = paying.checkout(invoice=invoice)
    paying.fake.pay_with_card(session.stripe_session_id)
    paying.fake.deliver_pending()
    entries = {(entry.title, entry.detail) for entry in job_timeline(job)}
    assert any(title == "Payment receipt text" and "$120.00" in body for title, body in entries)
    assert any(title == "Note" and "paid $120.00" in body for title, body in entries)


def test_the_outbox_worker_queues_and_sends_due_reminders(sent_invoice, dispatcher, clock, fake):
    clock.now = _noon(sent_invoice, 3)
    worker = dispatcher()
    worker.run_once()  # queues the reminder (and sends what was due before it)
    worker.run_once()
    [reminder] = _texts(sent_invoice, MessageKind.PAYMENT_REMINDER)
    db.session.refresh(reminder)
    assert reminder.twilio_sid is not None
    assert any("has $95.00 due" in m.body for m in fake.outbound())

"""Texts about paying: the receipt after an online payment of an invoice or of an
estimate's deposit, and up to two automatic payment reminders for an unpaid sent invoice.

All are editable templates (Payment receipt, Deposit receipt, Payment reminder) and go
through the outbox (`texting.queue_text`), so an opted-out customer gets nothing (the
reason is logged). Receipts are not held for quiet hours: the customer just paid and is
waiting for them (app/services/quiet_hours.py). Reminders are looked for by the outbox
worker once a minute (`queue_due_payment_reminders`, a row of app/worker/periodic.py),
only inside the customer's texting window (app/services/quiet_hours.py), and stop as soon
as nothing is due: a payment (or an ACH debit on its way), a void, or the second reminder.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.formats import money
from app.models import (
    BillingSettings,
    Company,
    Estimate,
    Invoice,
    InvoiceStatus,
    Message,
    MessageKind,
    Payment,
    PaymentStatus,
)
from app.services import billing
from app.services.errors import DomainError
from app.services.message_templates import get_template, render_text
from app.services.quiet_hours import windows_for
from app.services.texting import TextingUnavailable, queue_text

log = logging.getLogger(__name__)

MAX_REMINDERS = 2


def _body(document: Invoice | Estimate, kind: str, amount_cents: int) -> str | None:
    template = get_template(company=document.company, kind=kind)
    if not template.enabled:
        return None
    values = {**billing.sms_values(document), "amount": money(amount_cents)}
    body = render_text(body=template.body, values=values)
    # A template edited without its link still carries it: it is where the customer
    # sees what they paid.
    link = billing.public_url(document)
    if link not in body:
        body = f"{body.rstrip()} {link}"
    return body


def queue_receipt(*, invoice: Invoice, payment: Payment) -> None:
    """Text the customer a receipt for `payment` (once per payment)."""
    _queue_receipt(invoice, MessageKind.PAYMENT_RECEIPT, payment, payment.invoice_receipt_key)


def queue_deposit_receipt(*, estimate: Estimate, payment: Payment) -> Message | None:
    """Text the customer a receipt for the deposit `payment` on `estimate`, once per
    deposit. None when the template is off or the customer may not be texted (opted out,
    no number, not registered): logged, the deposit stands."""
    return _queue_receipt(
        estimate, MessageKind.DEPOSIT_RECEIPT, payment, payment.deposit_receipt_key
    )


def _queue_receipt(
    document: Invoice | Estimate, kind: MessageKind, payment: Payment, dedupe_key: str
) -> Message | None:
    body = _body(document, kind, payment.amount_cents)
    if body is None:
        return None
    try:
        return queue_text(
            company=document.company,
            to_phone=document.customer.mobile_phone,
            body=body,
            kind=kind,
            customer=document.customer,
            job=document.job,
            dedupe_key=dedupe_key,
            extra={"document": document.kind, "document_id": document.id},
        )
    except TextingUnavailable as blocked:
        log.info("%s for %s not texted (%s)", kind.label.lower(), document.label, blocked.reason)
        return None


# ------------------------------------------------------------------------- reminders


def reminder_due_on(
    *, invoice: Invoice, settings: BillingSettings, company: Company
) -> date | None:
    """The day the invoice's next reminder is due, or None when no more are."""
    if invoice.reminders_sent >= MAX_REMINDERS:
        return None
    days = (
        settings.first_reminder_days
        if invoice.reminders_sent == 0
        else settings.second_reminder_days
    )
    if days is None:
        return None
    if settings.reminder_basis == "due":
        basis = invoice.due_on
    else:
        basis = billing.company_today(company, invoice.sent_at) if invoice.sent_at else None
    return basis + timedelta(days=days) if basis else None


def queue_due_payment_reminders(*, now: datetime) -> int:
    """Queue every payment reminder due at `now`. Flushes only; returns how many."""
    queued = 0
    rows = db.session.execute(
        sa.select(BillingSettings, Company)
        .join(Company, Company.id == BillingSettings.company_id)
        .where(
            sa.or_(
                BillingSettings.first_reminder_days.is_not(None),
                BillingSettings.second_reminder_days.is_not(None),
            )
        )
    ).all()
    for settings, company in rows:
        today = billing.company_today(company, now)
        invoices = db.session.scalars(
            sa.select(Invoice).where(
                Invoice.company_id == company.id,
                Invoice.status.in_(
                    (InvoiceStatus.SENT, InvoiceStatus.VIEWED, InvoiceStatus.PARTIALLY_PAID)
                ),
                Invoice.sent_at.is_not(None),
                Invoice.reminders_sent < MAX_REMINDERS,
            )
        ).all()
        for invoice in invoices:
            due = reminder_due_on(invoice=invoice, settings=settings, company=company)
            if due is None or today < due:
                continue
            customer = invoice.customer
            windows = windows_for(
                company=company, phone=customer.mobile_phone, address=customer.address
            )
            if not windows.allows(now):
                continue  # quiet hours (the company's and the customer's state's): later
            balance = billing.invoice_balance_cents(invoice) - sum(
                p.amount_cents for p in invoice.payments if p.status == PaymentStatus.PROCESSING
            )
            if balance <= 0:
                continue
            queued += _remind(invoice=invoice, balance=balance)
    return queued


def _remind(*, invoice: Invoice, balance: int) -> int:
    number = invoice.reminders_sent + 1
    # Claim the reminder first: two workers at once send it once.
    won = db.session.execute(
        sa.update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.reminders_sent == invoice.reminders_sent)
        .values(reminders_sent=number)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(invoice)
    if not won:
        return 0
    body = _body(invoice, MessageKind.PAYMENT_REMINDER, balance)
    if body is None:
        return 0
    try:
        queue_text(
            company=invoice.company,
            to_phone=invoice.customer.mobile_phone,
            body=body,
            kind=MessageKind.PAYMENT_REMINDER,
            customer=invoice.customer,
            job=invoice.job,
            dedupe_key=f"invoice:{invoice.id}:payment-reminder:{number}",
            extra={"document": invoice.kind, "document_id": invoice.id},
        )
    except TextingUnavailable as blocked:
        # Opted out (or no number): counted as done, so it is not tried every minute.
        log.info("payment reminder %s for %s skipped (%s)", number, invoice.label, blocked.reason)
        return 0
    return 1


def update_reminder_settings(
    *, company: Company, basis: str, first_days: int | None, second_days: int | None
) -> BillingSettings:
    if basis not in ("sent", "due"):
        raise DomainError("Pick when the days count from.", field="reminder_basis")
    for value, field in (
        (first_days, "first_reminder_days"),
        (second_days, "second_reminder_days"),
    ):
        if value is not None and not 0 <= value <= 365:
            raise DomainError("Enter a number of days from 0 to 365.", field=field)
    if first_days is None and second_days is not None:
        raise DomainError("Set the first reminder before the second.", field="first_reminder_days")
    if first_days is not None and second_days is not None and second_days <= first_days:
        raise DomainError(
            "The second reminder must come after the first.", field="second_reminder_days"
        )
    settings = billing.billing_settings_for(company)
    settings.reminder_basis = basis
    settings.first_reminder_days = first_days
    settings.second_reminder_days = second_days
    db.session.flush()
    return settings

"""Recording payments on an invoice, and voiding it."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.formats import money
from app.models import (
    Estimate,
    Invoice,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    User,
    utcnow,
)
from app.services.billing.documents import _clean_text
from app.services.billing.totals import invoice_totals
from app.services.errors import Conflict, DomainError


def record_payment(
    *,
    invoice: Invoice,
    amount_cents: int,
    method: str,
    received_at: datetime,
    note: str | None = None,
    actor: User | None = None,
) -> Payment:
    """Record money received. Partial payments sum up; the invoice is paid when they reach
    its total. More than the balance due is refused (a typo, usually)."""
    if invoice.status == InvoiceStatus.VOID:
        raise Conflict(f"{invoice.label} is void; no payment can be recorded.")
    if method not in PaymentMethod.ALL:
        raise DomainError("Pick how it was paid.", field="method")
    if amount_cents <= 0:
        raise DomainError("Amount must be more than zero.", field="amount")
    total = invoice_totals(invoice).total_cents
    balance = total - invoice.paid_cents
    if balance <= 0:
        raise Conflict(f"{invoice.label} is already paid in full.")
    if amount_cents > balance:
        raise DomainError(f"That is more than the balance due ({money(balance)}).", field="amount")
    # Race-safe: two payments recorded at once both land only if together they fit.
    won = db.session.execute(
        sa.update(Invoice)
        .where(
            Invoice.id == invoice.id,
            Invoice.status != InvoiceStatus.VOID,
            Invoice.paid_cents + amount_cents <= total,
        )
        .values(paid_cents=Invoice.paid_cents + amount_cents)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not won:
        db.session.refresh(invoice)
        raise Conflict("Another payment was recorded at the same time. Check the balance.")
    payment = Payment(
        company_id=invoice.company_id,
        invoice_id=invoice.id,
        amount_cents=amount_cents,
        method=method,
        received_at=received_at,
        note=(note or "").strip()[:255] or None,
        recorded_by_id=actor.id if actor else None,
    )
    db.session.add(payment)
    db.session.flush()
    db.session.refresh(invoice)
    if invoice.paid_cents >= total:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = invoice.paid_at or received_at
    else:
        invoice.status = InvoiceStatus.PARTIALLY_PAID
    db.session.flush()
    return payment


def void_invoice(*, invoice: Invoice, reason: str | None = None) -> bool:
    """Void an invoice: its link answers 410 from now on. Returns False if already void."""
    if invoice.status == InvoiceStatus.VOID:
        return False
    if invoice.paid_cents > 0:
        raise Conflict(
            f"{invoice.label} has payments recorded, so it can't be voided. "
            "Refund the customer outside the app first."
        )
    won = db.session.execute(
        sa.update(Invoice)
        .where(Invoice.id == invoice.id, Invoice.status != InvoiceStatus.VOID)
        .where(Invoice.paid_cents == 0)
        .values(status=InvoiceStatus.VOID, voided_at=utcnow(), void_reason=_clean_text(reason))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(invoice)
    return bool(won)


def take_deposits(*, invoice: Invoice, estimate: Estimate) -> list[Payment]:
    """Move the deposit(s) the customer paid online on `estimate` onto `invoice`, the
    invoice made from it: from now on they count against its balance and show on its page
    and PDF. The estimate's row is locked first, so a deposit the webhook records at this
    very moment either lands before (and is moved here) or after (and finds the invoice)."""
    db.session.execute(sa.select(Estimate.id).where(Estimate.id == estimate.id).with_for_update())
    deposits = list(
        db.session.scalars(
            sa.select(Payment)
            .where(Payment.estimate_id == estimate.id, Payment.invoice_id.is_(None))
            .order_by(Payment.id)
        )
    )
    counted = 0
    for payment in deposits:
        payment.invoice_id = invoice.id
        if payment.status == PaymentStatus.SUCCEEDED:
            counted += payment.amount_cents - payment.refunded_cents
    db.session.flush()
    if counted > 0:
        db.session.execute(
            sa.update(Invoice)
            .where(Invoice.id == invoice.id)
            .values(paid_cents=Invoice.paid_cents + counted)
            .execution_options(synchronize_session=False)
        )
        db.session.refresh(invoice)
        total = invoice_totals(invoice).total_cents
        if invoice.paid_cents >= total:
            invoice.status = InvoiceStatus.PAID
            invoice.paid_at = invoice.paid_at or max(p.received_at for p in deposits)
        else:
            invoice.status = InvoiceStatus.PARTIALLY_PAID
        db.session.flush()
    db.session.refresh(invoice)
    return deposits

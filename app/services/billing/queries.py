"""Reads: a document's progress timeline and the estimate and invoice lists."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.formats import money
from app.models import (
    Company,
    Estimate,
    EstimateOption,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    Message,
    MessageStatus,
    Payment,
    PaymentStatus,
)
from app.services.billing.documents import company_today, estimate_is_expired
from app.services.billing.sending import document_texts
from app.services.billing.totals import Document, option_totals


@dataclass(frozen=True)
class TimelineStep:
    label: str
    at: datetime | None
    state: str  # "done", "todo", "failed"
    detail: str = ""


def document_progress(document: Document) -> list[TimelineStep]:
    """sent -> delivered -> viewed -> approved/declined (estimate) or paid (invoice),
    read from the latest text's Message status and the document's own timestamps."""
    texts = document_texts(document)
    latest = texts[-1] if texts else None
    steps: list[TimelineStep] = []
    if latest is None:
        steps.append(TimelineStep("Sent", None, "todo", "Not texted yet"))
        steps.append(TimelineStep("Delivered", None, "todo"))
    else:
        failed = latest.status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
        queued = latest.status in (MessageStatus.PENDING, MessageStatus.SENDING)
        steps.append(
            TimelineStep(
                "Sent",
                latest.sent_at or (None if queued else latest.created_at),
                "todo" if queued else "done",
                "Waiting to go out" if queued else "",
            )
        )
        if failed:
            steps.append(
                TimelineStep(
                    "Not delivered",
                    latest.updated_at,
                    "failed",
                    latest.error_message or f"Error {latest.error_code or ''}".strip(),
                )
            )
        else:
            steps.append(
                TimelineStep(
                    "Delivered",
                    latest.delivered_at,
                    "done" if latest.status == MessageStatus.DELIVERED else "todo",
                )
            )
    steps.append(
        TimelineStep("Viewed", document.viewed_at, "done" if document.viewed_at else "todo")
    )
    if isinstance(document, Estimate):
        if document.status == EstimateStatus.DECLINED:
            steps.append(
                TimelineStep(
                    "Declined", document.declined_at, "failed", document.decline_reason or ""
                )
            )
        elif estimate_is_expired(document):
            steps.append(TimelineStep("Expired", document.expired_at, "failed"))
        else:
            approval = document.approval
            steps.append(
                TimelineStep(
                    "Approved",
                    document.approved_at,
                    "done" if approval else "todo",
                    f"Signed by {approval.signed_name}" if approval else "",
                )
            )
            deposit = _deposit_step(document) if approval else None
            if deposit is not None:
                steps.append(deposit)
    elif document.status == InvoiceStatus.VOID:
        steps.append(TimelineStep("Void", document.voided_at, "failed", document.void_reason or ""))
    else:
        steps.append(
            TimelineStep(
                "Paid",
                document.paid_at,
                "done" if document.status == InvoiceStatus.PAID else "todo",
                f"{money(document.paid_cents)} received so far"
                if document.status == InvoiceStatus.PARTIALLY_PAID
                else "",
            )
        )
    return steps


def _deposit_step(estimate: Estimate) -> TimelineStep | None:
    """The deposit paid online on the approved estimate, and its receipt text's status
    (queued, delivered, failed), as the other steps read their texts."""
    payment = db.session.scalar(
        sa.select(Payment)
        .where(
            Payment.estimate_id == estimate.id,
            Payment.status.in_((PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED)),
        )
        .order_by(Payment.id.desc())
        .limit(1)
    )
    if payment is None:
        return None
    # Paid once the estimate was an invoice, the deposit got the invoice's receipt.
    keys = [payment.deposit_receipt_key]
    if payment.invoice_id is not None:
        keys.append(payment.invoice_receipt_key)
    receipt = db.session.scalar(
        sa.select(Message)
        .where(Message.company_id == estimate.company_id, Message.dedupe_key.in_(keys))
        .order_by(Message.id)
        .limit(1)
    )
    if receipt is None:
        texted = "No receipt texted (the customer can't be texted, or the text is off)."
    elif receipt.status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        texted = "Receipt text not delivered."
    else:
        texted = f"Receipt text: {MessageStatus.label_for(receipt.status).lower()}."
    refunded = f" ({money(payment.refunded_cents)} refunded)" if payment.refunded_cents else ""
    return TimelineStep(
        "Deposit refunded" if payment.status == PaymentStatus.REFUNDED else "Deposit paid",
        payment.received_at,
        "done",
        f"{money(payment.amount_cents)} online{refunded}. {texted}",
    )


def list_estimates(*, company: Company, status: str | None = None) -> list[Estimate]:
    # The list shows every estimate's total: load options, items and customers up front.
    stmt = (
        sa.select(Estimate)
        .where(Estimate.company_id == company.id)
        .options(
            so.selectinload(Estimate.options).selectinload(EstimateOption.items),
            so.selectinload(Estimate.customer),
            so.selectinload(Estimate.approved_option).selectinload(EstimateOption.items),
        )
    )
    # The tabs follow the status people see: an open estimate past its date is "expired".
    today = company_today(company)
    past_date = sa.and_(
        Estimate.status.in_(EstimateStatus.OPEN),
        Estimate.valid_until.is_not(None),
        Estimate.valid_until < today,
    )
    if status == EstimateStatus.EXPIRED:
        stmt = stmt.where(sa.or_(Estimate.status == EstimateStatus.EXPIRED, past_date))
    elif status in EstimateStatus.OPEN:
        stmt = stmt.where(Estimate.status == status, sa.not_(past_date))
    elif status:
        stmt = stmt.where(Estimate.status == status)
    return list(db.session.scalars(stmt.order_by(Estimate.number.desc()).limit(200)))


def list_invoices(*, company: Company, status: str | None = None) -> list[Invoice]:
    stmt = (
        sa.select(Invoice)
        .where(Invoice.company_id == company.id)
        .options(so.selectinload(Invoice.items), so.selectinload(Invoice.customer))
    )
    if status:
        stmt = stmt.where(Invoice.status == status)
    return list(db.session.scalars(stmt.order_by(Invoice.number.desc()).limit(200)))


def estimate_total_for_list(estimate: Estimate) -> int:
    """The number shown in a list: the approved option, else the cheapest priced option."""
    if estimate.approved_option is not None:
        return option_totals(estimate.approved_option).total_cents
    totals = [option_totals(o).total_cents for o in estimate.options if o.items]
    return min(totals) if totals else 0

"""Sending an estimate or invoice by text, and the texts a document has had."""

from __future__ import annotations

import re
import secrets

import sqlalchemy as sa

from app.extensions import db
from app.formats import day_text, money
from app.models import (
    DocumentText,
    Estimate,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    Message,
    User,
    utcnow,
)
from app.services.billing.documents import estimate_is_expired
from app.services.billing.links import public_url
from app.services.billing.totals import (
    Document,
    invoice_balance_cents,
    invoice_totals,
    option_totals,
)
from app.services.errors import Conflict, DomainError
from app.services.message_templates import get_template, render_text
from app.services.phones import format_phone
from app.services.texting import company_number, queue_text

SEND_KEY_SHAPE = re.compile(r"[A-Za-z0-9_-]{8,64}")


def document_amount_text(document: Document) -> str:
    """The amount a text quotes: the total; for an estimate with options, the range."""
    if isinstance(document, Invoice):
        return money(invoice_balance_cents(document) or invoice_totals(document).total_cents)
    if document.approved_option is not None:
        return money(option_totals(document.approved_option).total_cents)
    totals = sorted({option_totals(o).total_cents for o in document.options if o.items})
    if not totals:
        return money(0)
    if len(totals) == 1:
        return money(totals[0])
    # "for $259.80 or $1,622.38" reads well after the templates' "for"; plain ASCII keeps
    # the text in GSM-7 (an en dash would make it a UCS-2 text of more segments).
    if len(totals) == 2:
        return f"{money(totals[0])} or {money(totals[1])}"
    return f"{money(totals[0])} to {money(totals[-1])}"


def sms_values(document: Document) -> dict[str, str]:
    company = document.company
    customer = document.customer
    number = company_number(company)
    link = public_url(document)
    due = document.valid_until if isinstance(document, Estimate) else document.due_on
    return {
        "customer_first_name": customer.first_name,
        "customer_name": customer.name,
        "company_name": company.name,
        "estimate_link": link if isinstance(document, Estimate) else "",
        "invoice_link": link if isinstance(document, Invoice) else "",
        "amount": document_amount_text(document),
        "due_date": day_text(due, "%b %-d"),
        "document_number": str(document.number),
        "business_phone": format_phone(number.e164 if number else company.business_phone),
    }


def sms_body(document: Document) -> str:
    template = get_template(company=document.company, kind=document.message_kind)
    body = render_text(body=template.body, values=sms_values(document))
    link = public_url(document)
    if link not in body:
        # A template edited without its link placeholder would send a text the customer
        # can do nothing with; the link is the point of the text.
        body = f"{body.rstrip()} {link}"
    return body


def new_send_key() -> str:
    """A one-time key for a send form: a double tap on the same form sends one text."""
    return secrets.token_urlsafe(12)


def send_document(*, document: Document, actor: User | None, send_key: str) -> Message:
    """Text the document's link to the customer (one click; a resend is another click).

    The same `send_key` (one rendered form) queues at most one text. Raises
    TextingUnavailable when the company has no number or the customer opted out."""
    if not SEND_KEY_SHAPE.fullmatch(send_key or ""):
        raise DomainError("The form was stale. Reload the page and try again.")
    if isinstance(document, Estimate):
        if document.superseded_by_id is not None:
            raise Conflict(f"{document.label} was replaced by a revised estimate.")
        if estimate_is_expired(document):
            raise Conflict(f"{document.label} has expired. Change its Valid until date first.")
        if document.status == EstimateStatus.DECLINED:
            raise Conflict(f"{document.label} was declined. Use Revise to make a new version.")
        if not any(option.items for option in document.options):
            raise DomainError("Add at least one line item before sending.", field="items")
    else:
        if document.status == InvoiceStatus.VOID:
            raise Conflict(f"{document.label} is void.")
        if not document.items:
            raise DomainError("Add at least one line item before sending.", field="items")
    dedupe_key = f"{document.kind}:{document.id}:send:{send_key}"
    message = queue_text(
        company=document.company,
        to_phone=document.customer.mobile_phone,
        body=sms_body(document),
        kind=document.message_kind,
        customer=document.customer,
        job=document.job,
        author=actor,
        dedupe_key=dedupe_key,
        extra={"document": document.kind, "document_id": document.id},
    )
    db.session.flush()
    already = db.session.scalar(sa.select(DocumentText.id).filter_by(message_id=message.id))
    if already is None:
        db.session.add(
            DocumentText(
                company_id=document.company_id,
                estimate_id=document.id if isinstance(document, Estimate) else None,
                invoice_id=document.id if isinstance(document, Invoice) else None,
                message_id=message.id,
            )
        )
    model = type(document)
    now = utcnow()
    db.session.execute(
        sa.update(model)
        .where(model.id == document.id, model.status == model.statuses.DRAFT)
        .values(status=model.statuses.SENT, sent_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.flush()
    db.session.refresh(document)
    return message


def document_texts(document: Document) -> list[Message]:
    column = DocumentText.estimate_id if isinstance(document, Estimate) else DocumentText.invoice_id
    return list(
        db.session.scalars(
            sa.select(Message)
            .join(DocumentText, DocumentText.message_id == Message.id)
            .where(column == document.id)
            .order_by(Message.created_at, Message.id)
        )
    )

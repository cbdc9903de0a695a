"""What the billing pages share: URLs, lookups scoped to the document, the fragments'
contexts and responses."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_htmx import make_response
from flask_login import current_user
from wtforms import SelectChoice

from app.extensions import db, htmx
from app.models import (
    Customer,
    Estimate,
    EstimateOption,
    Invoice,
    Job,
    JobStatus,
    LineItem,
)
from app.office.billing.forms import (
    LineItemForm,
    SendForm,
)
from app.services import billing
from app.services.errors import DomainError
from app.services.texting import TextingUnavailable, texting_blocker
from app.tenancy import get_in_company

Document = Estimate | Invoice


def _detail_url(document: Document, anchor: str | None = None) -> str:
    if isinstance(document, Estimate):
        return url_for("office.estimate_detail", estimate_id=document.id, _anchor=anchor)
    return url_for("office.invoice_detail", invoice_id=document.id, _anchor=anchor)


def _item_or_404(item_id: int) -> LineItem:
    """A line item has no company column: it is scoped through its document."""
    item = db.session.get(LineItem, item_id)
    if item is None or billing.line_item_document(item).company_id != current_user.company_id:
        abort(404)
    return item


def _option_or_404(estimate: Estimate, option_id: int) -> EstimateOption:
    option = db.session.get(EstimateOption, option_id)
    if option is None or option.estimate_id != estimate.id:
        abort(404)
    return option


def _first_error(form) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text}: {field.errors[0]}"
    return "Please check the form."


def _fragment(template: str, status: int = 200, trigger: str | None = None, **context):
    return make_response(render_template(template, **context), status, trigger=trigger)


def _items_context(document: Document, option: EstimateOption | None, error: str | None = None):
    if isinstance(document, Estimate):
        assert option is not None
        totals = billing.option_totals(option)
        items = option.items
        key = f"o{option.id}"
        add_url = url_for("office.estimate_item_add", estimate_id=document.id, option_id=option.id)
    else:
        totals = billing.invoice_totals(document)
        items = document.items
        key = f"inv{document.id}"
        add_url = url_for("office.invoice_item_add", invoice_id=document.id)
    return {
        "document": document,
        "option": option,
        "line_items": items,
        "totals": totals,
        "key": key,
        "add_url": add_url,
        "editable": billing.document_is_editable(document),
        "error": error,
        "new_item": LineItemForm(formdata=None),
    }


def _items_response(document: Document, option: EstimateOption | None, error=None, status=200):
    """The fragment for htmx; a redirect (with the error flashed) for a plain form."""
    if htmx:
        db.session.refresh(option or document)
        return _fragment(
            "office/billing/_billing_items.html",
            status,
            **_items_context(document, option, error),
        )
    if error:
        flash(error, "error")
    anchor = f"items-o{option.id}" if option is not None else f"items-inv{document.id}"
    return redirect(_detail_url(document, anchor), code=303)


def _send_context(document: Document, error: str | None = None) -> dict:
    blocker = texting_blocker(company=document.company, phone=document.customer.mobile_phone)
    preview = None
    if blocker is None:
        try:
            preview = billing.sms_body(document)
        except DomainError:
            # Only a preview: no preview rather than no page (sending the text says why).
            preview = None
    return {
        "document": document,
        "blocker": blocker,
        "no_number": blocker is not None and blocker.reason == TextingUnavailable.NO_NUMBER,
        "send_form": SendForm(formdata=None, send_key=billing.new_send_key()),
        "link": billing.public_url(document),
        "preview": preview,
        "texts": billing.document_texts(document),
        "error": error,
    }


def _progress_context(document: Document) -> dict:
    steps = billing.document_progress(document)
    texts = billing.document_texts(document)
    # Poll fast while the text is on its way, slowly while the customer may still act.
    if texts and any(step.state == "todo" for step in steps[:2]):
        poll_seconds = 5
    elif texts and steps[-1].state == "todo":
        poll_seconds = 30
    else:
        poll_seconds = None
    return {"document": document, "steps": steps, "texts": texts, "poll_seconds": poll_seconds}


def _job_choices(company, customer: Customer | None) -> list[SelectChoice]:
    """The chosen customer's jobs (none before a customer is chosen): a document is for one
    customer, so another customer's job is never offered."""
    choices = [SelectChoice(0, "— No job —")]
    if customer is None:
        return choices
    stmt = (
        sa.select(Job)
        .where(Job.company_id == company.id, Job.customer_id == customer.id)
        .where(Job.status != JobStatus.CANCELED)
        .order_by(Job.number.desc())
        .limit(200)
    )
    return choices + [
        SelectChoice(job.id, f"#{job.number} · {job.description}"[:90])
        for job in db.session.scalars(stmt)
    ]


def _customers_job(company, customer: Customer | None, job_id: int | None) -> Job | None:
    """The job `job_id` if it is one of `customer`'s (else None)."""
    job = get_in_company(Job, job_id, company_id=company.id) if job_id else None
    if job is None or customer is None or job.customer_id != customer.id:
        return None
    return job

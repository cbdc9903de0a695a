"""Sending a document by text, revoking its link, and its progress fragment."""

from __future__ import annotations

from flask import flash, redirect
from flask_login import current_user

from app.actions import service_call
from app.auth.access import office_required
from app.extensions import db, htmx
from app.hx_events import BILLING_PROGRESS_CHANGED
from app.models import (
    Estimate,
    Invoice,
)
from app.office import bp
from app.office.billing.forms import (
    SendForm,
)
from app.office.billing.pages import (
    Document,
    _detail_url,
    _fragment,
    _progress_context,
    _send_context,
)
from app.services import billing
from app.tenancy import get_or_404


def _send_response(document: Document, error: str | None = None, status: int = 200):
    if htmx:
        return _fragment(
            "office/billing/_billing_send.html",
            status,
            trigger=BILLING_PROGRESS_CHANGED,
            **_send_context(document, error),
        )
    if error:
        flash(error, "error")
    return redirect(_detail_url(document, "doc-send"), code=303)


@bp.post("/estimates/<int:estimate_id>/send")
@office_required
def estimate_send(estimate_id: int):
    return _send(get_or_404(Estimate, estimate_id))


@bp.post("/invoices/<int:invoice_id>/send")
@office_required
def invoice_send(invoice_id: int):
    return _send(get_or_404(Invoice, invoice_id))


def _send(document: Document):
    form = SendForm()
    with service_call(refresh=(document,)) as call:
        billing.send_document(document=document, actor=current_user, send_key=form.send_key.data)
    if not call.ok:
        return _send_response(document, call.message, call.status_code)
    if not htmx:
        flash(f"{document.label} is on its way to {document.customer.name}.", "success")
    return _send_response(document)


@bp.post("/estimates/<int:estimate_id>/revoke")
@office_required
def estimate_revoke(estimate_id: int):
    return _revoke(get_or_404(Estimate, estimate_id))


@bp.post("/invoices/<int:invoice_id>/revoke")
@office_required
def invoice_revoke(invoice_id: int):
    return _revoke(get_or_404(Invoice, invoice_id))


def _revoke(document: Document):
    billing.revoke_link(document=document)
    db.session.commit()
    done = "The old link no longer works. Send the new link to the customer."
    if htmx:
        return _fragment(
            "office/billing/_billing_send.html", **_send_context(document), notice=done
        )
    flash(done, "success")
    return redirect(_detail_url(document, "doc-send"), code=303)


@bp.get("/estimates/<int:estimate_id>/progress")
@office_required
def estimate_progress(estimate_id: int):
    estimate = get_or_404(Estimate, estimate_id)
    return _fragment("office/billing/_billing_progress.html", **_progress_context(estimate))


@bp.get("/invoices/<int:invoice_id>/progress")
@office_required
def invoice_progress(invoice_id: int):
    invoice = get_or_404(Invoice, invoice_id)
    return _fragment("office/billing/_billing_progress.html", **_progress_context(invoice))

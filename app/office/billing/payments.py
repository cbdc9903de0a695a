"""Recording payments on an invoice, and voiding it."""

from __future__ import annotations

from datetime import time, timedelta

from flask import flash, redirect
from flask_login import current_user

from app.actions import service_call
from app.auth.access import office_required
from app.models import (
    Invoice,
    utcnow,
)
from app.office import bp
from app.office.billing.forms import (
    PaymentForm,
    VoidForm,
)
from app.office.billing.pages import _detail_url, _first_error
from app.office.forms import local_to_utc
from app.services import billing
from app.services.errors import DomainError
from app.tenancy import get_or_404


@bp.post("/invoices/<int:invoice_id>/payments")
@office_required
def invoice_payment(invoice_id: int):
    invoice = get_or_404(Invoice, invoice_id)
    form = PaymentForm()
    if not form.validate():
        flash(_first_error(form), "error")
        return redirect(_detail_url(invoice, "payments"), code=303)
    with service_call(flash_error=True, refresh=(invoice,)) as call:
        received_at = local_to_utc(form.received_on.data, time(12, 0), invoice.company.tz)
        if received_at > utcnow() + timedelta(days=1):
            raise DomainError("Received on can't be in the future.", field="received_on")
        billing.record_payment(
            invoice=invoice,
            amount_cents=form.amount.parsed(),
            method=form.method.data,
            received_at=received_at,
            note=form.note.data,
            actor=current_user,
        )
    if call.ok:
        flash(f"Payment recorded on {invoice.label}.", "success")
    return redirect(_detail_url(invoice, "payments"), code=303)


@bp.post("/invoices/<int:invoice_id>/void")
@office_required
def invoice_void(invoice_id: int):
    invoice = get_or_404(Invoice, invoice_id)
    with service_call(flash_error=True) as call:
        billing.void_invoice(invoice=invoice, reason=VoidForm().reason.data)
    if not call.ok:
        return redirect(_detail_url(invoice, "payments"), code=303)
    flash(f"{invoice.label} is void. Its link now says it is no longer valid.", "success")
    return redirect(_detail_url(invoice), code=303)

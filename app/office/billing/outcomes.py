"""What an estimate becomes: converted to an invoice or a job, or revised."""

from __future__ import annotations

from flask import flash, redirect, request, url_for

from app.actions import service_call
from app.auth.access import office_required
from app.models import (
    Estimate,
)
from app.office import bp
from app.office.billing.forms import (
    ConvertJobForm,
)
from app.office.billing.pages import _detail_url, _first_error
from app.office.forms import local_to_utc
from app.services import billing
from app.services.errors import DomainError
from app.tenancy import get_or_404


@bp.post("/estimates/<int:estimate_id>/convert")
@office_required
def estimate_convert(estimate_id: int):
    """One click: `to=invoice` makes the invoice, `to=job` books the job (with the date
    and times of the small form next to the button)."""
    estimate = get_or_404(Estimate, estimate_id)
    target = request.form.get("to")
    with service_call(flash_error=True) as call:
        if target == "invoice":
            invoice = billing.convert_estimate_to_invoice(estimate=estimate)
        elif target == "job":
            form = ConvertJobForm()
            if not form.validate():
                raise DomainError(_first_error(form))
            tz = estimate.company.tz
            start = local_to_utc(form.day.data, form.start_time.data, tz)
            end = local_to_utc(form.day.data, form.end_time.data, tz)
            job = billing.convert_estimate_to_job(
                estimate=estimate, scheduled_start=start, scheduled_end=end
            )
        else:
            raise DomainError("Choose what to create.")
    if not call.ok:
        return redirect(_detail_url(estimate, "outcome"), code=303)
    if target == "invoice":
        flash(f"{invoice.label} created from {estimate.label}.", "success")
        return redirect(_detail_url(invoice), code=303)
    flash(f"Job #{job.number} booked from {estimate.label}.", "success")
    return redirect(url_for("office.job_detail", job_id=job.id), code=303)


@bp.post("/estimates/<int:estimate_id>/revise")
@office_required
def estimate_revise(estimate_id: int):
    estimate = get_or_404(Estimate, estimate_id)
    with service_call(flash_error=True) as call:
        copy = billing.revise_estimate(estimate=estimate)
    if not call.ok:
        return redirect(_detail_url(estimate), code=303)
    flash(
        f"{copy.label} is a new draft of {estimate.label}; the old link now says it was "
        "replaced. Send this one when it is ready.",
        "success",
    )
    return redirect(_detail_url(copy), code=303)

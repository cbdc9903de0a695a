"""The estimate and invoice lists, and creating a document."""

from __future__ import annotations

from flask import flash, redirect, render_template, request
from flask_login import current_user

from app.actions import service_call
from app.auth.access import office_required
from app.extensions import htmx
from app.models import (
    Customer,
    EstimateStatus,
    InvoiceStatus,
    Job,
)
from app.office import bp
from app.office.billing.forms import (
    NewDocumentForm,
)
from app.office.billing.pages import _customers_job, _detail_url, _job_choices
from app.services import billing
from app.services.customers import company_has_customers
from app.tenancy import get_or_404


def _list_page(kind: str):
    company = current_user.company
    statuses = EstimateStatus if kind == "estimate" else InvoiceStatus
    status = request.args.get("status", "")
    if status not in statuses.ALL:
        status = ""
    if kind == "estimate":
        documents = billing.list_estimates(company=company, status=status or None)
        totals = {d.id: billing.estimate_total_for_list(d) for d in documents}
        display = {d.id: billing.estimate_display_status(d) for d in documents}
    else:
        documents = billing.list_invoices(company=company, status=status or None)
        totals = {d.id: billing.invoice_totals(d).total_cents for d in documents}
        display = {d.id: d.status for d in documents}
    return render_template(
        "office/billing/list.html",
        kind=kind,
        documents=documents,
        totals=totals,
        display=display,
        status=status,
        statuses=statuses,
    )


@bp.get("/estimates")
@office_required
def estimates():
    return _list_page("estimate")


@bp.get("/invoices")
@office_required
def invoices():
    return _list_page("invoice")


# The id of the job select's wrapper (office/billing/_job_field.html), its htmx target.
JOB_FIELD = "job-field"


def _new_page(kind: str):
    company = current_user.company
    form = NewDocumentForm(company=company)
    if request.method == "GET":
        job_id = request.args.get("job_id", 0, type=int)
        customer_id = request.args.get("customer_id", 0, type=int)
        job = get_or_404(Job, job_id) if job_id else None
        if customer_id:
            form.customer_id.preselect(get_or_404(Customer, customer_id))
        elif job is not None:
            form.customer_id.preselect(job.customer)
        job = _customers_job(company, form.customer_id.customer, job_id)
        form.job_id.data = job.id if job is not None else 0
    form.job_id.choices = _job_choices(company, form.customer_id.customer)
    if htmx and htmx.target == JOB_FIELD:
        # The customer picker chose someone: only the job select changes.
        return render_template("office/billing/_job_field.html", form=form)
    if form.validate_on_submit():
        customer = form.customer_id.customer
        job = _customers_job(company, customer, form.job_id.data)
        if form.job_id.data and job is None:
            form.job_id.errors = ["Choose one of this customer's jobs, or no job."]
        else:
            create = billing.create_estimate if kind == "estimate" else billing.create_invoice
            with service_call(form) as call:
                document = create(
                    company=company, customer=customer, job=job, title=form.title.data or ""
                )
            if call.ok:
                flash(f"{document.label} created. Add its line items.", "success")
                return redirect(_detail_url(document), code=303)
    status = 422 if form.errors or form.form_errors else 200
    return (
        render_template(
            "office/billing/new.html",
            form=form,
            kind=kind,
            has_customers=company_has_customers(company),
        ),
        status,
    )


@bp.route("/estimates/new", methods=["GET", "POST"])
@office_required
def estimate_new():
    return _new_page("estimate")


@bp.route("/invoices/new", methods=["GET", "POST"])
@office_required
def invoice_new():
    return _new_page("invoice")

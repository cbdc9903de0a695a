"""Office pages: estimates and invoices.

One detail page per document, made of fragments that htmx swaps in place:
`_billing_items` (one per estimate option, or the invoice's lines, with totals),
`_billing_send` (send by text, copy link, revoke), `_billing_progress` (sent -> delivered
-> viewed -> approved/paid), `_invoice_payments`. Every form also works without
JavaScript: a plain POST gets a redirect back to the page (errors as a flash message).
"""

from __future__ import annotations

from datetime import time, timedelta

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_htmx import make_response
from flask_login import current_user
from sqlalchemy.orm import selectinload
from wtforms import SelectChoice

from app.actions import service_call
from app.auth.access import manager_required, office_required
from app.extensions import db, htmx
from app.hx_events import BILLING_PROGRESS_CHANGED
from app.models import (
    Customer,
    Estimate,
    EstimateOption,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    Job,
    JobStatus,
    LineItem,
    utcnow,
)
from app.office import bp
from app.office.billing_forms import (
    BillingSettingsForm,
    ConvertJobForm,
    EstimateDetailsForm,
    InvoiceDetailsForm,
    LineItemForm,
    NewDocumentForm,
    OptionForm,
    PaymentForm,
    SendForm,
    VoidForm,
)
from app.office.forms import local_to_utc
from app.services import billing
from app.services.customers import company_has_customers
from app.services.errors import DomainError
from app.services.texting import TextingUnavailable, texting_blocker
from app.tenancy import get_or_404

Document = Estimate | Invoice


# --------------------------------------------------------------------------- helpers


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
        "billing": billing,
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


def _job_choices(company, customer_id: int | None = None) -> list[SelectChoice]:
    stmt = sa.select(Job).where(Job.company_id == company.id).options(selectinload(Job.customer))
    if customer_id:
        stmt = stmt.where(Job.customer_id == customer_id)
    stmt = stmt.where(Job.status != JobStatus.CANCELED).order_by(Job.number.desc()).limit(200)
    jobs = db.session.scalars(stmt)
    return [SelectChoice(0, "— No job —")] + [
        SelectChoice(job.id, f"#{job.number} · {job.customer.name} · {job.description}"[:90])
        for job in jobs
    ]


# ------------------------------------------------------------------------------ lists


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
        billing=billing,
    )


@bp.get("/estimates")
@office_required
def estimates():
    return _list_page("estimate")


@bp.get("/invoices")
@office_required
def invoices():
    return _list_page("invoice")


# ---------------------------------------------------------------------------- create


def _new_page(kind: str):
    company = current_user.company
    form = NewDocumentForm(company=company)
    form.job_id.choices = _job_choices(company)
    if request.method == "GET":
        job_id = request.args.get("job_id", 0, type=int)
        customer_id = request.args.get("customer_id", 0, type=int)
        job = get_or_404(Job, job_id) if job_id else None
        if customer_id:
            form.customer_id.preselect(get_or_404(Customer, customer_id))
        elif job is not None:
            form.customer_id.preselect(job.customer)
        form.job_id.data = job.id if job is not None else 0
    if form.validate_on_submit():
        customer = form.customer_id.customer
        job = db.session.get(Job, form.job_id.data) if form.job_id.data else None
        if job is not None and job.company_id != company.id:
            form.job_id.errors = ["Choose one of your jobs."]
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


# ------------------------------------------------------------------------- detail pages


def _details_form(document: Document):
    if isinstance(document, Estimate):
        form = EstimateDetailsForm(formdata=None, obj=document)
    else:
        form = InvoiceDetailsForm(formdata=None, obj=document)
    form.tax_rate.data = billing.format_tax_rate(document.tax_rate_mpct).removesuffix("%")
    form.discount.data = billing.format_discount(document.discount_kind, document.discount_value)
    form.discount.data = form.discount.data.replace("$", "").replace(",", "")
    return form


@bp.get("/estimates/<int:estimate_id>")
@office_required
def estimate_detail(estimate_id: int):
    estimate = get_or_404(Estimate, estimate_id)
    tomorrow = billing.company_today(estimate.company) + timedelta(days=1)
    convert_form = ConvertJobForm(
        formdata=None, day=tomorrow, start_time=time(9, 0), end_time=time(11, 0)
    )
    context = {
        **_send_context(estimate),
        **_progress_context(estimate),
        "details_form": _details_form(estimate),
        "option_form": OptionForm(formdata=None),
        "convert_form": convert_form,
        "display_status": billing.estimate_display_status(estimate),
        "option_sections": [_items_context(estimate, option) for option in estimate.options],
        "billing": billing,
    }
    return render_template("office/billing/estimate_detail.html", **context)


@bp.get("/invoices/<int:invoice_id>")
@office_required
def invoice_detail(invoice_id: int):
    invoice = get_or_404(Invoice, invoice_id)
    context = {
        **_send_context(invoice),
        **_progress_context(invoice),
        **_payments_context(invoice),
        "details_form": _details_form(invoice),
        "items_section": _items_context(invoice, None),
        "billing": billing,
    }
    return render_template("office/billing/invoice_detail.html", **context)


def _payments_context(invoice: Invoice, form: PaymentForm | None = None) -> dict:
    balance = billing.invoice_balance_cents(invoice)
    if form is None:
        form = PaymentForm(
            formdata=None,
            amount=billing.money(balance).lstrip("$").replace(",", ""),
            received_on=billing.company_today(invoice.company),
        )
    return {
        "invoice": invoice,
        "payment_form": form,
        "void_form": VoidForm(formdata=None),
        "balance_cents": balance,
        "total_cents": billing.invoice_totals(invoice).total_cents,
    }


# -------------------------------------------------------------------------- details


@bp.post("/estimates/<int:estimate_id>/details")
@office_required
def estimate_details(estimate_id: int):
    return _save_details(get_or_404(Estimate, estimate_id))


@bp.post("/invoices/<int:invoice_id>/details")
@office_required
def invoice_details(invoice_id: int):
    return _save_details(get_or_404(Invoice, invoice_id))


def _save_details(document: Document):
    is_estimate = isinstance(document, Estimate)
    form = EstimateDetailsForm() if is_estimate else InvoiceDetailsForm()
    if not form.validate():
        flash(_first_error(form), "error")
        return redirect(_detail_url(document, "details"), code=303)
    with service_call(flash_error=True) as call:
        tax = billing.parse_tax_rate(form.tax_rate.data)
        discount_kind, discount_value = billing.parse_discount(form.discount.data)
        common = {
            "title": form.title.data or "",
            "tax_rate_mpct": tax,
            "discount_kind": discount_kind,
            "discount_value": discount_value,
            "notes": form.notes.data,
            "internal_notes": form.internal_notes.data,
            "terms": form.terms.data,
        }
        if is_estimate:
            billing.update_estimate_details(
                estimate=document, valid_until=form.valid_until.data, **common
            )
        else:
            billing.update_invoice_details(
                invoice=document,
                due_on=form.due_on.data,
                payment_instructions=form.payment_instructions.data,
                **common,
            )
    if call.ok:
        flash("Saved.", "success")
    return redirect(_detail_url(document, "details"), code=303)


# ---------------------------------------------------------------------------- options


@bp.post("/estimates/<int:estimate_id>/options")
@office_required
def estimate_option_add(estimate_id: int):
    estimate = get_or_404(Estimate, estimate_id)
    form = OptionForm()
    with service_call(flash_error=True) as call:
        option = billing.add_option(estimate=estimate, title=form.title.data or "")
    if not call.ok:
        return redirect(_detail_url(estimate, "options"), code=303)
    return redirect(_detail_url(estimate, f"items-o{option.id}"), code=303)


@bp.post("/estimates/<int:estimate_id>/options/<int:option_id>/rename")
@office_required
def estimate_option_rename(estimate_id: int, option_id: int):
    estimate = get_or_404(Estimate, estimate_id)
    option = _option_or_404(estimate, option_id)
    with service_call() as call:
        billing.rename_option(option=option, title=OptionForm().title.data or "")
    return _items_response(estimate, option, call.message, 422 if call.error else 200)


@bp.post("/estimates/<int:estimate_id>/options/<int:option_id>/remove")
@office_required
def estimate_option_remove(estimate_id: int, option_id: int):
    estimate = get_or_404(Estimate, estimate_id)
    option = _option_or_404(estimate, option_id)
    with service_call(flash_error=True) as call:
        billing.remove_option(option=option)
    if call.ok:
        flash("Option removed.", "success")
    return redirect(_detail_url(estimate, "options"), code=303)


# ------------------------------------------------------------------------ line items


def _parse_item(form: LineItemForm) -> dict:
    if not form.validate():
        raise DomainError(_first_error(form))
    return {
        "description": form.description.data or "",
        "quantity_milli": billing.parse_quantity(form.quantity.data),
        "unit_price_cents": billing.parse_money(
            form.unit_price.data, field="unit_price", label="Unit price"
        ),
        "taxable": bool(form.taxable.data),
    }


@bp.post("/estimates/<int:estimate_id>/options/<int:option_id>/items")
@office_required
def estimate_item_add(estimate_id: int, option_id: int):
    estimate = get_or_404(Estimate, estimate_id)
    option = _option_or_404(estimate, option_id)
    return _add_item(estimate, option)


@bp.post("/invoices/<int:invoice_id>/items")
@office_required
def invoice_item_add(invoice_id: int):
    return _add_item(get_or_404(Invoice, invoice_id), None)


def _add_item(document: Document, option: EstimateOption | None):
    with service_call() as call:
        billing.add_line_item(document=document, option=option, **_parse_item(LineItemForm()))
    return _items_response(document, option, call.message, 422 if call.error else 200)


@bp.post("/billing/items/<int:item_id>")
@office_required
def line_item_update(item_id: int):
    item = _item_or_404(item_id)
    document, option = billing.line_item_document(item), item.option
    with service_call() as call:
        billing.update_line_item(item=item, **_parse_item(LineItemForm()))
    return _items_response(document, option, call.message, 422 if call.error else 200)


@bp.post("/billing/items/<int:item_id>/remove")
@office_required
def line_item_remove(item_id: int):
    item = _item_or_404(item_id)
    document, option = billing.line_item_document(item), item.option
    with service_call() as call:
        billing.remove_line_item(item=item)
    return _items_response(document, option, call.message, 422 if call.error else 200)


# ------------------------------------------------------------------ send, copy, revoke


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


# ------------------------------------------------------------------ estimate outcomes


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


# ---------------------------------------------------------------------------- payments


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
            amount_cents=billing.parse_money(form.amount.data, field="amount"),
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


# ---------------------------------------------------------------------------- settings


@bp.route("/billing/settings", methods=["GET", "POST"])
@manager_required
def billing_settings():
    company = current_user.company
    # Read only: a company that never saved its settings sees the defaults, and a GET
    # writes nothing (the row is created by the first save).
    settings = billing.current_billing_settings(company)
    form = BillingSettingsForm(obj=settings)
    if request.method == "GET":
        form.default_tax_rate.data = billing.format_tax_rate(
            settings.default_tax_rate_mpct
        ).removesuffix("%")
        form.invoice_due_days.data = str(settings.invoice_due_days)
        form.estimate_valid_days.data = str(settings.estimate_valid_days)
    elif form.validate():
        with service_call(form) as call:
            for field in (form.invoice_due_days, form.estimate_valid_days):
                if not (field.data or "").strip().isdigit():
                    raise DomainError("Enter a whole number of days.", field=field.name)
            billing.update_billing_settings(
                company=company,
                payment_instructions=form.payment_instructions.data,
                estimate_terms=form.estimate_terms.data,
                invoice_terms=form.invoice_terms.data,
                default_tax_rate_mpct=billing.parse_tax_rate(
                    form.default_tax_rate.data, field="default_tax_rate"
                ),
                invoice_due_days=int(form.invoice_due_days.data),
                estimate_valid_days=int(form.estimate_valid_days.data),
            )
        if call.ok:
            flash("Billing settings saved. New estimates and invoices use them.", "success")
            return redirect(url_for("office.billing_settings"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("office/billing/settings.html", form=form), status

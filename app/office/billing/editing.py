"""One document's page: details, estimate options and line items (htmx fragments)."""

from __future__ import annotations

from datetime import time, timedelta

from flask import flash, redirect, render_template

from app.actions import service_call
from app.auth.access import office_required
from app.models import (
    Estimate,
    EstimateOption,
    Invoice,
)
from app.office import bp
from app.office.billing.forms import (
    ConvertJobForm,
    EstimateDetailsForm,
    InvoiceDetailsForm,
    LineItemForm,
    OptionForm,
    PaymentForm,
    VoidForm,
)
from app.office.billing.pages import (
    Document,
    _detail_url,
    _first_error,
    _item_or_404,
    _items_context,
    _items_response,
    _option_or_404,
    _progress_context,
    _send_context,
)
from app.services import billing, online_payments
from app.services.errors import DomainError
from app.tenancy import get_or_404


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
        # The deposit the customer pays online once approved (None: not asked, or off).
        "deposit": online_payments.deposit_option(estimate),
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
        tax = form.tax_rate.parsed()
        discount_kind, discount_value = form.discount.parsed()
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


def _parse_item(form: LineItemForm) -> dict:
    if not form.validate():
        raise DomainError(_first_error(form))
    return {
        "description": form.description.data or "",
        "quantity_milli": form.quantity.parsed(),
        "unit_price_cents": form.unit_price.parsed(),
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

"""Office pages: customers (list with live search, create, edit, one customer's page) and
the customer picker's search, which the booking, estimate and invoice forms share."""

from __future__ import annotations

import re

from flask import Response, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.actions import service_call
from app.auth.access import manager_required, office_required
from app.extensions import db, htmx
from app.models import Customer, utcnow
from app.office import bp
from app.office.forms import CustomerForm
from app.services.consent import consent_export_csv, current_consent, record_consent
from app.services.customers import (
    MAX_TAG_LENGTH,
    PICKER_LIMIT,
    create_customer,
    customer_conversation,
    customers_page,
    search_customers,
    update_customer,
)
from app.services.job_queries import customer_jobs
from app.services.line_types import customer_mobile_warning
from app.services.opt_outs import current_opt_out, open_flags, record_office_opt_out
from app.services.phones import format_other_phone, format_phone, looks_like_phone
from app.services.texting import texting_blocker
from app.tenancy import get_or_404


@bp.get("/customers")
@office_required
def customers():
    q = request.args.get("q", "").strip()[:100]
    tag = " ".join(request.args.get("tag", "").split())[:MAX_TAG_LENGTH]
    page = request.args.get("page", 1, type=int) or 1
    context = {
        "q": q,
        "tag": tag,
        "pagination": customers_page(company=current_user.company, q=q, tag=tag, page=page),
    }
    if htmx and htmx.target == "customer-list":
        return render_template("office/_customer_list.html", **context)
    return render_template("office/customers.html", **context)


# A picker's form field name: its element ids and button names start with it.
PICKER_FIELD = re.compile(r"[a-z][a-z0-9_]{0,39}")
# Where "New customer" returns to with the customer picked: the forms that use the picker.
THEN_ENDPOINTS = {
    "job": "office.job_new",
    "estimate": "office.estimate_new",
    "invoice": "office.invoice_new",
}


@bp.get("/customers/search")
@office_required
def customer_search():
    """The customer picker's matches for `q` (office/_customer_results.html): the fragment
    htmx swaps under the picker's box as the office types."""
    field = request.args.get("field", "")
    if not PICKER_FIELD.fullmatch(field):
        field = "customer_id"
    then = request.args.get("then", "")
    # The picker's box sends itself under its form name, `<field>-q`.
    q = request.args.get("q", request.args.get(f"{field}-q", ""))
    q = " ".join(q.split())[:100]
    found = search_customers(company=current_user.company, q=q, limit=PICKER_LIMIT + 1)
    return render_template(
        "office/_customer_results.html",
        field_id=field,
        q=q,
        customers=found[:PICKER_LIMIT],
        more=len(found) > PICKER_LIMIT,
        then=then if then in THEN_ENDPOINTS else None,
    )


def _save(form: CustomerForm, customer: Customer | None, *, to_detail: bool) -> Customer | None:
    """Create or update from a validated form; None (with the error on the form) if the
    service refused."""
    fields = {
        "name": form.name.data,
        "mobile_phone": form.mobile_phone.data,
        "email": form.email.data,
        "address": form.address.data,
        "notes": form.notes.data,
        "company_name": form.company_name.data,
        "other_phones": form.other_phones.data or "",
        "tags": form.tags.data or "",
    }
    with service_call(form) as call:
        if customer is None:
            saved = create_customer(company=current_user.company, **fields)
        else:
            saved = update_customer(customer=customer, **fields)
        if form.text_consent.data:
            record_consent(customer=saved, source=form.consent_source.data, actor=current_user)
    if not call.ok:
        return None
    # Asked while the person who typed the number is here to fix it (Twilio Lookup, 2 s at
    # most, once per number per 90 days; else the number type), after the save committed.
    # The customer page shows the warning from the kept answer; another page gets it flashed.
    warning = customer_mobile_warning(phone=saved.mobile_phone, now=utcnow())
    db.session.commit()  # the Lookup's answer, kept for the customer page
    if warning and not to_detail:
        flash(warning, "warning")
    return saved


@bp.route("/customers/new", methods=["GET", "POST"])
@office_required
def customer_new():
    form = CustomerForm()
    if request.method == "GET":
        # "Add “…” as a new customer" from a picker that found no one: keep what was
        # typed, as the number if it looks like one, else as the name.
        typed = " ".join(request.args.get("q", "").split())[:120]
        if looks_like_phone(typed):
            form.mobile_phone.data = typed
        else:
            form.name.data = typed
    if form.validate_on_submit():
        # Coming from a new job, estimate or invoice ("not a customer yet?"): go straight
        # back to that form with the new customer picked.
        then = THEN_ENDPOINTS.get(request.args.get("then", ""))
        customer = _save(form, None, to_detail=not then)
        if customer is not None:
            flash(f"{customer.name} added.", "success")
            if then:
                return redirect(url_for(then, customer_id=customer.id))
            return redirect(url_for("office.customer_detail", customer_id=customer.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "office/customer_form.html", form=form, customer=None, consent=None
    ), status


@bp.route("/customers/<int:customer_id>/edit", methods=["GET", "POST"])
@office_required
def customer_edit(customer_id: int):
    customer = get_or_404(Customer, customer_id)
    form = CustomerForm(obj=customer)
    if request.method == "GET":
        # Show the numbers the way people write them, not as raw E.164; lists as typed.
        form.mobile_phone.data = format_phone(customer.mobile_phone)
        form.other_phones.data = ", ".join(map(format_other_phone, customer.other_phones))
        form.tags.data = ", ".join(customer.tags)
    if form.validate_on_submit() and _save(form, customer, to_detail=True) is not None:
        flash(f"{customer.name} saved.", "success")
        return redirect(url_for("office.customer_detail", customer_id=customer.id))
    status = 422 if form.errors or form.form_errors else 200
    return render_template(
        "office/customer_form.html",
        form=form,
        customer=customer,
        consent=current_consent(customer=customer),
    ), status


@bp.get("/customers/<int:customer_id>")
@office_required
def customer_detail(customer_id: int):
    customer = get_or_404(Customer, customer_id)
    return render_template(
        "office/customer_detail.html",
        customer=customer,
        jobs=customer_jobs(customer=customer),
        conversation=customer_conversation(customer),
        texting_blocker=texting_blocker(company=customer.company, phone=customer.mobile_phone),
        opt_out=current_opt_out(company=customer.company, phone=customer.mobile_phone),
        consent=current_consent(customer=customer),
        open_flags=open_flags(company=customer.company, phone=customer.mobile_phone),
        # The stored Lookup answer only: opening a page never pays for a Lookup.
        line_warning=customer_mobile_warning(phone=customer.mobile_phone, now=utcnow(), look=False),
    )


@bp.get("/customers/consent.csv")
@manager_required
def consent_export():
    """Every customer's consent history and opt-out, for an auditor (owner/admin)."""
    company = current_user.company
    stamp = utcnow().astimezone(company.tz).strftime("%Y-%m-%d")
    return Response(
        consent_export_csv(company=company),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="consent-{stamp}.csv"'},
    )


@bp.post("/customers/<int:customer_id>/opt-out")
@office_required
def customer_opt_out(customer_id: int):
    """The customer asked (by phone, in person) for no more texts: record it with who
    took it; they get the one confirmation text."""
    customer = get_or_404(Customer, customer_id)
    note = " ".join(request.form.get("note", "").split())[:500] or None
    created = record_office_opt_out(
        company=customer.company, phone=customer.mobile_phone, actor=current_user, note=note
    )
    db.session.commit()
    if created:
        flash(f"{customer.name} is opted out of texts. They were sent one confirmation.", "success")
    else:
        flash(f"{customer.name} was already opted out.", "success")
    return redirect(url_for("office.customer_detail", customer_id=customer.id))

"""The company's billing settings (defaults for new documents)."""

from __future__ import annotations

import re

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.actions import service_call
from app.auth.access import manager_required
from app.office import bp
from app.office.billing.forms import (
    BillingSettingsForm,
)
from app.services import billing
from app.services.errors import DomainError


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
                if not re.fullmatch(r"[0-9]{1,4}", (field.data or "").strip()):
                    raise DomainError("Enter a whole number of days.", field=field.name)
            billing.update_billing_settings(
                company=company,
                payment_instructions=form.payment_instructions.data,
                estimate_terms=form.estimate_terms.data,
                invoice_terms=form.invoice_terms.data,
                default_tax_rate_mpct=form.default_tax_rate.parsed(),
                invoice_due_days=int(form.invoice_due_days.data),
                estimate_valid_days=int(form.estimate_valid_days.data),
            )
        if call.ok:
            flash("Billing settings saved. New estimates and invoices use them.", "success")
            return redirect(url_for("office.billing_settings"), code=303)
    status = 422 if request.method == "POST" else 200
    return render_template("office/billing/settings.html", form=form), status

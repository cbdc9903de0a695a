"""Settings -> Billing -> Online payments: connect the company's own Stripe account
(Standard, through Stripe's onboarding by Account Link), see its state, allow partial
payments, ask for a deposit on approved estimates, disconnect; the automatic payment
reminders; refunding an online payment. Owners and admins only."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.actions import service_call
from app.auth.access import manager_required
from app.extensions import db
from app.formats import money
from app.models import Invoice, Payment
from app.office import bp
from app.services import billing, online_payments, payment_texts
from app.services.errors import DomainError
from app.tenancy import get_or_404


def _page(status: int = 200, errors: dict[str, str] | None = None):
    company = current_user.company
    settings = billing.billing_settings_for(company)
    return (
        render_template(
            "office/billing/payments.html",
            enabled=online_payments.payments_enabled(),
            account=online_payments.stripe_account(company),
            settings=settings,
            deposit_text=online_payments.deposit_setting_text(settings),
            errors=errors or {},
        ),
        status,
    )


@bp.get("/billing/payments")
@manager_required
def online_payments_settings():
    response = _page()
    db.session.commit()  # the settings row may have just been created
    return response


@bp.post("/billing/payments/connect")
@manager_required
def online_payments_connect():
    with service_call(flash_error=True) as call:
        url = online_payments.start_connect(
            company=current_user.company,
            actor=current_user,
            return_url=url_for("office.online_payments_return", _external=True),
            refresh_url=url_for("office.online_payments_settings", _external=True),
        )
    if not call.ok:
        return redirect(url_for("office.online_payments_settings"), code=303)
    return redirect(url, code=303)


@bp.get("/billing/payments/return")
@manager_required
def online_payments_return():
    """Where Stripe's onboarding sends the Pro back: the account's state is read from
    Stripe, since coming back here does not mean onboarding was finished."""
    with service_call(flash_error=True) as call:
        account = online_payments.refresh_account(company=current_user.company)
    if not call.ok:
        return redirect(url_for("office.online_payments_settings"), code=303)
    if account is not None and account.active:
        flash("Stripe is connected. Customers can now pay invoices online.", "success")
    else:
        flash("Stripe onboarding isn't finished yet. Continue when you're ready.", "info")
    return redirect(url_for("office.online_payments_settings"), code=303)


@bp.post("/billing/payments/disconnect")
@manager_required
def online_payments_disconnect():
    if online_payments.disconnect(company=current_user.company):
        flash("Stripe disconnected. Invoice pages no longer offer online payment.", "info")
    db.session.commit()
    return redirect(url_for("office.online_payments_settings"), code=303)


@bp.post("/billing/payments/options")
@manager_required
def online_payments_options():
    allowed = request.form.get("allow_partial_payments") in {"y", "on", "1", "yes"}
    online_payments.set_partial_payments(company=current_user.company, allowed=allowed)
    db.session.commit()
    flash("Online payment options saved.", "success")
    return redirect(url_for("office.online_payments_settings"), code=303)


@bp.post("/billing/payments/deposit")
@manager_required
def online_payments_deposit():
    with service_call() as call:
        online_payments.set_deposit(
            company=current_user.company,
            kind=request.form.get("deposit_kind", ""),
            value=request.form.get("deposit_value"),
        )
    if not call.ok:
        return _page(status=422, errors={call.error.field or "deposit": call.message})
    flash("Deposit setting saved.", "success")
    return redirect(url_for("office.online_payments_settings"), code=303)


def _days(name: str) -> int | None:
    raw = request.form.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise DomainError("Enter a whole number of days, or leave it empty for none.", field=name)
    return int(raw)


@bp.post("/billing/payments/reminders")
@manager_required
def payment_reminder_settings():
    with service_call() as call:
        payment_texts.update_reminder_settings(
            company=current_user.company,
            basis=request.form.get("reminder_basis", ""),
            first_days=_days("first_reminder_days"),
            second_days=_days("second_reminder_days"),
        )
    if not call.ok:
        return _page(status=422, errors={call.error.field or "reminders": call.message})
    flash("Payment reminder settings saved.", "success")
    return redirect(url_for("office.online_payments_settings"), code=303)


@bp.post("/invoices/<int:invoice_id>/payments/<int:payment_id>/refund")
@manager_required
def online_payment_refund(invoice_id: int, payment_id: int):
    """Refund an online payment at Stripe. The refund shows on the invoice when Stripe's
    `charge.refunded` event arrives (the webhook records it, as for a dashboard refund)."""
    invoice = get_or_404(Invoice, invoice_id)
    payment = get_or_404(Payment, payment_id)
    if payment.invoice_id != invoice.id:
        abort(404)
    detail = url_for("office.invoice_detail", invoice_id=invoice.id, _anchor="payments")
    with service_call(flash_error=True) as call:
        remaining = payment.amount_cents - payment.refunded_cents
        raw = request.form.get("amount", "").strip()
        amount = billing.parse_money(raw, field="amount") if raw else remaining
        online_payments.refund_payment(payment=payment, amount_cents=amount)
    if not call.ok:
        return redirect(detail, code=303)
    flash(
        f"Refund of {money(amount)} sent to Stripe. It shows here once Stripe confirms it.", "info"
    )
    return redirect(detail, code=303)

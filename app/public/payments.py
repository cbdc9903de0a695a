"""Pay a texted invoice online: POST /i/<token>/pay sends the customer to a Stripe
Checkout Session on the company's connected account; Stripe brings them back to the
invoice page (`?checkout=...` on success, `?canceled=1` when they go back).
POST /e/<token>/deposit does the same for the deposit on an approved estimate."""

from __future__ import annotations

from flask import redirect, request, url_for

from app.extensions import db, limiter
from app.models.billing import DocumentType
from app.public import bp
from app.public.documents import (
    _lookup,
    _render,
    estimate_context,
    invoice_context,
    miss_limited,
)
from app.services import online_payments
from app.services.errors import DomainError


@bp.post("/i/<token>/pay")
@miss_limited
@limiter.limit("20 per 10 minutes")  # each try may create a session at Stripe
def invoice_pay(token: str):
    invoice = _lookup(DocumentType.INVOICE, token)
    raw_version = request.form.get("version", "").strip()
    version = int(raw_version) if raw_version.isdigit() else -1
    page = url_for("public.invoice_page", token=token, _external=True)
    try:
        payable = online_payments.payable_cents(invoice)
        amount = online_payments.parse_amount(request.form.get("amount"), payable=payable)
        session = online_payments.start_checkout(
            invoice=invoice,
            version=version,
            amount_cents=amount,
            # Stripe fills in {CHECKOUT_SESSION_ID} itself.
            success_url=page + "?checkout={CHECKOUT_SESSION_ID}",
            cancel_url=page + "?canceled=1",
        )
    except DomainError as error:
        db.session.rollback()
        db.session.refresh(invoice)
        return _render(
            "public/invoice.html",
            invoice,
            status=error.status_code if error.status_code != 400 else 422,
            **invoice_context(invoice, pay_errors={error.field or "pay": error.message}),
        )
    db.session.commit()
    return redirect(session.url, code=303)


@bp.post("/e/<token>/deposit")
@miss_limited
@limiter.limit("20 per 10 minutes")  # each try may create a session at Stripe
def estimate_deposit(token: str):
    estimate = _lookup(DocumentType.ESTIMATE, token)
    raw_version = request.form.get("version", "").strip()
    version = int(raw_version) if raw_version.isdigit() and len(raw_version) < 10 else -1
    page = url_for("public.estimate_page", token=token, _external=True)
    try:
        session = online_payments.start_deposit_checkout(
            estimate=estimate,
            version=version,
            success_url=page + "?checkout={CHECKOUT_SESSION_ID}",
            cancel_url=page + "?canceled=1",
        )
    except DomainError as error:
        db.session.rollback()
        db.session.refresh(estimate)
        return _render(
            "public/estimate.html",
            estimate,
            status=error.status_code if error.status_code != 400 else 422,
            **estimate_context(estimate, {error.field or "deposit": error.message}),
        )
    db.session.commit()
    return redirect(session.url, code=303)

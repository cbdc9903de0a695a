"""Pay a texted invoice online: POST /i/<token>/pay sends the customer to a Stripe
Checkout Session on the company's connected account; Stripe brings them back to the
invoice page (`?checkout=...` on success, `?canceled=1` when they go back).
POST /e/<token>/deposit does the same for the deposit on an approved estimate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import redirect, request, url_for

from app.actions import service_call
from app.extensions import limiter
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
    page = url_for("public.invoice_page", token=token, _external=True)
    with service_call(refresh=(invoice,)) as call:
        payable = online_payments.payable_cents(invoice)
        amount = online_payments.parse_amount(request.form.get("amount"), payable=payable)
        session = online_payments.start_checkout(
            invoice=invoice, version=_form_version(), amount_cents=amount, **_return_urls(page)
        )
    if not call.ok:
        return _page_again(
            invoice,
            "public/invoice.html",
            call.error,
            field="pay",
            context=lambda errors: invoice_context(invoice, pay_errors=errors),
        )
    return redirect(session.url, code=303)


@bp.post("/e/<token>/deposit")
@miss_limited
@limiter.limit("20 per 10 minutes")  # each try may create a session at Stripe
def estimate_deposit(token: str):
    estimate = _lookup(DocumentType.ESTIMATE, token)
    page = url_for("public.estimate_page", token=token, _external=True)
    with service_call(refresh=(estimate,)) as call:
        session = online_payments.start_deposit_checkout(
            estimate=estimate, version=_form_version(), **_return_urls(page)
        )
    if not call.ok:
        return _page_again(
            estimate,
            "public/estimate.html",
            call.error,
            field="deposit",
            context=lambda errors: estimate_context(estimate, errors),
        )
    return redirect(session.url, code=303)


def _form_version() -> int:
    """The document version the page showed; -1 (never current: a conflict) when missing
    or absurd."""
    raw = request.form.get("version", "").strip()
    return int(raw) if raw.isdigit() and len(raw) < 10 else -1


def _return_urls(page: str) -> dict[str, str]:
    """Where Stripe sends the customer back: the page, saying paid or gone back."""
    return {
        # Stripe fills in {CHECKOUT_SESSION_ID} itself.
        "success_url": page + "?checkout={CHECKOUT_SESSION_ID}",
        "cancel_url": page + "?canceled=1",
    }


def _page_again(
    document: Any,
    template: str,
    error: DomainError,
    *,
    field: str,
    context: Callable[[dict[str, str]], dict[str, Any]],
):
    """The document's page again, with why it cannot be paid (nothing was charged)."""
    return _render(
        template,
        document,
        status=error.status_code if error.status_code != 400 else 422,
        **context({error.field or field: error.message}),
    )

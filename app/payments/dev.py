"""/dev/checkout/<session> and /dev/stripe/connect/<link>: what Stripe's hosted pages do,
for the built-in fake Stripe (registered only while STRIPE_FAKE is on).

The checkout page takes a card (or declines one) or a bank account (processing; then the
debit clears or bounces, buttons a person at the bank would press), and sends the
customer back to the success URL as Stripe does. The fake sends the signed webhook events.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for

from app.payments.fake_stripe import StripeAPIError, fake_stripe

bp = Blueprint("dev_payments", __name__)


def _session(session_id: str) -> dict:
    try:
        return fake_stripe().find_session(session_id)[1]
    except StripeAPIError:
        abort(404)


def _account_name(session_id: str) -> str:
    account_id = fake_stripe().find_session(session_id)[0]
    account = fake_stripe().accounts.get(account_id) or {}
    return (account.get("business_profile") or {}).get("name") or "the business"


@bp.get("/checkout/<session_id>")
def checkout(session_id: str):
    session = _session(session_id)
    return _page(session_id, session)


def _page(session_id: str, session: dict, error: str | None = None, status: int = 200):
    intent = None
    if session.get("payment_intent"):
        account_id = fake_stripe().find_session(session_id)[0]
        intent = fake_stripe().get(account_id, session["payment_intent"], "payment_intent")
    return (
        render_template(
            "dev_payments/checkout.html",
            session=session,
            intent=intent,
            business=_account_name(session_id),
            description=(session.get("_line_items") or [{}])[0]
            .get("price_data", {})
            .get("product_data", {})
            .get("name", ""),
            error=error,
        ),
        status,
    )


@bp.post("/checkout/<session_id>")
def checkout_action(session_id: str):
    session = _session(session_id)
    action = request.form.get("action", "")
    fake = fake_stripe()
    try:
        if action == "card":
            fake.pay_with_card(session_id)
        elif action == "decline":
            fake.pay_with_card(session_id, decline=True)
        elif action == "bank":
            fake.pay_with_bank(session_id)
        elif action in {"bank_succeeds", "bank_fails"}:
            fake.settle_bank(session_id, succeed=action == "bank_succeeds")
            return redirect(url_for("dev_payments.checkout", session_id=session_id), code=303)
        elif action == "cancel":
            return redirect(session["cancel_url"], code=303)
        else:
            abort(400)
    except StripeAPIError as error:
        return _page(session_id, _session(session_id), error=error.message, status=402)
    return redirect(session["success_url"].replace("{CHECKOUT_SESSION_ID}", session_id), code=303)


@bp.route("/stripe/connect/<link_id>", methods=["GET", "POST"])
def connect(link_id: str):
    fake = fake_stripe()
    try:
        link = fake.link(link_id)
    except StripeAPIError:
        abort(404)
    if request.method == "POST":
        if request.form.get("action") == "finish":
            fake.complete_onboarding(link["account"])
            return redirect(link["return_url"], code=303)
        return redirect(link["refresh_url"], code=303)
    return render_template(
        "dev_payments/connect.html", link=link, account=fake.account(link["account"])
    )

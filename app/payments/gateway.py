"""The one place the product talks to Stripe, always through the official `stripe` SDK
(`stripe.StripeClient`). No other module imports `stripe`.

With STRIPE_FAKE on, the client's `http_client` hands each request to the built-in fake
Stripe in-process, or its `base_addresses` point at STRIPE_API_BASE_URL (the fake served
over HTTP, as the tests do). Otherwise it talks to api.stripe.com with STRIPE_SECRET_KEY.

Charges are **direct charges on the company's connected account**: every call about a
Checkout Session, PaymentIntent or Refund carries `stripe_account` (the `Stripe-Account`
header), so the money, the dispute liability and Stripe's fees are the Pro's.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import stripe
from flask import current_app
from stripe import HTTPClient
from werkzeug.test import EnvironBuilder, run_wsgi_app

log = logging.getLogger(__name__)
# The SDK logs each request at INFO; the webhook path is busy enough without it.
logging.getLogger("stripe").setLevel(logging.WARNING)


class PaymentGatewayError(Exception):
    """Stripe refused the request or could not be reached. `message` is fit to show."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status


@dataclass(frozen=True)
class ConnectedAccount:
    id: str
    charges_enabled: bool
    details_submitted: bool
    business_name: str | None


@dataclass(frozen=True)
class HostedSession:
    id: str
    url: str | None
    status: str  # open, complete, expired
    payment_status: str  # paid, unpaid, no_payment_required
    amount_total: int
    expires_at: datetime
    payment_intent: str | None


@dataclass(frozen=True)
class IssuedRefund:
    id: str
    amount: int
    status: str


# -- the client --------------------------------------------------------------------------------


class InProcessStripeClient(HTTPClient):
    """Hands the SDK's requests to the fake Stripe's WSGI app in this process."""

    name = "prosms-in-process"

    def __init__(self, wsgi_app: Any) -> None:
        super().__init__()
        self.wsgi_app = wsgi_app

    def request(self, method, url, headers, post_data=None, *, _usage=None):
        parts = urlsplit(url)
        environ = EnvironBuilder(
            path=parts.path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=method.upper(),
            data=post_data,
            headers=dict(headers or {}),
        ).get_environ()
        app_iter, status, response_headers = run_wsgi_app(self.wsgi_app, environ, buffered=True)
        return b"".join(app_iter), int(status.split()[0]), dict(response_headers)

    def request_stream(self, method, url, headers, post_data=None, *, _usage=None):
        # The SDK reads a streamed body (file downloads) with .read(), as from requests'
        # raw response; the in-process answer is already whole.
        body, status, response_headers = self.request(method, url, headers, post_data)
        return io.BytesIO(body), status, response_headers

    def close(self) -> None:
        pass


def enabled() -> bool:
    """Online payments are on: a Stripe key is configured, or the fake is."""
    return bool(current_app.config.get("STRIPE_SECRET_KEY"))


def client() -> stripe.StripeClient:
    """The StripeClient for the configured key and address, made once per app and
    configuration (it keeps its HTTP connections; the SDK's client is thread-safe)."""
    config = current_app.config
    if not enabled():
        raise PaymentGatewayError("Online payments are not configured (no STRIPE_SECRET_KEY).")
    key = config["STRIPE_SECRET_KEY"]
    base_url = config.get("STRIPE_API_BASE_URL") or ""
    fake = bool(config.get("STRIPE_FAKE"))
    cache_key = (id(current_app._get_current_object()), key, base_url, fake)  # type: ignore[attr-defined]
    made = _clients.get(cache_key)
    if made is None:
        with _clients_lock:
            made = _clients.get(cache_key) or _make_client(key=key, base_url=base_url, fake=fake)
            _clients[cache_key] = made
    return made


_clients: dict[tuple[object, ...], stripe.StripeClient] = {}
_clients_lock = threading.Lock()


def _make_client(*, key: str, base_url: str, fake: bool) -> stripe.StripeClient:
    if fake:
        if base_url:
            addresses = {"api": base_url, "connect": base_url, "files": base_url}
            return stripe.StripeClient(key, base_addresses=addresses, max_network_retries=0)  # type: ignore[arg-type]
        from app.payments.fake_stripe import fake_stripe

        return stripe.StripeClient(
            key, http_client=InProcessStripeClient(fake_stripe().api), max_network_retries=0
        )
    # Stripe's own retries (with idempotency keys) cover a lost answer on POSTs.
    return stripe.StripeClient(key, max_network_retries=2)


def _translate(error: stripe.StripeError) -> PaymentGatewayError:
    if isinstance(error, stripe.APIConnectionError):
        return PaymentGatewayError(
            "Stripe could not be reached. Nothing was charged; try again in a minute."
        )
    message = error.user_message or str(error) or "Stripe refused the request."
    return PaymentGatewayError(message, code=error.code, status=error.http_status)


def _ts(value: int | None) -> datetime:
    return datetime.fromtimestamp(int(value or 0), UTC)


# -- Connect ---------------------------------------------------------------------------------


def create_account(*, email: str | None, business_name: str, company_id: int) -> ConnectedAccount:
    """A Standard connected account for a company (the Pro owns it and its dashboard)."""
    params: dict[str, Any] = {
        "type": "standard",
        "business_profile": {"name": business_name},
        "metadata": {"company_id": str(company_id)},
    }
    if email:
        params["email"] = email
    try:
        account = client().v1.accounts.create(params)  # type: ignore[arg-type]
    except stripe.StripeError as error:
        raise _translate(error) from error
    return _account(account)


def retrieve_account(account_id: str) -> ConnectedAccount:
    try:
        account = client().v1.accounts.retrieve(account_id)
    except stripe.StripeError as error:
        raise _translate(error) from error
    return _account(account)


def _account(resource: Any) -> ConnectedAccount:
    account = resource.to_dict()
    profile = account.get("business_profile") or {}
    return ConnectedAccount(
        id=account["id"],
        charges_enabled=bool(account.get("charges_enabled")),
        details_submitted=bool(account.get("details_submitted")),
        business_name=profile.get("name"),
    )


def onboarding_link(*, account_id: str, refresh_url: str, return_url: str) -> str:
    """A one-time Account Link URL to Stripe's onboarding for the account."""
    try:
        link = client().v1.account_links.create(
            {
                "account": account_id,
                "refresh_url": refresh_url,
                "return_url": return_url,
                "type": "account_onboarding",
            }
        )
    except stripe.StripeError as error:
        raise _translate(error) from error
    return link.url


# -- Checkout --------------------------------------------------------------------------------


def create_checkout_session(
    *,
    account_id: str,
    amount_cents: int,
    description: str,
    metadata: dict[str, str],
    client_reference_id: str,
    success_url: str,
    cancel_url: str,
    expires_at: datetime,
    application_fee_cents: int,
    customer_email: str | None,
    idempotency_key: str,
    payment_method_types: tuple[str, ...] = ("card", "us_bank_account"),
) -> HostedSession:
    """A hosted Checkout Session on the connected account (a direct charge), taking a card
    or a US bank account (ACH) unless told otherwise. The PaymentIntent carries the same
    metadata, so a charge or refund event names the invoice (or estimate) too."""
    intent_data: dict[str, Any] = {"metadata": metadata, "description": description}
    if application_fee_cents > 0:
        intent_data["application_fee_amount"] = application_fee_cents
    params: dict[str, Any] = {
        "mode": "payment",
        "payment_method_types": list(payment_method_types),
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "usd",
                    "unit_amount": amount_cents,
                    "product_data": {"name": description},
                },
            }
        ],
        "client_reference_id": client_reference_id,
        "metadata": metadata,
        "payment_intent_data": intent_data,
        "success_url": success_url,
        "cancel_url": cancel_url,
        "expires_at": int(expires_at.timestamp()),
    }
    if customer_email:
        params["customer_email"] = customer_email
    try:
        session = client().v1.checkout.sessions.create(
            params,  # type: ignore[arg-type]
            {"stripe_account": account_id, "idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise _translate(error) from error
    return _session(session)


def retrieve_checkout_session(*, account_id: str, session_id: str) -> HostedSession:
    try:
        session = client().v1.checkout.sessions.retrieve(
            session_id, options={"stripe_account": account_id}
        )
    except stripe.StripeError as error:
        raise _translate(error) from error
    return _session(session)


def expire_checkout_session(*, account_id: str, session_id: str) -> None:
    """Close an open session so it can no longer be paid (the balance changed). A session
    that is no longer open is left as it is."""
    try:
        client().v1.checkout.sessions.expire(session_id, options={"stripe_account": account_id})
    except stripe.InvalidRequestError as error:
        log.info("expire %s on %s refused: %s", session_id, account_id, error.user_message)
    except stripe.StripeError as error:
        raise _translate(error) from error


def _session(resource: Any) -> HostedSession:
    session = resource.to_dict()
    return HostedSession(
        id=session["id"],
        url=session.get("url"),
        status=session.get("status") or "open",
        payment_status=session.get("payment_status") or "unpaid",
        amount_total=int(session.get("amount_total") or 0),
        expires_at=_ts(session.get("expires_at")),
        payment_intent=session.get("payment_intent"),
    )


def refund(
    *, account_id: str, payment_intent: str, amount_cents: int, idempotency_key: str
) -> IssuedRefund:
    try:
        result = client().v1.refunds.create(
            {"payment_intent": payment_intent, "amount": amount_cents},
            {"stripe_account": account_id, "idempotency_key": idempotency_key},
        )
    except stripe.StripeError as error:
        raise _translate(error) from error
    return IssuedRefund(id=result.id, amount=int(result.amount), status=result.status or "")


# -- webhooks --------------------------------------------------------------------------------


class BadSignature(Exception):
    pass


def verify_event(*, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if `Stripe-Signature` proves Stripe sent exactly this payload (within
    Stripe's default five-minute tolerance). Raises BadSignature otherwise."""
    secret = current_app.config.get("STRIPE_WEBHOOK_SECRET") or ""
    if not secret or not signature:
        raise BadSignature("no signature" if secret else "no webhook secret configured")
    try:
        event = stripe.Webhook.construct_event(payload.decode("utf-8"), signature, secret)
    except (stripe.SignatureVerificationError, ValueError, UnicodeDecodeError) as error:
        raise BadSignature(str(error)) from error
    return event.to_dict()

"""The fake Stripe REST API: a WSGI app answering the v1 paths the product uses with
Stripe's JSON shapes and error bodies, so the official SDK cannot tell it from
api.stripe.com.

- POST /v1/accounts, GET /v1/accounts/{id}
- POST /v1/account_links
- POST /v1/checkout/sessions, GET /v1/checkout/sessions/{id}, POST .../{id}/expire
- GET /v1/payment_intents/{id}
- POST /v1/refunds

`Stripe-Account: acct_...` makes a request act on that connected account (direct charges);
an `Idempotency-Key` repeats the first answer, as Stripe does for 24 hours.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from app.payments.fake_stripe.state import (
    PLATFORM,
    FakeStripe,
    StripeAPIError,
    public_json,
)

URLS = Map(
    [
        Rule("/v1/accounts", endpoint="accounts", methods=["POST"]),
        Rule("/v1/accounts/<object_id>", endpoint="account", methods=["GET"]),
        Rule("/v1/account_links", endpoint="account_links", methods=["POST"]),
        Rule("/v1/checkout/sessions", endpoint="sessions", methods=["POST"]),
        Rule("/v1/checkout/sessions/<object_id>", endpoint="session", methods=["GET"]),
        Rule("/v1/checkout/sessions/<object_id>/expire", endpoint="expire", methods=["POST"]),
        Rule("/v1/payment_intents/<object_id>", endpoint="payment_intent", methods=["GET"]),
        Rule("/v1/refunds", endpoint="refunds", methods=["POST"]),
    ]
)
_KEY = re.compile(r"([^\[\]]+)|\[([^\[\]]*)\]")


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's nested form encoding (`metadata[invoice_id]=7`, `line_items[0][quantity]=1`,
    `payment_method_types[0]=card`) back into dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = [a or b for a, b in _KEY.findall(key)]
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if not isinstance(node, dict):
        return node
    converted = {key: _lists(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def _json(payload: Any, status: int = 200) -> Response:
    response = Response(json.dumps(payload), status=status, mimetype="application/json")
    response.headers["Request-Id"] = "req_fake"
    response.headers["Stripe-Version"] = "2025-01-27.acacia"
    return response


class FakeStripeAPI:
    def __init__(self, fake: FakeStripe) -> None:
        self.fake = fake

    def __call__(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        account = request.headers.get("Stripe-Account", PLATFORM)
        with self.fake.lock:
            self.fake.requests.append((request.method, request.path, account))
        try:
            self._authenticate(request)
            status = self.fake.take_fault()
            if status is not None:
                raise StripeAPIError(
                    "An unknown error occurred (fake Stripe fault).",
                    status=status,
                    type_="api_error",
                )
            if account:
                self.fake.check_access(account)
            endpoint, args = URLS.bind_to_environ(request.environ).match()
            params = decode_form(request.get_data(as_text=True)) if request.method == "POST" else {}
            key = request.headers.get("Idempotency-Key")
            if key and request.method == "POST":
                with self.fake.lock:
                    seen = self.fake.idempotent.get((account, key))
                if seen is not None:
                    return _json(seen[1], seen[0])
            result = getattr(self, f"_{endpoint}")(account, params, **args)
            body = public_json(result)
            if key and request.method == "POST":
                with self.fake.lock:
                    self.fake.idempotent[(account, key)] = (200, body)
            return _json(body)
        except StripeAPIError as error:
            return _json(error.body(), error.status)
        except NotFound:
            return _json(
                StripeAPIError(
                    f"Unrecognized request URL ({request.method}: {request.path}).", status=404
                ).body(),
                404,
            )
        except HTTPException as error:
            return _json(
                StripeAPIError(error.description or "Bad request").body(), error.code or 400
            )

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        key = header.removeprefix("Bearer ").strip()
        if key != self.fake.secret_key:
            shown = (key[:8] + "*" * 8 + key[-4:]) if key else ""
            raise StripeAPIError(f"Invalid API Key provided: {shown}", status=401)

    # -- endpoints ---------------------------------------------------------------------------

    def _accounts(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.fake.create_account(params)

    def _account(self, account: str, params: dict[str, Any], object_id: str) -> dict[str, Any]:
        return self.fake.account(object_id)

    def _account_links(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.fake.create_account_link(params)

    def _sessions(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.fake.create_session(account, params)

    def _session(self, account: str, params: dict[str, Any], object_id: str) -> dict[str, Any]:
        return self.fake.session(account, object_id)

    def _expire(self, account: str, params: dict[str, Any], object_id: str) -> dict[str, Any]:
        return self.fake.expire_session(account, object_id)

    def _payment_intent(
        self, account: str, params: dict[str, Any], object_id: str
    ) -> dict[str, Any]:
        return self.fake.get(account, object_id, "payment_intent")

    def _refunds(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.fake.create_refund(account, params)

"""Twilio webhook signatures: every /webhooks/twilio/* route is wrapped in
`twilio_signature_required`.

Twilio signs each request with the account's auth token over the exact URL it called
(scheme, host, path, query) and the POSTed form. The app recomputes it over the URL it is
publicly reachable at: PUBLIC_BASE_URL + path + query, or the request URL itself when
TRUST_PROXY is on (ProxyFix then rebuilds the public URL from X-Forwarded-* headers).
A missing or wrong signature is answered 403 before anything is read or stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Response, current_app, request
from twilio.request_validator import RequestValidator

log = logging.getLogger(__name__)


def public_request_url() -> str:
    """The URL Twilio called, as Twilio saw it."""
    if current_app.config["TRUST_PROXY"]:
        return request.url
    query = request.query_string.decode("latin-1")
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return base + request.path + (f"?{query}" if query else "")


def signature_is_valid() -> bool:
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(current_app.config["TWILIO_AUTH_TOKEN"])
    return validator.validate(public_request_url(), request.form, signature)


def twilio_signature_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not signature_is_valid():
            log.warning(
                "Twilio webhook refused: bad or missing signature for %s", public_request_url()
            )
            return Response("Invalid Twilio signature.", status=403, mimetype="text/plain")
        return view(*args, **kwargs)

    return wrapped


def empty_twiml() -> Response:
    """The answer that tells Twilio: received, nothing to send back."""
    return Response(
        '<?xml version="1.0" encoding="UTF-8"?><Response/>', status=200, mimetype="text/xml"
    )

"""The built-in fake push service (see docs/push.md).

A push service is what a browser's `PushManager.subscribe()` hands out an endpoint of (FCM
for Chrome, Mozilla's autopush, Apple's web push). This fake speaks the same protocol to
the sender, RFC 8030 with RFC 8291 payloads and RFC 8292 (VAPID) authentication:

    POST /push/<token>                   (any path: its last segment is the token)
    TTL: <seconds>                       (required, RFC 8030 5.2)
    Urgency / Topic                      (optional, recorded)
    Content-Encoding: aes128gcm          (required with a body, RFC 8188)
    Authorization: vapid t=<JWT>,k=<public key>
    -> 201 Created, Location: /message/<id>

The JWT is verified as the real services do: ES256 signed by `k`, `aud` the origin of the
endpoint, `exp` in the future and at most 24 hours ahead, `sub` a mailto: or https: URL.
The fake cannot decrypt the body (only the browser holds the private key), so it records
its size and the bytes as received; a test that generated the subscription's keys itself
can decrypt them (tests/support_push.py).

Switches, per endpoint token: `fail_next(token, status)` answers 404 (unknown), 410
(expired: the browser unsubscribed), 429 (with Retry-After) or 5xx once per call;
`expire(token)` answers 410 from now on, as a real service does for a dead subscription.

`fake_push_service()` returns the fake of the current Flask app (each process has its own,
like the fake Twilio). With WEB_PUSH_FAKE on, the gateway hands every push to it in-process,
whatever the endpoint's host; a test can also serve `FakePushService.wsgi` over HTTP and
give the browser endpoints on it.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from flask import Flask, current_app
from py_vapid import jwt as vapid_jwt
from py_vapid.utils import b64urldecode
from werkzeug.wrappers import Request, Response

# RFC 8030 8.2 lets a service refuse more; 4096 is what every browser's service takes.
MAX_PAYLOAD = 4096
MAX_VAPID_LIFETIME = 24 * 60 * 60
EXTENSION_KEY = "fake_push_service"


@dataclass
class ReceivedPush:
    id: int
    token: str
    received_at: datetime
    status: int
    ttl: int | None
    urgency: str
    topic: str
    content_encoding: str
    body: bytes
    vapid_subject: str
    vapid_key: str
    error: str = ""

    @property
    def size(self) -> int:
        return len(self.body)


@dataclass
class _Switches:
    expired: set[str] = field(default_factory=set)
    next_status: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)


class FakePushService:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.received: list[ReceivedPush] = []
        self.switches = _Switches()

    # -- switches --------------------------------------------------------------------------

    def fail_next(self, token: str, status: int, *, retry_after: int | None = None) -> None:
        """The next push to `token` gets `status` (404, 410, 429, 500...), once."""
        with self._lock:
            self.switches.next_status.setdefault(token, []).append((status, retry_after))

    def expire(self, token: str) -> None:
        """The browser unsubscribed: every later push to `token` is 410 Gone."""
        with self._lock:
            self.switches.expired.add(token)

    def reset(self) -> None:
        with self._lock:
            self.received.clear()
            self.switches = _Switches()

    def delivered(self, token: str | None = None) -> list[ReceivedPush]:
        """The pushes accepted (201), oldest first; for one endpoint token if given."""
        with self._lock:
            return [p for p in self.received if p.status == 201 and token in (None, p.token)]

    # -- the protocol ----------------------------------------------------------------------

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self._handle(request)
        return response(environ, start_response)

    def _handle(self, request: Request) -> Response:
        # In-process, the fake takes every endpoint a browser was given (FCM's
        # /fcm/send/<id>, Mozilla's /wpush/v2/<id>, Apple's /<id>): the last segment names it.
        token = request.path.rstrip("/").rpartition("/")[2]
        if not token:
            return _error(404, "No such endpoint.")
        if request.method != "POST":
            return _error(405, "Push messages are POSTed.")
        body = request.get_data()
        ttl_header = request.headers.get("TTL")
        push = ReceivedPush(
            id=next(self._ids),
            token=token,
            received_at=datetime.now(UTC),
            status=0,
            ttl=int(ttl_header) if ttl_header and ttl_header.isdigit() else None,
            urgency=request.headers.get("Urgency", "normal"),
            topic=request.headers.get("Topic", ""),
            content_encoding=request.headers.get("Content-Encoding", ""),
            body=body,
            vapid_subject="",
            vapid_key="",
        )
        origin = f"{request.scheme}://{request.host}"
        status, message, retry_after = self._outcome(request, push, origin)
        push.status, push.error = status, message
        with self._lock:
            self.received.append(push)
        if status == 201:
            response = Response(status=201)
            response.headers["Location"] = f"{origin}/message/{push.id}"
            response.headers["TTL"] = str(push.ttl)
            return response
        response = _error(status, message)
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response

    def _outcome(
        self, request: Request, push: ReceivedPush, origin: str
    ) -> tuple[int, str, int | None]:
        if push.ttl is None:
            return 400, "Missing or invalid TTL header.", None
        if body_error := _check_body(push):
            return 400 if "encoding" in body_error else 413, body_error, None
        try:
            claims, key = verify_vapid(request.headers.get("Authorization", ""), origin=origin)
        except VapidRejected as rejected:
            return rejected.status, rejected.message, None
        push.vapid_subject, push.vapid_key = claims["sub"], key
        with self._lock:
            if push.token in self.switches.expired:
                return 410, "Push subscription has expired or was unsubscribed.", None
            queued = self.switches.next_status.get(push.token)
            if queued:
                status, retry_after = queued.pop(0)
                if status == 429 and retry_after is None:
                    retry_after = 30
                return status, _REASONS.get(status, "Push service error."), retry_after
        return 201, "", None


_REASONS = {
    404: "Push subscription not found.",
    410: "Push subscription has expired or was unsubscribed.",
    413: "Payload too large.",
    429: "Too many requests.",
    500: "Internal server error.",
    503: "Service unavailable.",
}


class VapidRejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def verify_vapid(header: str, *, origin: str, now: float | None = None) -> tuple[dict, str]:
    """The claims and public key of an RFC 8292 `Authorization: vapid t=...,k=...` header,
    checked as a push service checks them; VapidRejected (401/403) otherwise."""
    scheme, _, params = header.partition(" ")
    if scheme.lower() != "vapid":
        raise VapidRejected(401, "Missing VAPID authorization (Authorization: vapid t=..,k=..).")
    values = dict(item.strip().split("=", 1) for item in params.split(",") if "=" in item)
    token, key = values.get("t", ""), values.get("k", "")
    if not token or not key:
        raise VapidRejected(401, "VAPID authorization needs both t and k.")
    try:
        claims = vapid_jwt.decode(token, key)
        header_part = json.loads(b64urldecode(token.split(".")[0].encode()))
    except (InvalidSignature, ValueError):
        raise VapidRejected(401, "VAPID signature does not verify with key k.") from None
    if header_part.get("alg") != "ES256":
        raise VapidRejected(401, "VAPID token must be signed with ES256.")
    now = time.time() if now is None else now
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp <= now:
        raise VapidRejected(403, "VAPID token has expired.")
    if exp > now + MAX_VAPID_LIFETIME:
        raise VapidRejected(403, "VAPID token expiry is more than 24 hours ahead.")
    aud = claims.get("aud", "")
    if urlsplit(aud)._replace(path="").geturl().rstrip("/") != origin:
        raise VapidRejected(403, f"VAPID aud {aud!r} is not this push service ({origin}).")
    sub = claims.get("sub", "")
    if not isinstance(sub, str) or not sub.startswith(("mailto:", "https://")):
        raise VapidRejected(403, "VAPID sub must be a mailto: or https: contact.")
    return claims, key


def _check_body(push: ReceivedPush) -> str:
    if not push.body:
        return ""
    if push.content_encoding != "aes128gcm":
        return "Content-Encoding must be aes128gcm (RFC 8291) for a push with a payload."
    if len(push.body) > MAX_PAYLOAD:
        return f"Payload is {len(push.body)} bytes; at most {MAX_PAYLOAD}."
    # RFC 8188 header: salt (16), record size (4), key id length (1), key id (65 for P-256).
    if len(push.body) < 86 or push.body[20] != 65:
        return "Payload is not an aes128gcm record with the sender's P-256 key."
    return ""


def _error(status: int, message: str) -> Response:
    # Mozilla's autopush answers errors as JSON like this; FCM's body is similar.
    body = {"code": status, "errno": status, "error": _REASONS.get(status, ""), "message": message}
    return Response(json.dumps(body), status=status, mimetype="application/json")


_create_lock = threading.Lock()


def fake_push_service(app: Flask | None = None) -> FakePushService:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    fake = app.extensions.get(EXTENSION_KEY)
    if fake is None:
        with _create_lock:
            fake = app.extensions.setdefault(EXTENSION_KEY, FakePushService())
    return fake

"""The one place the product sends a Web Push, always through the official `pywebpush`
(which encrypts the payload, RFC 8291 aes128gcm, and signs the VAPID header, RFC 8292).
No other module imports `pywebpush`.

With WEB_PUSH_FAKE on (development and tests, the default outside production), the
requests session hands every push to the built-in fake push service in-process, whatever
the endpoint's host, as the fake Twilio takes every *.twilio.com request. Otherwise the
push goes over HTTPS to the endpoint the browser's push service gave (FCM, Mozilla,
Apple); a test may point a subscription at the fake served over HTTP instead.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from flask import current_app
from py_vapid import Vapid, VapidException
from pywebpush import WebPushException, webpush
from requests.adapters import BaseAdapter
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app.push.fake_service import fake_push_service

log = logging.getLogger(__name__)

# A push service that takes longer than this is treated as down (the push is retried).
TIMEOUT_SECONDS = 10


class PushError(Exception):
    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class SubscriptionGone(PushError):
    """404/410: the browser unsubscribed or the subscription expired. Never retry."""


class PushRejected(PushError):
    """Another 4xx: this push will never be accepted as it is (bad VAPID, too large)."""


class PushRetryLater(PushError):
    """429, 5xx or no answer: try again later (after `retry_after` seconds if given)."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: int | None = None):
        super().__init__(message, status=status)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Target:
    endpoint: str
    p256dh: str
    auth: str


class InProcessAdapter(BaseAdapter):
    """Hands a requests.Session's request to a WSGI app in this process."""

    def __init__(self, wsgi_app) -> None:
        super().__init__()
        self.wsgi_app = wsgi_app

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        environ = EnvironBuilder(
            path=parts.path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            method=request.method,
            data=request.body or b"",
            headers=dict(request.headers),
        ).get_environ()
        app_iter, status, headers = run_wsgi_app(self.wsgi_app, environ, buffered=True)
        response = requests.Response()
        response.status_code = int(status.split()[0])
        response.reason = status.partition(" ")[2]
        response.headers.update(dict(headers))
        response._content = b"".join(app_iter)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


_sessions: dict[tuple[int, bool], requests.Session] = {}
_sessions_lock = threading.Lock()


def _session() -> requests.Session:
    """One session per app (it keeps connections to the push services alive)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    fake = bool(app.config.get("WEB_PUSH_FAKE"))
    key = (id(app), fake)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = requests.Session()
            if fake:
                adapter = InProcessAdapter(fake_push_service(app).wsgi)
                session.mount("https://", adapter)
                session.mount("http://", adapter)
            _sessions[key] = session
    return session


def send_push(
    *,
    target: Target,
    payload: bytes,
    vapid_private_key: str,
    vapid_subject: str,
    ttl: int,
    urgency: str = "high",
    topic: str | None = None,
) -> None:
    """Encrypt `payload` for the browser and POST it to its push service. Returns when the
    service accepted it (201); raises SubscriptionGone, PushRejected or PushRetryLater."""
    headers = {"Urgency": urgency}
    if topic:
        headers["Topic"] = topic  # a newer push with the same topic replaces a waiting one
    try:
        webpush(
            subscription_info={
                "endpoint": target.endpoint,
                "keys": {"p256dh": target.p256dh, "auth": target.auth},
            },
            data=payload,
            vapid_private_key=Vapid.from_raw(vapid_private_key.encode()),
            vapid_claims={"sub": vapid_subject},
            ttl=ttl,
            headers=headers,
            timeout=TIMEOUT_SECONDS,
            requests_session=_session(),
        )
    except WebPushException as error:
        raise _classify(error) from None
    except VapidException as error:  # VAPID_SUBJECT is not a mailto: or https: contact
        raise PushRejected(f"VAPID: {error}") from None
    except requests.RequestException as error:
        raise PushRetryLater(f"The push service did not answer ({error}).") from None


def _classify(error: WebPushException) -> PushError:
    response = error.response
    status = response.status_code if response is not None else None
    detail = (response.text or "").strip()[:200] if response is not None else str(error)
    message = f"{status} {detail}".strip()
    if status in (404, 410):
        return SubscriptionGone(message, status=status)
    if status is None or status == 429 or status >= 500:
        retry_after = None
        if response is not None and (response.headers.get("Retry-After") or "").isdigit():
            retry_after = int(response.headers["Retry-After"])
        return PushRetryLater(message, status=status, retry_after=retry_after)
    return PushRejected(message, status=status)

"""Twilio's copies of MMS media: fetching them (with the account's credentials) and
deleting them. Part of the one door to Twilio (app/sms/gateway.py holds the SDK client).

A `MediaUrlN` arrives in a post anyone able to reach the webhook could shape, so it is
never fetched as given: only an https URL on api.twilio.com naming a Media resource of
this account is, and a redirect is followed only to Twilio's media CDN, found in Twilio's
own articles ("Protect Media Access with HTTP Basic Authentication"): mms.twiliocdn.com
for accounts enforcing HTTP auth on media, s3-external-1.amazonaws.com/media.twiliocdn.com/
for older unsecured media; media.twiliocdn.com itself. Anything else (127.0.0.1, file://,
another host, a redirect elsewhere) raises `MediaRefused` and is logged, without a request.

The body is streamed and the fetch stops once it passes `max_bytes`: a 50 MB item costs
at most `max_bytes` of memory. Credentials go to api.twilio.com only, never to the CDN.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import requests
from flask import current_app

from app.sms.gateway import (
    DEFAULT_HTTP_TIMEOUT,
    PermanentGatewayError,
    TransientGatewayError,
    delete_at_twilio,
    get_in_process,
)

log = logging.getLogger(__name__)

API_HOST = "api.twilio.com"
CDN_HOSTS = frozenset({"mms.twiliocdn.com", "media.twiliocdn.com"})
# Unsecured media lived in Twilio's bucket on S3; only that bucket's path is accepted.
S3_HOST = "s3-external-1.amazonaws.com"
S3_PREFIX = "/media.twiliocdn.com/"
MAX_REDIRECTS = 3
CHUNK = 65536
_MEDIA_PATH = re.compile(
    r"^/2010-04-01/Accounts/(AC[0-9a-fA-F]{32})/Messages/((?:MM|SM)[0-9a-fA-F]{32})"
    r"/Media/(ME[0-9a-fA-F]{32})$"
)


class MediaRefused(PermanentGatewayError):
    """The URL is not one of this account's media at Twilio: never fetched."""


class MediaTooLarge(PermanentGatewayError):
    pass


@dataclass(frozen=True)
class MediaRef:
    message_sid: str
    media_sid: str


@dataclass(frozen=True)
class FetchedMedia:
    data: bytes
    declared_type: str  # what Twilio's answer said; the caller checks the bytes


def media_ref(url: str) -> MediaRef:
    """The message and media SIDs `url` names, if it is this account's media on
    api.twilio.com; `MediaRefused` otherwise."""
    parts = urlsplit(url.strip())
    if (
        parts.scheme != "https"
        or parts.hostname != API_HOST
        or parts.port not in (None, 443)
        or parts.username
        or parts.password
        or parts.query
        or parts.fragment
    ):
        raise MediaRefused(f"Not a Twilio media URL: {url[:200]}")
    found = _MEDIA_PATH.match(parts.path)
    if found is None or found.group(1) != current_app.config["TWILIO_ACCOUNT_SID"]:
        raise MediaRefused(f"Not this account's media: {url[:200]}")
    return MediaRef(message_sid=found.group(2), media_sid=found.group(3))


def _cdn_allowed(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.port not in (None, 443) or parts.username:
        return False
    if parts.hostname in CDN_HOSTS:
        return True
    return parts.hostname == S3_HOST and parts.path.startswith(S3_PREFIX)


# -- transport: real Twilio, the fake over loopback HTTP, or the fake in this process --------


@dataclass
class _Answer:
    status: int
    headers: dict[str, str]
    chunks: Iterator[bytes]
    close: object


def _get(url: str, *, with_auth: bool, timeout: float) -> _Answer:
    config = current_app.config
    auth = (config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"]) if with_auth else None
    base_url = config.get("TWILIO_API_BASE_URL") or os.environ.get("TWILIO_API_BASE_URL", "")
    parts = urlsplit(url)
    if config["TWILIO_FAKE"] and not base_url:
        return _get_in_process(url, auth)
    headers = {}
    if base_url:  # the fake served on loopback: the same paths, the intended host in a header
        headers["X-Twilio-Host"] = parts.hostname or ""
        url = base_url.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
    response = requests.get(
        url, auth=auth, headers=headers, stream=True, allow_redirects=False, timeout=timeout
    )
    return _Answer(
        status=response.status_code,
        headers={k.lower(): v for k, v in response.headers.items()},
        chunks=response.iter_content(CHUNK),
        close=response.close,
    )


def _get_in_process(url: str, auth: tuple[str, str] | None) -> _Answer:
    status, response_headers, app_iter = get_in_process(url, auth, buffered=False)
    return _Answer(
        status=status,
        headers={k.lower(): v for k, v in response_headers.items()},
        chunks=iter(app_iter),
        close=getattr(app_iter, "close", None),
    )


def fetch_media(url: str, *, max_bytes: int) -> FetchedMedia:
    """The bytes of this account's media at `url` (see the module's docstring). Raises
    `MediaRefused`, `MediaTooLarge`, `PermanentGatewayError` (404: gone) or
    `TransientGatewayError` (5xx, 429, no answer: try later)."""
    media_ref(url)  # refuses before any request
    timeout = float(current_app.config.get("TWILIO_HTTP_TIMEOUT") or DEFAULT_HTTP_TIMEOUT)
    current, with_auth = url, True
    for _ in range(MAX_REDIRECTS + 1):
        try:
            answer = _get(current, with_auth=with_auth, timeout=timeout)
        except requests.exceptions.RequestException as error:
            raise TransientGatewayError(f"No answer from Twilio's media host: {error}") from error
        try:
            if answer.status in (301, 302, 303, 307, 308):
                target = urljoin(current, answer.headers.get("location", ""))
                if not _cdn_allowed(target):
                    log.warning("media: refused a redirect from %s to %s", url, target[:200])
                    raise MediaRefused(f"Redirected outside Twilio's media hosts: {target[:200]}")
                # The CDN link carries its own short-lived token: no credentials there.
                current, with_auth = target, False
                continue
            if answer.status == 200:
                return FetchedMedia(
                    data=_read_limited(answer, max_bytes),
                    declared_type=answer.headers.get("content-type", "").split(";")[0].strip(),
                )
            if answer.status in (401, 429) or answer.status >= 500:
                # 401: credentials being rotated or mistyped (as for texts): try later.
                raise TransientGatewayError(f"Twilio's media host answered {answer.status}")
            if answer.status == 404:
                # Twilio sometimes posts the webhook before its media is readable.
                raise TransientGatewayError("Twilio's media host answered 404 (not there yet?)")
            raise PermanentGatewayError(
                f"Twilio's media host answered {answer.status}", status=answer.status
            )
        finally:
            if callable(answer.close):
                answer.close()
    raise MediaRefused("Too many redirects")


def _read_limited(answer: _Answer, max_bytes: int) -> bytes:
    declared = answer.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise MediaTooLarge(f"{int(declared)} bytes: over the {max_bytes}-byte limit")
    out = bytearray()
    for chunk in answer.chunks:
        out += chunk
        if len(out) > max_bytes:
            raise MediaTooLarge(f"over the {max_bytes}-byte limit")
    return bytes(out)


def delete_media(url: str) -> None:
    """Delete Twilio's copy of the media at `url` (Media resource DELETE). A copy already
    gone counts as deleted."""
    ref = media_ref(url)
    delete_at_twilio(
        lambda twilio_client: twilio_client.messages(ref.message_sid).media(ref.media_sid)
    )

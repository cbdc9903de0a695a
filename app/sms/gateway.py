"""The one place the product talks to Twilio, always through the official `twilio` SDK.

With real credentials (TWILIO_ACCOUNT_SID/TWILIO_AUTH_TOKEN and TWILIO_FAKE off) the SDK
talks to api.twilio.com. With TWILIO_FAKE on, the SDK's `http_client` hands each request to
the built-in fake Twilio: in-process by default, or over real HTTP to TWILIO_API_BASE_URL
(the fake served on loopback, as the tests do). No other module imports `twilio.rest`.

Failures come back as three kinds of `GatewayError`, because the outbox treats them
differently:
- `TransientGatewayError`: 429, 5xx, or the connection could not be made. Nothing was sent;
  retry later (`retry_after` seconds when Twilio said so).
- `PermanentGatewayError`: Twilio refused the request (21610, 21211, 21614, ...). Retrying
  cannot help; `explanation` says why in plain words.
- `UnknownOutcome`: the request left but no answer came back (a timeout, a dropped
  connection). Twilio may or may not have accepted it; look before sending again.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response as TwilioResponse
from twilio.rest import Client
from werkzeug.test import EnvironBuilder, run_wsgi_app

from app.sms.error_codes import error_explanation

log = logging.getLogger(__name__)
# The SDK logs every request and its headers at INFO: too chatty for a busy outbox.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)

DEFAULT_HTTP_TIMEOUT = 15.0
_local = threading.local()


class GatewayError(Exception):
    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.status = status
        self.retry_after = retry_after

    @property
    def explanation(self) -> str:
        return error_explanation(self.code, self.message)


class TransientGatewayError(GatewayError):
    pass


class PermanentGatewayError(GatewayError):
    pass


class UnknownOutcome(GatewayError):
    pass


@dataclass(frozen=True)
class SentMessage:
    sid: str
    status: str


@dataclass(frozen=True)
class RemoteMessage:
    sid: str
    status: str
    to: str
    from_: str
    body: str
    num_media: int
    date_created: datetime | None
    error_code: int | None


@dataclass(frozen=True)
class AvailableNumber:
    e164: str
    friendly_name: str
    locality: str | None
    region: str | None


@dataclass(frozen=True)
class PurchasedNumber:
    sid: str
    e164: str
    friendly_name: str
    sms_url: str | None
    voice_url: str | None


# -- HTTP clients handed to the SDK -------------------------------------------------------------


class _RecordingTwilioHttpClient(TwilioHttpClient):
    """The SDK's own client, keeping the last response so `Retry-After` can be read (the
    SDK's exception carries the status and code, not the headers)."""

    last_response: TwilioResponse | None = None

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        self.last_response = None
        self.last_response = super().request(method, self._rewrite(url), *args, **kwargs)
        return self.last_response

    def _rewrite(self, url: str) -> str:
        return url


class LoopbackHttpClient(_RecordingTwilioHttpClient):
    """Sends the SDK's requests to `base_url` (the fake Twilio served on loopback) instead
    of https://api.twilio.com: the SDK fixes the host, so the URL is rewritten here."""

    def __init__(self, base_url: str, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> TwilioResponse:
        # Twilio's APIs live on several hosts (api., trusthub., messaging.) with clashing
        # paths (/v1/...), so the fake is told which host the SDK meant.
        host = urlsplit(url).hostname or ""
        if host.endswith("twilio.com"):
            headers = dict(kwargs.get("headers") or {})
            headers["X-Twilio-Host"] = host
            kwargs["headers"] = headers
        return super().request(method, url, *args, **kwargs)

    def _rewrite(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.hostname and parts.hostname.endswith("twilio.com"):
            return self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return url


class InProcessHttpClient(HttpClient):
    """Hands the SDK's requests to the fake Twilio's WSGI app in this process."""

    last_response: TwilioResponse | None = None

    def __init__(self, wsgi_app: Any, timeout: float) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, timeout)
        self.wsgi_app = wsgi_app

    def request(
        self,
        method: str,
        uri: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> TwilioResponse:
        from app.sms.fake_twilio.api import CLIENT_TIMEOUT, TIMED_OUT

        self.last_response = None
        parts = urlsplit(uri)
        all_headers = dict(headers or {})
        if auth:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            all_headers["Authorization"] = f"Basic {token}"
        builder = EnvironBuilder(
            path=parts.path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            method=method.upper(),
            query_string={k: v for k, v in (params or {}).items() if v is not None},
            data={k: v for k, v in (data or {}).items() if v is not None} if data else None,
            headers=all_headers,
        )
        environ = builder.get_environ()
        environ[CLIENT_TIMEOUT] = timeout or self.timeout
        environ[TIMED_OUT] = timed_out = []  # the fake appends to it (see _mark_timed_out)
        try:
            app_iter, status, response_headers = run_wsgi_app(self.wsgi_app, environ, buffered=True)
        except ConnectionError as error:
            raise requests.exceptions.ConnectionError(str(error)) from error
        body = b"".join(app_iter).decode()
        if timed_out:
            raise requests.exceptions.ReadTimeout("fake Twilio: read timed out")
        self.last_response = TwilioResponse(int(status.split()[0]), body, response_headers)
        return self.last_response


def _http_client(timeout: float | None = None) -> HttpClient:
    config = current_app.config
    timeout = timeout or float(config.get("TWILIO_HTTP_TIMEOUT") or DEFAULT_HTTP_TIMEOUT)
    # Where the fake Twilio is served over HTTP, if not in-process (tests, `outbox work`
    # processes sharing one fake).
    base_url = config.get("TWILIO_API_BASE_URL") or os.environ.get("TWILIO_API_BASE_URL", "")
    if config["TWILIO_FAKE"]:
        key: tuple[Any, ...] = (id(current_app._get_current_object()), "fake", base_url, timeout)  # type: ignore[attr-defined]
    else:
        key = ("twilio", base_url, timeout)
    # One HTTP client per thread: the dispatcher sends from a pool of threads, and each
    # client remembers its own last response.
    clients: dict[tuple[Any, ...], HttpClient] = getattr(_local, "clients", None) or {}
    _local.clients = clients
    if key not in clients:
        if base_url:
            clients[key] = LoopbackHttpClient(base_url, timeout)
        elif config["TWILIO_FAKE"]:
            from app.sms.fake_twilio import fake_twilio

            clients[key] = InProcessHttpClient(fake_twilio().api, timeout)
        else:
            clients[key] = _RecordingTwilioHttpClient(timeout=timeout)
    return clients[key]


def client(*, timeout: float | None = None) -> Client:
    """A twilio.rest.Client for the configured account (real Twilio or the fake); its
    requests give up after `timeout` seconds (default TWILIO_HTTP_TIMEOUT)."""
    config = current_app.config
    return Client(
        config["TWILIO_ACCOUNT_SID"],
        config["TWILIO_AUTH_TOKEN"],
        http_client=_http_client(timeout),
    )


def _retry_after(twilio_client: Client) -> float | None:
    response = getattr(twilio_client.http_client, "last_response", None)
    headers = getattr(response, "headers", None) or {}
    value = headers.get("Retry-After") if hasattr(headers, "get") else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _translate(error: Exception, twilio_client: Client, *, sent: bool) -> GatewayError:
    """Turn an SDK or network error into one of the three GatewayErrors. `sent` says whether
    a lost answer may mean the request took effect (a send, a purchase)."""
    if isinstance(error, TwilioRestException):
        status = error.status
        if status == 429 or status >= 500 or status == 401:
            # 401: credentials being rotated or mistyped; texts wait until they work.
            return TransientGatewayError(
                error.msg or f"Twilio answered {status}",
                code=error.code if error.code != status else None,
                status=status,
                retry_after=_retry_after(twilio_client),
            )
        return PermanentGatewayError(
            error.msg or "Twilio refused the request", code=error.code, status=status
        )
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return TransientGatewayError(f"Could not reach Twilio: {error}")
    if isinstance(error, requests.exceptions.ConnectionError) and _refused(error):
        return TransientGatewayError(f"Could not reach Twilio: {error}")
    if isinstance(error, requests.exceptions.RequestException):
        if sent:
            return UnknownOutcome(f"No answer from Twilio: {error}")
        return TransientGatewayError(f"No answer from Twilio: {error}")
    raise error


def _refused(error: requests.exceptions.ConnectionError) -> bool:
    """True when the connection was never made, so the request cannot have arrived."""
    text = repr(error)
    return "NewConnectionError" in text or "Connection refused" in text or "NameResolution" in text


def call(fn: Any, *, sent: bool = False) -> Any:
    """Run one SDK call (`fn(client)`), turning its errors into GatewayErrors."""
    twilio_client = client()
    try:
        return fn(twilio_client)
    except (TwilioRestException, requests.exceptions.RequestException) as error:
        raise _translate(error, twilio_client, sent=sent) from error
    except TwilioException as error:
        # A list's page that failed: the SDK raises its plain exception with the response.
        response = error.args[1] if len(error.args) > 1 else None
        status = getattr(response, "status_code", 500)
        try:
            body = json.loads(getattr(response, "text", "") or "{}")
        except ValueError:
            body = {}
        rest = TwilioRestException(status, "", msg=body.get("message"), code=body.get("code"))
        raise _translate(rest, twilio_client, sent=False) from error


# -- Messages ---------------------------------------------------------------------------------


def send_sms(
    *,
    from_: str,
    to: str,
    body: str,
    media_urls: Sequence[str] = (),
    status_callback: str | None = None,
    messaging_service_sid: str | None = None,
) -> SentMessage:
    """Send one text through `client.messages.create`. Raises a GatewayError.

    With a `messaging_service_sid` the text goes through the company's Messaging Service
    (its registered campaign) and still names `from_`, the company's number in that
    service's pool, so Twilio sends from exactly that number."""
    twilio_client = client()
    kwargs: dict[str, Any] = {"from_": from_, "to": to, "body": body}
    if messaging_service_sid:
        kwargs["messaging_service_sid"] = messaging_service_sid
    if media_urls:
        kwargs["media_url"] = list(media_urls)
    if status_callback:
        kwargs["status_callback"] = status_callback
    try:
        message = twilio_client.messages.create(**kwargs)
    except (TwilioRestException, requests.exceptions.RequestException) as error:
        raise _translate(error, twilio_client, sent=True) from error
    return SentMessage(sid=message.sid, status=message.status or "queued")


def find_messages(
    *, from_: str, to: str, sent_after: datetime, limit: int = 50
) -> list[RemoteMessage]:
    """Messages Twilio holds from `from_` to `to` created since `sent_after`, newest first
    (used to learn whether a send whose answer was lost went through). Not filtered by
    Twilio's DateSent: a text still queued at Twilio has no date_sent yet."""
    twilio_client = client()
    try:
        found = twilio_client.messages.list(from_=from_, to=to, limit=limit)
    except (TwilioRestException, requests.exceptions.RequestException) as error:
        raise _translate(error, twilio_client, sent=False) from error
    return [
        RemoteMessage(
            sid=m.sid,
            status=m.status,
            to=m.to,
            from_=m.from_,
            body=m.body or "",
            num_media=int(m.num_media or 0),
            date_created=m.date_created,
            error_code=m.error_code,
        )
        for m in found
        if m.date_created is None or m.date_created >= sent_after
    ]


# -- Phone numbers ------------------------------------------------------------------------------


def search_local_numbers(*, area_code: str, limit: int = 10) -> list[AvailableNumber]:
    """Local US numbers for sale in `area_code` that can text (SMS and MMS) and take calls."""
    twilio_client = client()
    try:
        found = twilio_client.available_phone_numbers("US").local.list(
            area_code=area_code,
            sms_enabled=True,
            mms_enabled=True,
            voice_enabled=True,
            limit=limit,
        )
    except (TwilioRestException, requests.exceptions.RequestException) as error:
        raise _translate(error, twilio_client, sent=False) from error
    return [
        AvailableNumber(
            e164=n.phone_number,
            friendly_name=n.friendly_name,
            locality=n.locality or None,
            region=n.region or None,
        )
        for n in found
    ]


def buy_number(
    *,
    phone_number: str,
    sms_url: str,
    voice_url: str,
    status_callback: str | None = None,
    friendly_name: str | None = None,
) -> PurchasedNumber:
    """Buy `phone_number` with its webhooks pointed at the app. A lost answer raises
    UnknownOutcome: call `find_owned_number` before trying again."""
    twilio_client = client()
    kwargs: dict[str, Any] = {
        "phone_number": phone_number,
        "sms_url": sms_url,
        "sms_method": "POST",
        "voice_url": voice_url,
        "voice_method": "POST",
    }
    if status_callback:
        kwargs["status_callback"] = status_callback
        kwargs["status_callback_method"] = "POST"
    if friendly_name:
        kwargs["friendly_name"] = friendly_name
    try:
        number = twilio_client.incoming_phone_numbers.create(**kwargs)
    except (TwilioRestException, requests.exceptions.RequestException) as error:
        raise _translate(error, twilio_client, sent=True) from error
    return _purchased(number)


def find_owned_number(phone_number: str) -> PurchasedNumber | None:
    """The account's number `phone_number`, if the account owns it."""
    twilio_client = client()
    try:
        found = twilio_client.incoming_phone_numbers.list(phone_number=phone_number, limit=1)
    except (TwilioRestException, requests.exceptions.RequestException) as error:
        raise _translate(error, twilio_client, sent=False) from error
    return _purchased(found[0]) if found else None


def _purchased(number: Any) -> PurchasedNumber:
    return PurchasedNumber(
        sid=number.sid,
        e164=number.phone_number,
        friendly_name=number.friendly_name,
        sms_url=number.sms_url or None,
        voice_url=number.voice_url or None,
    )


# -- Lookup: Line Type Intelligence ------------------------------------------------------------


@dataclass(frozen=True)
class LineType:
    """What Lookup v2 said about a number's line. `type` is Twilio's word (mobile, landline,
    fixedVoip, nonFixedVoip, tollFree, ...) or None when Twilio had no answer for the line
    (`error_code` says why) or the number is not valid."""

    phone: str
    valid: bool
    type: str | None
    carrier_name: str | None = None
    error_code: int | None = None


def lookup_line_type(phone: str, *, timeout: float | None = None) -> LineType:
    """Ask Lookup v2 (lookups.twilio.com/v2/PhoneNumbers/{phone}) for the line type of
    `phone`. Billed by Twilio per request: callers keep the answer. A number Lookup does
    not know (404) comes back as not valid. Raises a GatewayError: TransientGatewayError
    for 429/5xx/timeouts (nothing was learned; nothing needs undoing)."""
    twilio_client = client(timeout=timeout)
    try:
        found = twilio_client.lookups.v2.phone_numbers(phone).fetch(fields="line_type_intelligence")
    except TwilioRestException as error:
        if error.status == 404:
            return LineType(phone=phone, valid=False, type=None, error_code=error.code)
        raise _translate(error, twilio_client, sent=False) from error
    except requests.exceptions.RequestException as error:
        raise _translate(error, twilio_client, sent=False) from error
    line = found.line_type_intelligence or {}
    if not isinstance(line, dict):  # the SDK types it loosely; Twilio sends an object
        line = {}
    error_code = line.get("error_code")
    return LineType(
        phone=found.phone_number or phone,
        valid=bool(found.valid) if found.valid is not None else True,
        type=line.get("type") or None,
        carrier_name=line.get("carrier_name") or None,
        error_code=int(error_code) if error_code is not None else None,
    )


# -- Call recordings (voicemail) ---------------------------------------------------------------

# A voicemail is at most two minutes: 8 kHz 16-bit WAV is about 1.9 MB; anything much bigger
# is not a voicemail.
RECORDING_MAX_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class RecordingAudio:
    data: bytes
    content_type: str


def is_twilio_media_url(url: str) -> bool:
    """True only for https addresses on Twilio's own hosts (api.twilio.com and its regional
    siblings). A recording URL anywhere else is never fetched: the account's credentials
    go with the request, and a forged callback must not send them elsewhere."""
    try:
        parts = urlsplit(url or "")
        port = parts.port
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    return (
        parts.scheme == "https"
        and parts.username is None
        and parts.password is None
        and port in (None, 443)
        and (host == "api.twilio.com" or host.endswith(".twilio.com"))
    )


def fetch_recording(url: str) -> RecordingAudio:
    """The audio of a recording Twilio holds (`RecordingUrl` from the status callback), as
    WAV, fetched with the account's credentials. Raises a GatewayError; a URL that is not
    Twilio's raises PermanentGatewayError without any request being made."""
    if not is_twilio_media_url(url):
        raise PermanentGatewayError("Not a Twilio address: the recording was not fetched.")
    media_url = url if url.rsplit("/", 1)[-1].count(".") else url + ".wav"
    config = current_app.config
    auth = (config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"])
    timeout = float(config.get("TWILIO_HTTP_TIMEOUT") or DEFAULT_HTTP_TIMEOUT)
    base_url = config.get("TWILIO_API_BASE_URL") or os.environ.get("TWILIO_API_BASE_URL", "")
    if config["TWILIO_FAKE"] and not base_url:
        status, headers, body = get_in_process(media_url, auth, buffered=True)
        data = b"".join(body)
    else:
        target = (
            LoopbackHttpClient(base_url, timeout)._rewrite(media_url) if base_url else media_url
        )
        try:
            # Twilio answers with a redirect to its storage; requests drops the credentials
            # when the redirect leaves the host.
            response = requests.get(target, auth=auth, timeout=timeout, stream=True)
            data = response.raw.read(RECORDING_MAX_BYTES + 1, decode_content=True)
        except requests.exceptions.RequestException as error:
            raise TransientGatewayError(f"Could not fetch the recording: {error}") from error
        status, headers = response.status_code, response.headers
    if status == 429 or status >= 500 or status == 401:
        raise TransientGatewayError(f"Twilio answered {status} for the recording", status=status)
    if status != 200:
        raise PermanentGatewayError(f"Twilio answered {status} for the recording", status=status)
    if len(data) > RECORDING_MAX_BYTES:
        raise PermanentGatewayError("The recording is too large to be a voicemail.")
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    return RecordingAudio(data=data, content_type=content_type)


def get_in_process(
    url: str, auth: tuple[str, str] | None, *, buffered: bool
) -> tuple[int, Any, Iterable[bytes]]:
    """GET `url` from the fake Twilio in this process (TWILIO_FAKE without a loopback
    server), with HTTP Basic credentials when `auth` is given: (status, headers, body).
    An unbuffered body is an iterator the caller reads and closes."""
    from app.sms.fake_twilio import fake_twilio

    parts = urlsplit(url)
    headers = {}
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    environ = EnvironBuilder(
        path=parts.path,
        base_url=f"{parts.scheme}://{parts.netloc}",
        query_string=parts.query,
        headers=headers,
    ).get_environ()
    app_iter, status, response_headers = run_wsgi_app(fake_twilio().api, environ, buffered=buffered)
    return int(status.split()[0]), response_headers, app_iter


def delete_recording(sid: str) -> None:
    """Delete a recording at Twilio (the company keeps its own copy). Already gone is fine."""
    delete_at_twilio(lambda twilio_client: twilio_client.recordings(sid))


def delete_at_twilio(resource: Callable[[Client], Any]) -> None:
    """DELETE the resource `resource(client)` names (a recording, an MMS's media item).
    One already gone (404) counts as deleted."""
    twilio_client = client()
    try:
        resource(twilio_client).delete()
    except TwilioRestException as error:
        if error.status == 404:
            return
        raise _translate(error, twilio_client, sent=False) from error
    except requests.exceptions.RequestException as error:
        raise _translate(error, twilio_client, sent=False) from error

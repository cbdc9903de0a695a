"""What the fake Twilio remembers: messages, purchased numbers, the API requests it received,
the fault switches tests turn on, and the callbacks it still has to deliver.

One `FakeTwilio` lives per Flask app (see `app.sms.fake_twilio.fake_twilio`). Everything is
guarded by one lock because the REST API, the callback thread and the phone simulator touch
it from different threads.
"""

from __future__ import annotations

import itertools
import logging
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from twilio.request_validator import RequestValidator
from werkzeug.test import Client as WSGIClient

from app.models.types import utcnow
from app.sms.fake_twilio.lookups import FakeLookups
from app.sms.fake_twilio.registration import OTP_SENDER, FakeRegistrations
from app.sms.fake_twilio.sids import new_sid
from app.sms.fake_twilio.voice import FakeVoice

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# How long Twilio takes, in the fake, to move a message along after accepting it.
SENT_AFTER = timedelta(seconds=0.4)
DELIVERED_AFTER = timedelta(seconds=1.2)
OPT_OUT_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN_WORDS = {"START", "UNSTOP", "YES"}
HELP_WORDS = {"HELP", "INFO"}
# What Twilio answers by itself when the Messaging Service's Advanced Opt-Out is on (the
# company configures the wording at Twilio; these stand in for it).
ADVANCED_OPT_OUT_REPLIES = {
    "STOP": "You have successfully been unsubscribed. You will not receive any more messages "
    "from this number. Reply START to resubscribe.",
    "START": "You have successfully been re-subscribed to messages from this number. "
    "Reply HELP for help. Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    "HELP": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}


@dataclass
class FakeMessage:
    sid: str
    account_sid: str
    from_: str
    to: str
    body: str
    media_urls: list[str]
    direction: str  # "outbound-api" or "inbound"
    status: str
    date_created: datetime
    status_callback: str | None = None
    error_code: int | None = None
    date_sent: datetime | None = None
    date_updated: datetime | None = None
    messaging_service_sid: str | None = None


@dataclass
class FakeMedia:
    """A picture or file Twilio holds for a message (its Media subresource)."""

    sid: str
    account_sid: str
    message_sid: str
    content_type: str
    data: bytes
    date_created: datetime
    # A token of the short-lived CDN link a fetch is redirected to (mms.twiliocdn.com).
    cdn_token: str = ""
    # Deleted through the API: gone from Twilio (404), though the phone that sent or got
    # it still shows it in the simulator.
    deleted: bool = False

    @property
    def uri(self) -> str:
        account = f"/2010-04-01/Accounts/{self.account_sid}"
        return f"{account}/Messages/{self.message_sid}/Media/{self.sid}"

    @property
    def url(self) -> str:
        """What the inbound webhook posts as MediaUrlN (no extension: the media itself)."""
        return f"https://api.twilio.com{self.uri}"


@dataclass
class FakeNumber:
    sid: str
    account_sid: str
    phone_number: str
    friendly_name: str
    sms_url: str | None
    sms_method: str
    voice_url: str | None
    voice_method: str
    status_callback: str | None
    locality: str | None
    region: str | None
    date_created: datetime


@dataclass
class RecordedRequest:
    """One REST call the fake answered (or refused), as the SDK sent it."""

    method: str
    path: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    status: int = 0

    def form_dict(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for key, value in self.form:
            out.setdefault(key, []).append(value)
        return out


@dataclass
class WebhookResult:
    """What the app answered to a webhook the fake delivered."""

    url: str
    form: dict[str, str]
    status: int
    body: str
    content_type: str


@dataclass
class _Fault:
    status: int  # HTTP status, or 0 for a dropped connection
    code: int | None = None
    retry_after: int | None = None
    remaining: int | None = None  # None: until `until`
    until: datetime | None = None
    after_accept: bool = False  # drop the connection after the message was stored
    path_contains: str = "/Messages.json"


@dataclass(order=True)
class _Scheduled:
    due: datetime
    seq: int
    action: Callable[[], Any] = field(compare=False)


class FakeTwilio:
    """The built-in fake Twilio: state, switches and webhook delivery.

    `target_app` is the WSGI app webhooks are delivered to in-process (the Flask app);
    `public_base_url` returns the URL the app is reachable at, so that what the fake signs is
    exactly what the app checks.
    """

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        target_app: Any,
        public_base_url: Callable[[], str],
        clock: Clock = utcnow,
        auto_advance: bool = False,
        registration_outcome: str | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.target_app = target_app
        self.public_base_url = public_base_url
        self.clock = clock
        self.auto_advance = auto_advance
        self.api: Any = None  # the REST WSGI app, set by `fake_twilio()`
        self.lock = threading.RLock()
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self.registrations = FakeRegistrations(self, registration_outcome)
        self.voice = FakeVoice(self)
        self.lookups = FakeLookups(self)
        self.reset()

    # -- state ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything and turn every switch off (tests call this between tests)."""
        with self.lock:
            self.messages: dict[str, FakeMessage] = {}
            self.numbers: dict[str, FakeNumber] = {}
            self.requests: list[RecordedRequest] = []
            self.webhooks: list[WebhookResult] = []
            self.faults: list[_Fault] = []
            self.fail_rate = 0.0
            self.fail_rate_status = 500
            self._random = random.Random(0)
            self.latency = 0.0
            self.number_latency: dict[str, float] = {}
            self.number_errors: dict[str, int] = {}
            self.undeliverable: dict[str, int] = {}
            # (customer phone, business number) pairs that texted STOP: Twilio then refuses
            # to send between them with 21610, whatever the app thinks.
            self.carrier_opt_outs: set[tuple[str, str]] = set()
            # Advanced Opt-Out on the Messaging Service: Twilio answers STOP/START/HELP
            # itself and says so in the inbound webhook's `OptOutType`.
            self.advanced_opt_out = False
            self.scheduled: list[_Scheduled] = []
            # Carriers' rule since 2023: a text from a local number outside an approved
            # A2P campaign fails with 30034 (an unverified toll-free number: 30032) after
            # Twilio accepted it. Off by default, as the factories' companies have no campaign.
            self.enforce_registration = False
            # Trust Hub addresses (api.twilio.com/.../Addresses.json).
            self.addresses: dict[str, dict[str, Any]] = {}
            # Media of messages by ME sid; fetched only with Basic auth, deleted by DELETE.
            self.media: dict[str, FakeMedia] = {}
            # Where a fetch of media is redirected: Twilio's CDN (a short-lived link on
            # mms.twiliocdn.com, as with "Enforce HTTP Auth on Media URLs"). A test sets
            # another URL to check that the app refuses to follow it.
            self.media_redirect: str | None = "https://mms.twiliocdn.com"
            if hasattr(self, "registrations"):
                self.registrations.reset()
            if hasattr(self, "voice"):
                self.voice.reset()
            if hasattr(self, "lookups"):
                self.lookups.reset()

    def outbound(self) -> list[FakeMessage]:
        with self.lock:
            return [m for m in self.messages.values() if m.direction == "outbound-api"]

    def message_requests(self) -> list[RecordedRequest]:
        """Every POST to Messages.json, accepted or not, in order."""
        with self.lock:
            return [
                r for r in self.requests if r.method == "POST" and r.path.endswith("/Messages.json")
            ]

    # -- switches for tests --------------------------------------------------------------

    def fail_next(
        self,
        count: int,
        *,
        status: int = 500,
        retry_after: int | None = None,
        path_contains: str = "/Messages.json",
    ) -> None:
        """The next `count` sends (or requests to `path_contains`, e.g. "/Recordings/")
        answer `status` (429 with `Retry-After` when given)."""
        with self.lock:
            self.faults.append(
                _Fault(
                    status=status,
                    retry_after=retry_after,
                    remaining=count,
                    path_contains=path_contains,
                )
            )

    def fail_media_next(self, count: int, *, status: int = 500) -> None:
        """The next `count` fetches of media answer `status` (Twilio's media host can 404
        for a moment after the webhook, or 5xx)."""
        with self.lock:
            self.faults.append(_Fault(status=status, remaining=count, path_contains="/Media/"))

    def fail_until(self, until: datetime, *, status: int = 500) -> None:
        """Every send answers `status` until the fake's clock reaches `until`."""
        with self.lock:
            self.faults.append(_Fault(status=status, until=until))

    def fail_randomly(self, rate: float, *, status: int = 500, seed: int = 0) -> None:
        """Answer `status` to a fraction `rate` of sends (seeded, so runs repeat)."""
        with self.lock:
            self.fail_rate = rate
            self.fail_rate_status = status
            self._random = random.Random(seed)

    def drop_next(self, count: int = 1, *, after_accept: bool = False) -> None:
        """Drop the connection on the next `count` sends; with `after_accept` the message
        is stored (and will be sent) first, so the sender can't know whether it went."""
        with self.lock:
            self.faults.append(_Fault(status=0, remaining=count, after_accept=after_accept))

    def set_latency(self, seconds: float, *, to: str | None = None) -> None:
        """Answer each send (or only sends to `to`) `seconds` after accepting it."""
        with self.lock:
            if to is None:
                self.latency = seconds
            else:
                self.number_latency[to] = seconds

    def set_registration_outcome(self, outcome: str) -> None:
        """How the next brands, campaigns and toll-free verifications are reviewed:
        approve, approve_after:<seconds>, pending, fail:<code>[:campaign]
        (app/sms/fake_twilio/registration.py)."""
        with self.lock:
            self.registrations.set_outcome(outcome)

    def refuse_number(self, phone: str, code: int) -> None:
        """Sends to `phone` fail with Twilio error `code` (21614 landline, 21610 opted out,
        21211 invalid, 21408 region not enabled)."""
        with self.lock:
            self.number_errors[phone] = code

    def make_undeliverable(self, phone: str, code: int = 30003) -> None:
        """Twilio accepts texts to `phone`, then reports them undelivered with `code`."""
        with self.lock:
            self.undeliverable[phone] = code

    def take_fault(self, path: str) -> _Fault | None:
        """The fault that applies to this request, consuming one use of it."""
        now = self.clock()
        with self.lock:
            for fault in list(self.faults):
                if fault.path_contains not in path:
                    continue
                if fault.until is not None:
                    if now < fault.until:
                        return fault
                    self.faults.remove(fault)
                    continue
                if fault.remaining is not None and fault.remaining > 0:
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self.faults.remove(fault)
                    return fault
            if (
                self.fail_rate
                and "/Messages.json" in path
                and self._random.random() < self.fail_rate
            ):
                return _Fault(status=self.fail_rate_status)
        return None

    # -- scheduled callbacks ---------------------------------------------------------------

    def schedule(self, delay: timedelta, action: Callable[[], Any]) -> None:
        with self.lock:
            self.scheduled.append(_Scheduled(self.clock() + delay, next(self._seq), action))
            self.scheduled.sort()
        if self.auto_advance:
            self._ensure_thread()
            self._wake.set()

    def run_due_callbacks(self) -> int:
        """Deliver every callback whose time has come on the fake's clock. Returns how many."""
        delivered = 0
        while True:
            with self.lock:
                if not self.scheduled or self.scheduled[0].due > self.clock():
                    return delivered
                item = self.scheduled.pop(0)
            try:
                item.action()
            except Exception:  # a broken callback must not stop the others
                log.exception("fake Twilio: callback failed")
            delivered += 1

    def run_all_callbacks(self) -> int:
        """Deliver every pending callback now, whatever its time (tests)."""
        delivered = 0
        while True:
            with self.lock:
                if not self.scheduled:
                    return delivered
                item = self.scheduled.pop(0)
            item.action()
            delivered += 1

    def _ensure_thread(self) -> None:
        with self.lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._callback_loop, name="fake-twilio-callbacks", daemon=True
            )
            self._thread.start()

    def _callback_loop(self) -> None:
        while True:
            self.run_due_callbacks()
            with self.lock:
                wait = (
                    max(0.0, (self.scheduled[0].due - self.clock()).total_seconds())
                    if self.scheduled
                    else 5.0
                )
            self._wake.wait(timeout=min(wait, 5.0))
            self._wake.clear()

    # -- webhooks to the app -----------------------------------------------------------------

    def app_url(self, path: str) -> str:
        return self.public_base_url().rstrip("/") + path

    def sign(self, url: str, form: dict[str, str]) -> str:
        return RequestValidator(self.auth_token).compute_signature(url, form)

    def post_webhook(self, url: str, form: dict[str, str]) -> WebhookResult:
        """POST `form` to `url` signed like Twilio does, handing the request to the app
        in-process (the URL's scheme, host, path and query are kept, so the signature the
        app computes matches)."""
        parts = urlsplit(url)
        client = WSGIClient(self.target_app)
        started = time.monotonic()
        response = client.post(
            parts.path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            query_string=parts.query,
            data=form,
            headers={"X-Twilio-Signature": self.sign(url, form), "User-Agent": "TwilioProxy/1.1"},
        )
        result = WebhookResult(
            url=url,
            form=form,
            status=response.status_code,
            body=response.get_data(as_text=True),
            content_type=response.headers.get("Content-Type", ""),
        )
        log.debug(
            "fake Twilio webhook %s -> %s in %.3fs", url, result.status, time.monotonic() - started
        )
        with self.lock:
            self.webhooks.append(result)
        return result

    # -- outbound lifecycle ----------------------------------------------------------------

    def add_media(self, *, message_sid: str, data: bytes, content_type: str) -> FakeMedia:
        item = FakeMedia(
            sid=new_sid("ME"),
            account_sid=self.account_sid,
            message_sid=message_sid,
            content_type=content_type,
            data=data,
            date_created=self.clock(),
            cdn_token=secrets.token_hex(16),
        )
        with self.lock:
            self.media[item.sid] = item
        return item

    def media_of(self, message_sid: str, *, with_deleted: bool = False) -> list[FakeMedia]:
        with self.lock:
            return [
                m
                for m in self.media.values()
                if m.message_sid == message_sid and (with_deleted or not m.deleted)
            ]

    def live_media(self) -> list[FakeMedia]:
        """The media Twilio still holds (not deleted through the API)."""
        with self.lock:
            return [m for m in self.media.values() if not m.deleted]

    def fetch_outbound_media(self, message_sid: str, urls: list[str]) -> bool:
        """What Twilio does with an outbound MediaUrl: fetch it (from the app, in-process)
        and keep it as the message's Media, which the phone then shows. A URL the app
        does not answer with 200 is recorded as an error on the message (Twilio: 11200).
        A URL elsewhere on the web is taken as given (this fake reaches no other site)."""
        client = WSGIClient(self.target_app)
        fetched = True
        app_host = urlsplit(self.public_base_url()).netloc
        for url in urls:
            parts = urlsplit(url)
            if parts.netloc != app_host:
                continue
            response = client.get(
                parts.path,
                base_url=f"{parts.scheme}://{parts.netloc}",
                query_string=parts.query,
                headers={"User-Agent": "TwilioProxy/1.1"},
            )
            if response.status_code != 200:
                log.warning("fake Twilio: media %s answered %s", url, response.status_code)
                fetched = False
                continue
            content_type = response.headers.get("Content-Type", "").split(";")[0]
            self.add_media(
                message_sid=message_sid, data=response.get_data(), content_type=content_type
            )
        return fetched

    def accept_outbound(
        self,
        *,
        from_: str,
        to: str,
        body: str,
        media_urls: list[str],
        status_callback: str | None,
        messaging_service_sid: str | None = None,
    ) -> FakeMessage:
        now = self.clock()
        message = FakeMessage(
            sid=new_sid("MM" if media_urls else "SM"),
            account_sid=self.account_sid,
            from_=from_,
            to=to,
            body=body,
            media_urls=list(media_urls),
            direction="outbound-api",
            status="queued",
            date_created=now,
            date_updated=now,
            status_callback=status_callback,
            messaging_service_sid=messaging_service_sid,
        )
        with self.lock:
            self.messages[message.sid] = message
        media_fetched = not media_urls or self.fetch_outbound_media(message.sid, list(media_urls))
        with self.lock:
            undeliverable = self.undeliverable.get(to)
            if not media_fetched:
                undeliverable = 11200  # HTTP retrieval failure of a MediaUrl
            if undeliverable is None and self.enforce_registration:
                undeliverable = self.registrations.carrier_block(from_)
        self.schedule(SENT_AFTER, lambda: self._advance(message.sid, "sent"))
        if undeliverable is not None:
            self.schedule(
                DELIVERED_AFTER,
                lambda: self._advance(message.sid, "undelivered", error_code=undeliverable),
            )
        else:
            self.schedule(DELIVERED_AFTER, lambda: self._advance(message.sid, "delivered"))
        return message

    def _advance(self, sid: str, status: str, *, error_code: int | None = None) -> None:
        with self.lock:
            message = self.messages[sid]
            message.status = status
            message.date_updated = self.clock()
            if status == "sent":
                message.date_sent = message.date_updated
            if error_code is not None:
                message.error_code = error_code
        if message.status_callback:
            self.post_webhook(message.status_callback, self.status_form(message))

    def status_form(self, message: FakeMessage, status: str | None = None) -> dict[str, str]:
        status = status or message.status
        form = {
            "AccountSid": message.account_sid,
            "ApiVersion": "2010-04-01",
            "From": message.from_,
            "To": message.to,
            "MessageSid": message.sid,
            "SmsSid": message.sid,
            "MessageStatus": status,
            "SmsStatus": status,
        }
        if message.error_code is not None and status in {"undelivered", "failed"}:
            form["ErrorCode"] = str(message.error_code)
        return form

    def deliver_to_phone(self, *, from_: str, to: str, body: str) -> FakeMessage:
        """A text from outside the account (the Campaign Registry's confirmation text)
        lands on `to`'s phone, as the phone simulator shows it."""
        now = self.clock()
        message = FakeMessage(
            sid=new_sid("SM"),
            account_sid=self.account_sid,
            from_=from_,
            to=to,
            body=body,
            media_urls=[],
            direction="outbound-api",
            status="delivered",
            date_created=now,
            date_sent=now,
            date_updated=now,
        )
        with self.lock:
            self.messages[message.sid] = message
        return message

    # -- the phone simulator's side: texts and calls from an outside phone --------------------

    def number(self, phone: str) -> FakeNumber | None:
        with self.lock:
            return self.numbers.get(phone)

    def send_inbound_sms(
        self,
        *,
        from_: str,
        to: str,
        body: str,
        media: list[tuple[str, str]] = (),  # type: ignore[assignment]
        attachments: list[tuple[bytes, str]] = (),  # type: ignore[assignment]
    ) -> WebhookResult:
        """A phone texts `to`: Twilio posts the message to the number's SMS URL (or the
        app's own SMS webhook for a number this fake did not sell).

        `attachments` (bytes, content type) are stored as the message's Media, which the
        webhook names by their api.twilio.com URLs as Twilio does; `media` posts (URL,
        content type) pairs as given (tests of what a hostile post could name)."""
        now = self.clock()
        sid = new_sid("MM" if media or attachments else "SM")
        media = list(media)
        for data, content_type in attachments:
            item = self.add_media(message_sid=sid, data=data, content_type=content_type)
            media.append((item.url, content_type))
        message = FakeMessage(
            sid=sid,
            account_sid=self.account_sid,
            from_=from_,
            to=to,
            body=body,
            media_urls=[url for url, _type in media],
            direction="inbound",
            status="received",
            date_created=now,
            date_updated=now,
        )
        word = body.strip().upper()
        if to == OTP_SENDER:
            # An answer to the Campaign Registry's confirmation text, not to the app.
            with self.lock:
                self.messages[sid] = message
                answered = self.registrations.confirm_otp(from_, body)
            return WebhookResult(
                url="tcr:otp",
                form={"From": from_, "Body": body},
                status=200 if answered else 404,
                body="",
                content_type="text/plain",
            )
        opt_out_type = None
        with self.lock:
            self.messages[sid] = message
            if word in OPT_OUT_WORDS:
                self.carrier_opt_outs.add((from_, to))
                opt_out_type = "STOP"
            elif word in OPT_IN_WORDS:
                self.carrier_opt_outs.discard((from_, to))
                opt_out_type = "START"
            elif word in HELP_WORDS:
                opt_out_type = "HELP"
            if not self.advanced_opt_out:
                opt_out_type = None
            if opt_out_type is not None:
                # Twilio's own answer reaches the phone (it is no API message of the app's).
                reply_sid = new_sid("SM")
                self.messages[reply_sid] = FakeMessage(
                    sid=reply_sid,
                    account_sid=self.account_sid,
                    from_=to,
                    to=from_,
                    body=ADVANCED_OPT_OUT_REPLIES[opt_out_type],
                    media_urls=[],
                    direction="outbound-reply",
                    status="delivered",
                    date_created=now,
                    date_sent=now,
                    date_updated=now,
                )
        form = {
            "ToCountry": "US",
            "ToState": "",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media)),
            "ToCity": "",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "",
            "SmsStatus": "received",
            "FromCity": "",
            "Body": body,
            "FromCountry": "US",
            "To": to,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": from_,
            "ApiVersion": "2010-04-01",
        }
        if opt_out_type is not None:
            form["OptOutType"] = opt_out_type
        for index, (url, content_type) in enumerate(media):
            form[f"MediaUrl{index}"] = url
            form[f"MediaContentType{index}"] = content_type
        number = self.number(to)
        url = (number.sms_url if number and number.sms_url else None) or self.app_url(
            "/webhooks/twilio/sms"
        )
        return self.post_webhook(url, form)

    def place_call(self, *, from_: str, to: str) -> WebhookResult:
        """A phone calls `to`: Twilio asks the number's voice URL what to do (TwiML)."""
        form = {**self.call_form(sid=new_sid("CA"), from_=from_, to=to), "CallStatus": "ringing"}
        return self.post_webhook(self.voice_url(to), form)

    def call_form(self, *, sid: str, from_: str, to: str) -> dict[str, str]:
        """The fields Twilio posts on every request about an inbound call (each request
        adds its CallStatus and what that step is about)."""
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": sid,
            "Called": to,
            "Caller": from_,
            "Direction": "inbound",
            "From": from_,
            "To": to,
            "CallerCountry": "US",
            "CalledCountry": "US",
        }

    def voice_url(self, to: str) -> str:
        """Where Twilio asks what to do with a call to `to`: the number's voice URL."""
        number = self.number(to)
        return (number.voice_url if number and number.voice_url else None) or self.app_url(
            "/webhooks/twilio/voice"
        )

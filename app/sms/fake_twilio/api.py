"""The fake Twilio REST API: a WSGI app answering the paths the product uses, with Twilio's
JSON shapes and error bodies, so the official SDK cannot tell it from api.twilio.com.

- POST/GET /2010-04-01/Accounts/{sid}/Messages.json, GET .../Messages/{sid}.json
- GET .../Messages/{sid}/Media.json, GET/DELETE .../Media/{ME}.json, GET .../Media/{ME} (the
  media itself: a redirect to a short-lived link on mms.twiliocdn.com, served by this fake
  without credentials, as Twilio's CDN does)
- GET  /2010-04-01/Accounts/{sid}/AvailablePhoneNumbers/{country}/Local.json
- POST/GET /2010-04-01/Accounts/{sid}/IncomingPhoneNumbers.json, POST .../{sid}.json
- POST/GET /2010-04-01/Accounts/{sid}/Addresses.json, POST .../{sid}.json

and, by host, trusthub.twilio.com and messaging.twilio.com (texting registration:
app/sms/fake_twilio/registration.py) and lookups.twilio.com (GET /v2/PhoneNumbers/{number},
Line Type Intelligence: app/sms/fake_twilio/lookups.py). The SDK picks the host; the
in-process client keeps it, and the loopback client (the fake served over HTTP) sends it as
`X-Twilio-Host`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import socket
import time
from datetime import datetime
from email.utils import format_datetime
from typing import Any

import phonenumbers
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from app.sms.error_codes import INVALID_TO, OPTED_OUT
from app.sms.fake_twilio.registration_api import RegistrationAPI
from app.sms.fake_twilio.state import FakeMessage, FakeNumber, FakeTwilio, RecordedRequest, new_sid

API = "/2010-04-01/Accounts/<account>"
URLS = Map(
    [
        Rule(f"{API}/Messages.json", endpoint="messages"),
        Rule(f"{API}/Messages/<sid>.json", endpoint="message"),
        Rule(f"{API}/Messages/<message_sid>/Media.json", endpoint="media_list"),
        Rule(f"{API}/Messages/<message_sid>/Media/<sid>.json", endpoint="media_json"),
        Rule(f"{API}/Messages/<message_sid>/Media/<sid>", endpoint="media_content"),
        Rule(f"{API}/AvailablePhoneNumbers/<country>/Local.json", endpoint="available"),
        Rule(f"{API}/IncomingPhoneNumbers.json", endpoint="incoming"),
        Rule(f"{API}/IncomingPhoneNumbers/<sid>.json", endpoint="incoming_one"),
        Rule(f"{API}/Addresses.json", endpoint="addresses"),
        Rule(f"{API}/Addresses/<sid>.json", endpoint="address"),
        Rule(f"{API}/Recordings/<sid>.json", endpoint="recording"),
        Rule(f"{API}/Recordings/<sid>.wav", endpoint="recording_audio"),
    ]
)
DEFAULT_AVAILABLE = 5
TIMED_OUT = "fake_twilio.timed_out"
# The Twilio host a request was meant for, when it reached the fake over loopback HTTP.
HOST_HEADER = "X-Twilio-Host"
CLIENT_TIMEOUT = "fake_twilio.client_timeout"


class TwilioError(Exception):
    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def response(self) -> Response:
        return _json(
            {
                "code": self.code,
                "message": self.message,
                "more_info": f"https://www.twilio.com/docs/errors/{self.code}",
                "status": self.status,
            },
            self.status,
        )


def _mark_timed_out(request: Request) -> None:
    """Tell the in-process client its request 'timed out'. It hands a list in the environ:
    werkzeug's run_wsgi_app gives the app a copy of the environ, so only a shared object
    carries the answer back."""
    box = request.environ.get(TIMED_OUT)
    if isinstance(box, list):
        box.append(True)
    else:
        request.environ[TIMED_OUT] = True


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload), status=status, headers=headers, mimetype="application/json"
    )


def _date(value: datetime | None) -> str | None:
    # Twilio's REST API writes dates in RFC 2822 form.
    return format_datetime(value) if value is not None else None


def message_json(message: FakeMessage) -> dict[str, Any]:
    uri = f"/2010-04-01/Accounts/{message.account_sid}/Messages/{message.sid}"
    return {
        "account_sid": message.account_sid,
        "api_version": "2010-04-01",
        "body": message.body,
        "date_created": _date(message.date_created),
        "date_sent": _date(message.date_sent),
        "date_updated": _date(message.date_updated),
        "direction": message.direction,
        "error_code": message.error_code,
        "error_message": None,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": str(len(message.media_urls)),
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": message.to,
        "uri": f"{uri}.json",
    }


def number_json(number: FakeNumber) -> dict[str, Any]:
    return {
        "account_sid": number.account_sid,
        "address_requirements": "none",
        "api_version": "2010-04-01",
        "beta": False,
        "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
        "date_created": _date(number.date_created),
        "date_updated": _date(number.date_created),
        "friendly_name": number.friendly_name,
        "origin": "twilio",
        "phone_number": number.phone_number,
        "sid": number.sid,
        "sms_fallback_method": "POST",
        "sms_fallback_url": "",
        "sms_method": number.sms_method,
        "sms_url": number.sms_url or "",
        "status_callback": number.status_callback or "",
        "status_callback_method": "POST",
        "status": "in-use",
        "uri": f"/2010-04-01/Accounts/{number.account_sid}/IncomingPhoneNumbers/{number.sid}.json",
        "voice_caller_id_lookup": False,
        "voice_fallback_method": "POST",
        "voice_fallback_url": None,
        "voice_method": number.voice_method,
        "voice_url": number.voice_url or "",
    }


def _page(key: str, items: list[dict[str, Any]], uri: str) -> dict[str, Any]:
    return {
        key: items,
        "end": max(len(items) - 1, 0),
        "first_page_uri": uri,
        "next_page_uri": None,
        "page": 0,
        "page_size": len(items),
        "previous_page_uri": None,
        "start": 0,
        "uri": uri,
    }


def _pretty(e164: str) -> str:
    return phonenumbers.format_number(
        phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.NATIONAL
    )


def _place(e164: str) -> tuple[str | None, str | None]:
    """(locality, region) of a US number, e.g. ("Austin", "TX")."""
    # Imported on first use: the geocoder's data is large enough that importing it with the
    # app cost every process start 0.2 s (and a fresh clone 5 s of compiling it).
    from phonenumbers import geocoder

    description = geocoder.description_for_number(phonenumbers.parse(e164), "en")
    if ", " in description:
        locality, region = description.rsplit(", ", 1)
        return locality, region
    return (description or None), None


def available_numbers(area_code: str, count: int, taken: set[str]) -> list[str]:
    """A deterministic handful of valid local numbers in `area_code` (none for a code that
    doesn't exist, such as 999 or 555). Numbers with a known town come first."""
    if not (len(area_code) == 3 and area_code.isdigit()):
        return []
    with_town: list[str] = []
    others: list[str] = []
    for attempt in range(80):
        digest = hashlib.sha256(f"{area_code}:{attempt}".encode()).digest()
        exchange = 200 + int.from_bytes(digest[:2], "big") % 800
        line = int.from_bytes(digest[2:4], "big") % 10000
        candidate = f"+1{area_code}{exchange:03d}{line:04d}"
        if exchange == 555 or candidate in taken or candidate in with_town + others:
            continue
        if not phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            continue
        (with_town if _place(candidate)[1] else others).append(candidate)
        if len(with_town) >= count:
            break
    return (with_town + others)[:count]


class FakeTwilioAPI(RegistrationAPI):
    """WSGI app over a `FakeTwilio` state."""

    def __init__(self, fake: FakeTwilio) -> None:
        self.fake = fake

    def __call__(self, environ, start_response):
        request = Request(environ)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query=list(request.args.items(multi=True)),
            form=list(request.form.items(multi=True)),
        )
        with self.fake.lock:
            self.fake.requests.append(record)
        response = self.dispatch(request, record)
        record.status = response.status_code
        return response(environ, start_response)

    def dispatch(self, request: Request, record: RecordedRequest) -> Response:
        try:
            host = request.headers.get(HOST_HEADER) or request.host
            if host.endswith("twiliocdn.com"):
                return self.on_cdn(request)
            self._authenticate(request)
            if host.startswith(("trusthub.", "messaging.")):
                return self.dispatch_registration(request, host)
            if host.startswith("lookups."):
                return self.on_lookup(request)
            adapter = URLS.bind_to_environ(request.environ)
            endpoint, values = adapter.match(method=None)
            if values.pop("account") != self.fake.account_sid:
                raise TwilioError(20404, "The requested resource was not found", 404)
            return getattr(self, f"on_{endpoint}")(request, **values)
        except TwilioError as error:
            return error.response()
        except NotFound:
            return TwilioError(
                20404, f"The requested resource {request.path} was not found", 404
            ).response()
        except HTTPException as error:
            return _json(
                {"code": 20001, "message": str(error), "status": error.code}, error.code or 400
            )

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        expected = (
            "Basic "
            + base64.b64encode(f"{self.fake.account_sid}:{self.fake.auth_token}".encode()).decode()
        )
        if header != expected:
            raise TwilioError(20003, "Authenticate", 401)

    def _fault_or_none(self, request: Request):
        fault = self.fake.take_fault(request.path)
        if fault is None:
            return None
        if fault.status == 0:
            return fault
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after else None
        code = fault.code or (20429 if fault.status == 429 else 20500)
        message = "Too Many Requests" if fault.status == 429 else "Internal Server Error"
        return _json(
            {"code": code, "message": message, "more_info": "", "status": fault.status},
            fault.status,
            headers,
        )

    @staticmethod
    def _drop(request: Request) -> None:
        """Close the client's connection without an answer."""
        sock = request.environ.get("werkzeug.socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        raise ConnectionAbortedError("fake Twilio dropped the connection")

    def _slow_down(self, request: Request) -> None:
        """The configured latency; the in-process client learns it 'timed out' instead of
        waiting when the latency exceeds its timeout."""
        latency = max(
            self.fake.latency, self.fake.number_latency.get(request.form.get("To", ""), 0)
        )
        if latency <= 0:
            return
        timeout = request.environ.get(CLIENT_TIMEOUT)
        if timeout is not None and latency >= timeout:
            _mark_timed_out(request)
            return
        time.sleep(latency)

    # -- Messages -----------------------------------------------------------------------------

    def on_messages(self, request: Request) -> Response:
        if request.method == "GET":
            return self._list_messages(request)
        if request.method != "POST":
            raise TwilioError(20004, "Method not allowed", 405)
        fault = self._fault_or_none(request)
        if isinstance(fault, Response):
            return fault
        if fault is not None and not fault.after_accept:
            self._drop(request)
        form = request.form
        to = form.get("To", "").strip()
        from_ = form.get("From", "").strip()
        body = form.get("Body", "")
        media = form.getlist("MediaUrl")
        service_sid = form.get("MessagingServiceSid", "").strip() or None
        if not to:
            raise TwilioError(21604, "A 'To' phone number is required.")
        if service_sid is not None:
            from_ = self._from_service(service_sid, from_)
        if not from_:
            raise TwilioError(21603, "A 'From' phone number is required.")
        if not body and not media:
            raise TwilioError(21602, "Message body is required.")
        try:
            valid = phonenumbers.is_valid_number(phonenumbers.parse(to))
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            raise TwilioError(INVALID_TO, f"The 'To' number {to} is not a valid phone number.")
        code = self.fake.number_errors.get(to)
        if code is None and (to, from_) in self.fake.carrier_opt_outs:
            code = OPTED_OUT
        if code is not None:
            raise TwilioError(
                code, _REFUSALS.get(code, "The message could not be sent.").format(to=to)
            )
        message = self.fake.accept_outbound(
            from_=from_,
            to=to,
            body=body,
            media_urls=media,
            status_callback=form.get("StatusCallback") or None,
            messaging_service_sid=service_sid,
        )
        if fault is not None:
            self._drop(request)
        self._slow_down(request)
        return _json(message_json(message), 201)

    def _from_service(self, service_sid: str, from_: str) -> str:
        """The sender for a text sent through a Messaging Service. With a From as well,
        Twilio sends from that number, which must be in the service's pool. A service this
        process never saw (the fake restarted) is taken on trust when a From is given."""
        with self.fake.lock:
            service = self.fake.registrations.services.get(service_sid)
            if service is None:
                if from_:
                    return from_
                raise TwilioError(21701, "The Messaging Service does not exist.")
            pool = [
                n.phone_number for n in self.fake.numbers.values() if n.sid in service["_numbers"]
            ]
        if from_:
            if from_ not in pool:
                raise TwilioError(
                    21712, f"The From number {from_} is not in the Messaging Service's sender pool."
                )
            return from_
        if not pool:
            raise TwilioError(21704, "The Messaging Service contains no phone numbers.")
        return pool[0]

    def _list_messages(self, request: Request) -> Response:
        args = request.args
        after = args.get("DateSent>") or args.get("DateSent")
        since = datetime.fromisoformat(after.replace("Z", "+00:00")) if after else None
        with self.fake.lock:
            found = [
                m
                for m in self.fake.messages.values()
                if (not args.get("To") or m.to == args["To"])
                and (not args.get("From") or m.from_ == args["From"])
                and (since is None or (m.date_sent or m.date_created) >= since)
            ]
        found.sort(key=lambda m: m.date_created, reverse=True)
        size = int(args.get("PageSize", 50))
        return _json(_page("messages", [message_json(m) for m in found[:size]], request.path))

    # -- Media (the Media subresource of a message) ---------------------------------------

    def _media(self, request: Request, message_sid: str, sid: str) -> Any:
        with self.fake.lock:
            item = self.fake.media.get(sid)
        if item is None or item.message_sid != message_sid or item.deleted:
            raise TwilioError(20404, f"The requested resource {request.path} was not found", 404)
        return item

    @staticmethod
    def _media_json(item: Any) -> dict[str, Any]:
        return {
            "account_sid": item.account_sid,
            "content_type": item.content_type,
            "date_created": _date(item.date_created),
            "date_updated": _date(item.date_created),
            "parent_sid": item.message_sid,
            "sid": item.sid,
            "uri": f"{item.uri}.json",
        }

    def on_media_list(self, request: Request, message_sid: str) -> Response:
        items = [self._media_json(m) for m in self.fake.media_of(message_sid)]  # not deleted
        return _json(_page("media_list", items, request.path))

    def on_media_json(self, request: Request, message_sid: str, sid: str) -> Response:
        item = self._media(request, message_sid, sid)
        if request.method == "DELETE":
            with self.fake.lock:
                item.deleted = True
            return Response(status=204)
        return _json(self._media_json(item))

    def on_media_content(self, request: Request, message_sid: str, sid: str) -> Response:
        fault = self._fault_or_none(request)
        if isinstance(fault, Response):
            return fault
        item = self._media(request, message_sid, sid)
        if request.method == "DELETE":
            with self.fake.lock:
                item.deleted = True
            return Response(status=204)
        redirect = self.fake.media_redirect
        if redirect is None:
            return self._media_body(item)
        if redirect.endswith("twiliocdn.com"):
            redirect = f"{redirect}/{item.account_sid}/{item.sid}/{item.cdn_token}"
        return Response(status=307, headers={"Location": redirect})

    def on_cdn(self, request: Request) -> Response:
        """GET https://mms.twiliocdn.com/{AC}/{ME}/{token}: the short-lived link, no
        credentials (the token is the secret)."""
        parts = request.path.strip("/").split("/")
        with self.fake.lock:
            item = self.fake.media.get(parts[1]) if len(parts) == 3 else None
        if item is None or item.deleted or item.cdn_token != parts[2]:
            return Response("Not found", status=404, mimetype="text/plain")
        return self._media_body(item)

    @staticmethod
    def _media_body(item: Any) -> Response:
        """The bytes in 64 KB chunks, as a network would bring them: a reader that stops
        at its limit never holds the rest."""
        data = item.data
        chunks = (data[i : i + 65536] for i in range(0, len(data), 65536))
        return Response(
            chunks,
            status=200,
            headers={"Content-Length": str(len(data))},
            content_type=item.content_type or "application/octet-stream",
        )

    def on_message(self, request: Request, sid: str) -> Response:
        with self.fake.lock:
            message = self.fake.messages.get(sid)
        if message is None:
            raise TwilioError(20404, f"The requested resource {request.path} was not found", 404)
        return _json(message_json(message))

    # -- Phone numbers --------------------------------------------------------------------------

    def on_available(self, request: Request, country: str) -> Response:
        if country != "US":
            return _json(_page("available_phone_numbers", [], request.path))
        count = int(request.args.get("PageSize", DEFAULT_AVAILABLE))
        with self.fake.lock:
            taken = set(self.fake.numbers)
        items = []
        for e164 in available_numbers(request.args.get("AreaCode", ""), min(count, 30), taken):
            locality, region = _place(e164)
            items.append(
                {
                    "address_requirements": "none",
                    "beta": False,
                    "capabilities": {"voice": True, "SMS": True, "MMS": True, "fax": False},
                    "friendly_name": _pretty(e164),
                    "iso_country": "US",
                    "lata": None,
                    "latitude": None,
                    "locality": locality,
                    "longitude": None,
                    "phone_number": e164,
                    "postal_code": None,
                    "rate_center": (locality or "").upper() or None,
                    "region": region,
                }
            )
        return _json(_page("available_phone_numbers", items, request.path))

    def on_incoming(self, request: Request) -> Response:
        if request.method == "GET":
            wanted = request.args.get("PhoneNumber")
            with self.fake.lock:
                numbers = [
                    n for n in self.fake.numbers.values() if not wanted or n.phone_number == wanted
                ]
            return _json(
                _page("incoming_phone_numbers", [number_json(n) for n in numbers], request.path)
            )
        if request.method != "POST":
            raise TwilioError(20004, "Method not allowed", 405)
        fault = self._fault_or_none(request)
        if isinstance(fault, Response):
            return fault
        if fault is not None:
            self._drop(request)
        form = request.form
        phone = form.get("PhoneNumber", "").strip()
        if not phone:
            raise TwilioError(21450, "Either PhoneNumber or AreaCode is required.")
        try:
            valid = phonenumbers.is_valid_number(phonenumbers.parse(phone))
        except phonenumbers.NumberParseException:
            valid = False
        if not valid:
            raise TwilioError(21421, f"PhoneNumber {phone} is invalid.")
        locality, region = _place(phone)
        with self.fake.lock:
            if phone in self.fake.numbers:
                raise TwilioError(21422, f"PhoneNumber {phone} is not available.")
            number = FakeNumber(
                sid=new_sid("PN"),
                account_sid=self.fake.account_sid,
                phone_number=phone,
                friendly_name=form.get("FriendlyName") or _pretty(phone),
                sms_url=form.get("SmsUrl") or None,
                sms_method=form.get("SmsMethod", "POST"),
                voice_url=form.get("VoiceUrl") or None,
                voice_method=form.get("VoiceMethod", "POST"),
                status_callback=form.get("StatusCallback") or None,
                locality=locality,
                region=region,
                date_created=self.fake.clock(),
            )
            self.fake.numbers[phone] = number
        return _json(number_json(number), 201)

    def on_incoming_one(self, request: Request, sid: str) -> Response:
        with self.fake.lock:
            number = next((n for n in self.fake.numbers.values() if n.sid == sid), None)
            if number is None:
                raise TwilioError(
                    20404, f"The requested resource {request.path} was not found", 404
                )
            if request.method == "POST":
                form = request.form
                number.sms_url = form.get("SmsUrl", number.sms_url)
                number.voice_url = form.get("VoiceUrl", number.voice_url)
                number.status_callback = form.get("StatusCallback", number.status_callback)
                number.friendly_name = form.get("FriendlyName", number.friendly_name)
        return _json(number_json(number))

    # -- Addresses (Trust Hub's address records live on the REST API's host) -------------------

    def on_addresses(self, request: Request) -> Response:
        if request.method == "GET":
            with self.fake.lock:
                items = list(self.fake.addresses.values())
            return _json(_page("addresses", items, request.path))
        form = request.form
        for name in ("CustomerName", "Street", "City", "Region", "PostalCode", "IsoCountry"):
            if not form.get(name):
                raise TwilioError(21621, f"Missing required parameter {name}.")
        sid = new_sid("AD")
        with self.fake.lock:
            self.fake.registrations.created["address"] += 1
            self.fake.addresses[sid] = self._address(sid, form, None)
            return _json(self.fake.addresses[sid], 201)

    def on_address(self, request: Request, sid: str) -> Response:
        with self.fake.lock:
            address = self.fake.addresses.get(sid)
            if address is None:
                raise TwilioError(
                    20404, f"The requested resource {request.path} was not found", 404
                )
            if request.method == "POST":
                address = self.fake.addresses[sid] = self._address(sid, request.form, address)
            return _json(address)

    def _address(self, sid: str, form, old: dict[str, Any] | None) -> dict[str, Any]:
        old = old or {}
        now = _date(self.fake.clock())
        fields = {
            "customer_name": "CustomerName",
            "street": "Street",
            "street_secondary": "StreetSecondary",
            "city": "City",
            "region": "Region",
            "postal_code": "PostalCode",
            "iso_country": "IsoCountry",
            "friendly_name": "FriendlyName",
        }
        address = {key: form.get(name, old.get(key)) for key, name in fields.items()}
        address.update(
            sid=sid,
            account_sid=self.fake.account_sid,
            date_created=old.get("date_created", now),
            date_updated=now,
            emergency_enabled=False,
            validated=True,
            verified=False,
            uri=f"/2010-04-01/Accounts/{self.fake.account_sid}/Addresses/{sid}.json",
        )
        return address

    # -- Lookup v2 (lookups.twilio.com; app/sms/fake_twilio/lookups.py) ---------------------

    def on_lookup(self, request: Request) -> Response:
        phone = _lookup_phone(request.path)
        if phone is None or not phone:
            raise NotFound()
        if request.method != "GET":
            raise TwilioError(20004, "Method not allowed", 405)
        fault = self._fault_or_none(request)  # fail_next(..., path_contains="/PhoneNumbers/")
        if fault is not None and not isinstance(fault, Response):
            self._drop(request)
        if fault is not None:
            self.fake.lookups.record(phone, None, fault.status_code, "fault switch")
            return fault
        latency = self.fake.lookups.latency
        if latency > 0:
            timeout = request.environ.get(CLIENT_TIMEOUT)
            if timeout is not None and latency >= timeout:
                _mark_timed_out(request)
            else:
                time.sleep(latency)
        found = self.fake.lookups.answer(phone, request.args.get("Fields", ""))
        if found is None:
            raise TwilioError(20404, f"The requested resource {request.path} was not found", 404)
        return _json(found)

    # -- Recordings (voicemail; app/sms/fake_twilio/voice.py) ---------------------------------

    def _recording_or_404(self, sid: str):
        recording = self.fake.voice.recording(sid)
        if recording is None or recording.deleted:
            raise TwilioError(20404, f"The requested resource /Recordings/{sid} was not found", 404)
        return recording

    def on_recording(self, request: Request, sid: str) -> Response:
        recording = self._recording_or_404(sid)
        if request.method == "DELETE":
            with self.fake.lock:
                recording.deleted = True
            return Response(status=204)
        if request.method != "GET":
            raise TwilioError(20004, "Method not allowed", 405)
        return _json(
            {
                "account_sid": recording.account_sid,
                "api_version": "2010-04-01",
                "call_sid": recording.call_sid,
                "channels": 1,
                "date_created": _date(recording.date_created),
                "duration": str(recording.duration),
                "sid": recording.sid,
                "source": "RecordVerb",
                "status": "completed",
                "uri": f"{recording.path}.json",
                "media_url": f"https://api.twilio.com{recording.path}",
            }
        )

    def on_recording_audio(self, request: Request, sid: str) -> Response:
        if request.method != "GET":
            raise TwilioError(20004, "Method not allowed", 405)
        recording = self._recording_or_404(sid)
        fault = self._fault_or_none(request)  # fail_next(..., path_contains="/Recordings/")
        if fault is not None and not isinstance(fault, Response):
            self._drop(request)
        if fault is not None:
            return fault
        return Response(recording.audio, status=200, mimetype="audio/x-wav")


def _lookup_phone(path: str) -> str | None:
    prefix = "/v2/PhoneNumbers/"
    if not path.startswith(prefix) or "/" in path[len(prefix) :]:
        return None
    return path[len(prefix) :]


_REFUSALS = {
    21610: "Attempt to send to unsubscribed recipient",
    21614: "'To' number {to} is not a valid mobile number",
    21211: "The 'To' number {to} is not a valid phone number.",
    21408: "Permission to send an SMS has not been enabled for the region indicated by "
    "the 'To' number: {to}.",
}

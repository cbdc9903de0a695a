"""The fake Twilio's Lookup v2: GET https://lookups.twilio.com/v2/PhoneNumbers/{PhoneNumber}
with `Fields=line_type_intelligence`, answered in Twilio's JSON shape.

Which line a number is, in this order:
1. the switch `set_line_type(phone, type)` (tests, and the /dev/lookups page);
2. a number the fake refuses texts to with 21614 (`refuse_number`) is a landline, so the
   two switches never contradict each other;
3. a number this fake sold (a company's custom number) is Twilio's own "nonFixedVoip";
4. libphonenumber's number type: toll-free, premium, pager... as such, and every US number
   it cannot tell (FIXED_LINE_OR_MOBILE) is a mobile: the sensible default for a demo
   where customers text.

A number that is not a number at all gets Twilio's 404 (20404); one that parses but no
carrier can hold gets 200 with `valid: false` and no line type, as Lookup answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import phonenumbers

if TYPE_CHECKING:
    from app.sms.fake_twilio.state import FakeTwilio

# Twilio's line types (Lookup v2 Line Type Intelligence), with words for the dev page.
LINE_TYPES = {
    "mobile": "Mobile",
    "landline": "Landline",
    "fixedVoip": "Fixed VoIP",
    "nonFixedVoip": "Non-fixed VoIP",
    "tollFree": "Toll-free",
    "personal": "Personal",
    "premium": "Premium rate",
    "sharedCost": "Shared cost",
    "uan": "Universal access number",
    "voicemail": "Voicemail",
    "pager": "Pager",
    "unknown": "Unknown",
}
_Type = phonenumbers.PhoneNumberType
_BY_NUMBER_TYPE = {
    _Type.MOBILE: "mobile",
    _Type.FIXED_LINE_OR_MOBILE: "mobile",
    _Type.FIXED_LINE: "landline",
    _Type.TOLL_FREE: "tollFree",
    _Type.VOIP: "nonFixedVoip",
    _Type.PERSONAL_NUMBER: "personal",
    _Type.PREMIUM_RATE: "premium",
    _Type.SHARED_COST: "sharedCost",
    _Type.UAN: "uan",
    _Type.VOICEMAIL: "voicemail",
    _Type.PAGER: "pager",
}
# (carrier_name, mobile_country_code, mobile_network_code) the fake answers per type; real
# Lookup gives a country and network code for mobiles and Twilio's own VoIP numbers only.
_CARRIERS = {
    "mobile": ("Fake Wireless", "310", "260"),
    "nonFixedVoip": ("Twilio - SMS/MMS-SVR", "311", "950"),
    "landline": ("Fake Telephone Company - ILEC", None, None),
    "fixedVoip": ("Fake Cable Voice", None, None),
    "tollFree": ("Fake Toll-Free Networks", None, None),
}
NOT_MOBILE = 21614


@dataclass
class FakeLookup:
    """One Lookup the fake answered (or refused), newest last."""

    phone: str
    line_type: str | None
    status: int
    at: datetime
    why: str  # which rule decided: "switch", "refused texts (21614)", "number type", ...


class FakeLookups:
    def __init__(self, fake: FakeTwilio) -> None:
        self.fake = fake
        self.reset()

    def reset(self) -> None:
        self.line_types: dict[str, str] = {}
        self.answered: list[FakeLookup] = []
        self.latency = 0.0

    # -- switches --------------------------------------------------------------------------

    def set_line_type(self, phone: str, line_type: str | None) -> None:
        """Lookup says `phone` is `line_type` (one of LINE_TYPES); None: back to the rules."""
        if line_type is not None and line_type not in LINE_TYPES:
            raise ValueError(f"not a Lookup line type: {line_type}")
        with self.fake.lock:
            if line_type is None:
                self.line_types.pop(phone, None)
            else:
                self.line_types[phone] = line_type

    def set_latency(self, seconds: float) -> None:
        """Answer each Lookup `seconds` late (a client that waits less times out)."""
        with self.fake.lock:
            self.latency = seconds

    def count(self, phone: str | None = None) -> int:
        """How many Lookups reached the fake (for `phone`, or in all): each one is billed."""
        with self.fake.lock:
            return sum(
                1
                for r in self.fake.requests
                if r.path.startswith("/v2/PhoneNumbers/")
                and (phone is None or r.path == f"/v2/PhoneNumbers/{phone}")
            )

    # -- answers ---------------------------------------------------------------------------

    def line_type_of(self, phone: str) -> tuple[str, str]:
        """(line type, the rule that decided it) for a valid number."""
        with self.fake.lock:
            chosen = self.line_types.get(phone)
            refused = self.fake.number_errors.get(phone)
            ours = phone in self.fake.numbers
        if chosen is not None:
            return chosen, "switch"
        if refused == NOT_MOBILE:
            return "landline", "refused texts (21614)"
        if ours:
            return "nonFixedVoip", "a Twilio number"
        kind = phonenumbers.number_type(phonenumbers.parse(phone))
        return _BY_NUMBER_TYPE.get(kind, "unknown"), "number type"

    def record(self, phone: str, line_type: str | None, status: int, why: str) -> None:
        with self.fake.lock:
            self.answered.append(
                FakeLookup(
                    phone=phone, line_type=line_type, status=status, at=self.fake.clock(), why=why
                )
            )

    def answer(self, raw: str, fields: str) -> dict[str, Any] | None:
        """The JSON Lookup answers for `raw` (None: Twilio's 404)."""
        try:
            parsed = phonenumbers.parse(raw, "US")
        except phonenumbers.NumberParseException:
            self.record(raw, None, 404, "not a number")
            return None
        e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        valid = phonenumbers.is_valid_number(parsed)
        wanted = {f.strip() for f in (fields or "").split(",") if f.strip()}
        line = None
        line_type: str | None = None
        why = "not valid"
        if valid and "line_type_intelligence" in wanted:
            line_type, why = self.line_type_of(e164)
            carrier, mcc, mnc = _CARRIERS.get(line_type, (None, None, None))
            line = {
                "carrier_name": carrier,
                "error_code": None,
                "mobile_country_code": mcc,
                "mobile_network_code": mnc,
                "type": line_type,
            }
        elif valid:
            why = "no fields asked"
        self.record(e164, line_type, 200, why)
        errors = None if valid else ["INVALID_BUT_POSSIBLE"]
        return {
            "calling_country_code": str(parsed.country_code),
            "country_code": phonenumbers.region_code_for_number(parsed),
            "phone_number": e164,
            "national_format": phonenumbers.format_number(
                parsed, phonenumbers.PhoneNumberFormat.NATIONAL
            ),
            "valid": valid,
            "validation_errors": errors,
            "caller_name": None,
            "sim_swap": None,
            "call_forwarding": None,
            "line_status": None,
            "line_type_intelligence": line,
            "identity_match": None,
            "reassigned_number": None,
            "sms_pumping_risk": None,
            "phone_number_quality_score": None,
            "pre_fill": None,
            "url": f"https://lookups.twilio.com/v2/PhoneNumbers/{e164}",
        }

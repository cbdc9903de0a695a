"""Phone numbers: everything stored is E.164, parsed and checked by `phonenumbers`."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from app.services.errors import DomainError

DEFAULT_REGION = "US"


class InvalidPhone(DomainError):
    pass


def normalize_phone(raw: str, *, region: str = DEFAULT_REGION, field: str | None = None) -> str:
    """Return `raw` as E.164 ("+15125550100"), or raise InvalidPhone saying why."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("Enter a phone number.", field=field)
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"“{text}” is not a phone number.", field=field) from None
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhone(f"“{text}” is not a valid phone number.", field=field)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Seven or more of the characters people write numbers with: "(512) 555-0100", "555 0100".
_PHONE_LIKE = re.compile(r"\+?[\d\s().-]{7,}")


def looks_like_phone(text: str) -> bool:
    """Whether typed text is (part of) a phone number rather than a name or an address."""
    return bool(_PHONE_LIKE.fullmatch(text.strip()))


# Cached: list pages format a number per row, and parsing one costs ~50 µs.
@lru_cache(maxsize=4096)
def format_phone(e164: str | None) -> str:
    """Human display: national format at home, international otherwise."""
    if not e164:
        return ""
    try:
        parsed = phonenumbers.parse(e164, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return e164
    if phonenumbers.region_code_for_number(parsed) == DEFAULT_REGION:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def area_code(e164: str) -> str | None:
    """The North American area code of an E.164 number, or None outside NANP."""
    if e164.startswith("+1") and len(e164) == 12:
        return e164[2:5]
    return None


class NotMobile(InvalidPhone):
    pass


# Types a text can reach. In North America libphonenumber cannot tell a mobile from a
# landline (both are FIXED_LINE_OR_MOBILE); what it does know to be unable to take a
# text (toll-free, premium, pagers, and landlines elsewhere) is refused.
_TEXTABLE_TYPES = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


def normalize_mobile(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """`raw` as E.164 if it is a valid number that can take texts; InvalidPhone (or its
    NotMobile) saying why not. Used where numbers come in bulk (the CSV import)."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("Enter a phone number.")
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"“{text}” is not a phone number.") from None
    # is_valid_number is number_type != UNKNOWN: one lookup answers both questions.
    kind = phonenumbers.number_type(parsed)
    if kind == phonenumbers.PhoneNumberType.UNKNOWN:
        raise InvalidPhone(f"“{text}” is not a valid phone number.")
    if kind not in _TEXTABLE_TYPES:
        raise NotMobile(f"“{text}” is not a mobile number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

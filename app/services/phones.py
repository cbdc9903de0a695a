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


# Where the product texts: US numbers. Canada shares +1 and is next: adding "CA" here is
# the whole change on this side (its numbers type like the US's).
TEXTABLE_REGIONS = frozenset({"US"})
_REGION_NAMES = {"CA": "Canadian", "GB": "UK", "MX": "Mexican", "PR": "Puerto Rico"}
_Type = phonenumbers.PhoneNumberType
# Numbers that can get a text: libphonenumber cannot tell US mobiles from landlines (both
# are FIXED_LINE_OR_MOBILE), so a US number is accepted unless its type says otherwise.
_MOBILE_CAPABLE = frozenset({_Type.MOBILE, _Type.FIXED_LINE_OR_MOBILE, _Type.VOIP})
# Accepted with a warning: some landlines and toll-free lines are text-enabled, most are not.
_MAYBE_TEXTABLE = {
    _Type.FIXED_LINE: "a landline",
    _Type.TOLL_FREE: "a toll-free number",
}


class NotMobile(InvalidPhone):
    """A valid number that cannot take texts (or, in bulk, might not)."""


def normalize_mobile(raw: str, *, field: str | None = None, strict: bool = False) -> str:
    """A customer's mobile as E.164: a valid number the product can text (US), or
    InvalidPhone saying why not. Landlines and toll-free numbers pass (see
    `mobile_warning`) unless `strict`, where nobody is there to be warned (the CSV import
    refuses them as NotMobile); premium-rate, pager, personal and foreign numbers never do.
    One parse per number: the import calls this 50,000 times."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("Enter a phone number.", field=field)
    try:
        parsed = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        raise InvalidPhone(f"“{text}” is not a phone number.", field=field) from None
    # is_valid_number is number_type != UNKNOWN: one lookup answers both questions.
    kind = phonenumbers.number_type(parsed)
    if kind == _Type.UNKNOWN:
        raise InvalidPhone(f"“{text}” is not a valid phone number.", field=field)
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    region = phonenumbers.region_code_for_number(parsed)
    if region not in TEXTABLE_REGIONS:
        where = _REGION_NAMES.get(region or "", "")
        what = f"a {where} number" if where else "not a US number"
        raise InvalidPhone(
            f"{format_phone(e164)} is {what}: texts go to US mobile numbers only.", field=field
        )
    if strict and kind in _MAYBE_TEXTABLE:
        raise NotMobile(f"“{text}” is not a mobile number.", field=field)
    if kind not in _MOBILE_CAPABLE and kind not in _MAYBE_TEXTABLE:
        raise NotMobile(
            f"{format_phone(e164)} cannot receive texts (not a mobile number). "
            "Enter a mobile number.",
            field=field,
        )
    return e164


def mobile_warning(e164: str) -> str | None:
    """What to tell the office about a stored mobile that may not get texts, or None."""
    kind = phonenumbers.number_type(phonenumbers.parse(e164))
    if kind in _MAYBE_TEXTABLE:
        return (
            f"{format_phone(e164)} looks like {_MAYBE_TEXTABLE[kind]}: texts reach it only "
            "if it is text-enabled. Use the customer's mobile if they have one."
        )
    return None


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


def normalize_other_phone(raw: str) -> str:
    """A number besides the mobile: E.164 when it is a valid number of any kind (a landline
    is fine, it is never texted), else kept as typed, e.g. one with an extension, which
    E.164 cannot hold, or a number from an old system."""
    text = " ".join((raw or "").split())
    try:
        parsed = phonenumbers.parse(text, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return text
    if parsed.extension or not phonenumbers.is_valid_number(parsed):
        return text
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def format_other_phone(value: str) -> str:
    """A customer's other phone for display: E.164 formatted, one kept as typed as is."""
    return format_phone(value) if value.startswith("+") else value


def area_code(e164: str) -> str | None:
    """The North American area code of an E.164 number, or None outside NANP."""
    if e164.startswith("+1") and len(e164) == 12:
        return e164[2:5]
    return None

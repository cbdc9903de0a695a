"""Is this number a landline? Twilio Lookup's Line Type Intelligence says, once per number.

libphonenumber cannot tell a US mobile from a US landline (both are FIXED_LINE_OR_MOBILE),
so with TWILIO_LOOKUP on (the default) the product asks Twilio Lookup v2 and keeps the
answer in `line_type_lookups`, one row per number, reused for `FRESH_FOR`: each Lookup is
billed. Nothing here ever looks numbers up in a loop: a number is looked up when one person
saves it (2 s at most, in their request) or when the worker is about to send a
missed-call text to it. A CSV import never looks anything up.

When Lookup is off, fails or is slow, the answer is None and callers fall back to the
number type (app/services/phones.py) and past 21614 refusals, as before Lookup.

`look_up` makes an HTTP request: call it with nothing uncommitted (it ends the session's
transaction before the request, as the media fetches do, and flushes its row afterwards;
the caller commits).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import Company, Conversation, Customer, LineTypeLookup, User
from app.services.phones import format_phone
from app.services.phones import mobile_warning as number_type_warning
from app.services.uniqueness import insert_or_get
from app.sms import gateway

log = logging.getLogger(__name__)

# One Lookup per number per 90 days: lines are rarely ported between mobile and landline,
# and each Lookup costs money.
FRESH_FOR = timedelta(days=90)
# A person saving a form waits at most this long for Twilio; then the number type decides.
REQUEST_TIMEOUT = 2.0
# The worker deciding a missed-call text holds one outbox slot while it waits.
WORKER_TIMEOUT = 5.0
# Lines a text cannot reach.
NOT_TEXTABLE = {"landline": "a landline", "tollFree": "a toll-free number"}


def lookup_enabled() -> bool:
    return bool(current_app.config.get("TWILIO_LOOKUP", True))


def cached_lookup(*, phone: str, now: datetime) -> LineTypeLookup | None:
    """The stored answer for `phone` if it is younger than FRESH_FOR (no request made)."""
    row = db.session.scalar(sa.select(LineTypeLookup).filter_by(phone=phone))
    if row is None or row.looked_up_at <= now - FRESH_FOR:
        return None
    return row


def cached_lookups(*, phones: Iterable[str], now: datetime) -> dict[str, LineTypeLookup]:
    """The fresh stored answers for several numbers (a list page), in one query."""
    wanted = {p for p in phones if p}
    if not wanted:
        return {}
    rows = db.session.scalars(
        sa.select(LineTypeLookup).where(
            LineTypeLookup.phone.in_(wanted), LineTypeLookup.looked_up_at > now - FRESH_FOR
        )
    )
    return {row.phone: row for row in rows}


def look_up(*, phone: str, now: datetime, timeout: float) -> LineTypeLookup | None:
    """What Lookup says about `phone`: the stored answer while fresh, else one request to
    Twilio (kept). None when TWILIO_LOOKUP is off or Twilio did not answer in time or
    failed: the caller falls back to the number type."""
    cached = cached_lookup(phone=phone, now=now)
    if cached is not None or not lookup_enabled():
        return cached
    # Nothing open across the HTTP call: on SQLite a read transaction that writes after
    # another connection wrote fails at once ("database is locked"), whatever the timeout.
    db.session.rollback()
    try:
        answer = gateway.lookup_line_type(phone, timeout=timeout)
    except gateway.GatewayError as error:
        log.info("lookup of %s failed, the number type decides: %s", phone, error.message)
        return None
    return _store(phone=phone, answer=answer, now=now)


def _store(*, phone: str, answer: gateway.LineType, now: datetime) -> LineTypeLookup:
    values = {
        "line_type": (answer.type or None) and answer.type[:20],
        "carrier_name": (answer.carrier_name or None) and answer.carrier_name[:120],
        "valid": answer.valid,
        "error_code": answer.error_code,
        "looked_up_at": now,
    }
    row, created = insert_or_get(
        LineTypeLookup(phone=phone, **values),
        sa.select(LineTypeLookup).filter_by(phone=phone),
    )
    if not created:  # a stale answer, or another process asked at the same moment
        for key, value in values.items():
            setattr(row, key, value)
    db.session.flush()
    return row


def not_textable(row: LineTypeLookup | None) -> str | None:
    """ "a landline" / "a toll-free number" / "not a valid number" when Lookup says texts
    cannot reach the number; None when they can or Lookup has no answer."""
    if row is None:
        return None
    if not row.valid:
        return "not a valid number"
    return NOT_TEXTABLE.get(row.line_type or "")


def customer_mobile_warning(*, phone: str, now: datetime, look: bool = True) -> str | None:
    """What to tell the office about a customer's mobile that texts may not reach. With
    `look`, Lookup is asked (at most REQUEST_TIMEOUT); otherwise only a stored answer
    counts. Without an answer the number type decides, as before Lookup."""
    row = (
        look_up(phone=phone, now=now, timeout=REQUEST_TIMEOUT)
        if look
        else cached_lookup(phone=phone, now=now)
    )
    what = not_textable(row)
    if what is not None and row is not None and row.line_type != "tollFree":
        return (
            f"{format_phone(phone)} is {what} (checked with the carrier): texts to it won't "
            "arrive. Use the customer's mobile if they have one."
        )
    if row is not None and row.line_type not in (None, "tollFree"):
        return None  # the carrier's answer beats the number's type
    # Toll-free lines can be text-enabled, which Lookup does not say: the number type's
    # softer warning fits them.
    return number_type_warning(phone)


def user_mobile_warning(
    *, phone: str | None, now: datetime, look: bool = True, own: bool = True
) -> str | None:
    """What to tell a user (`own`) or their manager about a team member's mobile that texts
    cannot reach: forwards of customers' texts and the app's own texts would be lost."""
    if not phone:
        return None
    row = (
        look_up(phone=phone, now=now, timeout=REQUEST_TIMEOUT)
        if look
        else cached_lookup(phone=phone, now=now)
    )
    what = not_textable(row)
    if what is None:
        return None
    whose = "Your mobile" if own else "This mobile"
    if row is not None and row.line_type == "tollFree":
        return (
            f"{whose} {format_phone(phone)} is a toll-free number: forwarded customer texts "
            "reach it only if it is text-enabled. Enter a mobile number."
        )
    return (
        f"{whose} {format_phone(phone)} is {what} (checked with the carrier): forwarded "
        "customer texts and other texts to it won't arrive. Enter a mobile number."
    )


def team_line_warnings(*, users: Iterable[User], now: datetime) -> dict[int, str]:
    """For the team page: members whose mobile Lookup said texts cannot reach, by user id,
    from stored answers only (one query; a page never pays for Lookups)."""
    members = [u for u in users if u.mobile_phone]
    found = cached_lookups(phones=[u.mobile_phone for u in members], now=now)
    warnings = {}
    for user in members:
        row = found.get(user.mobile_phone)
        what = not_textable(row)
        if what is None or row is None:
            continue
        if row.line_type == "tollFree":
            warnings[user.id] = "Toll-free: forwarded texts arrive only if it is text-enabled."
        elif row.line_type == "landline":
            warnings[user.id] = "Landline: forwarded texts won't arrive."
        else:
            warnings[user.id] = f"Twilio says this is {what}: forwarded texts won't arrive."
    return warnings


def forget_lookup(*, phone: str) -> None:
    """Drop the kept answer for `phone`, so the next check asks Lookup again (the fake's
    /dev/lookups page, after its switch changed what Lookup says)."""
    db.session.execute(sa.delete(LineTypeLookup).where(LineTypeLookup.phone == phone))


def numbers_known_to(*, company: Company, phones: set[str]) -> set[str]:
    """Which of `phones` belong to `company`: its customers', its users' or its
    conversations' numbers (three indexed lookups)."""
    if not phones:
        return set()
    found: set[str] = set()
    for column, scope in (
        (Customer.mobile_phone, Customer.company_id),
        (User.mobile_phone, User.company_id),
        (Conversation.phone, Conversation.company_id),
    ):
        found.update(
            db.session.scalars(sa.select(column).where(scope == company.id, column.in_(phones)))
        )
    return found

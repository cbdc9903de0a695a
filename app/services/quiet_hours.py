"""Quiet hours: when a text nobody is waiting for may reach a customer.

Texts the product schedules by itself or that no customer is waiting for (reminders, and
follow-ups or review requests when they exist: QUIET_HOURS_KINDS) go out only inside the
intersection of
- the company's window (Company.texting_window_start/end, 08:00-20:00 by default), and
- the strictest window of the customer's state (STATE_RULES, else the federal 8-21),
read in the customer's local time. A state with two time zones (FL, TX, TN ...) must be
inside the window in both. The state comes from the service address (the job's, else the
customer's), else from the phone number's area code. A text outside the window is not
dropped: it is queued with a later due time (the outbox's `next_attempt_at`).

Texts that answer someone (On My Way, a reply to the customer's text, HELP, opt-out
confirmations) are never delayed: the customer is waiting for them.

The state windows are telemarketing rules ("telephone solicitation"); the product's texts
are transactional, so they are the careful reading, not a claim that each law applies.
Where our sources disagreed we kept the stricter hour. docs/compliance.md lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.models import Company, MessageKind
from app.services import area_codes
from app.services.errors import DomainError

# Kinds that wait for the window. Follow-ups and review requests do not exist yet; their
# kinds are named here so they inherit the rule the day they are built.
FOLLOW_UP = "follow_up"
REVIEW_REQUEST = "review_request"
QUIET_HOURS_KINDS = frozenset({MessageKind.REMINDER, FOLLOW_UP, REVIEW_REQUEST})

MONDAY, SUNDAY = 0, 6


@dataclass(frozen=True)
class DailyWindow:
    opens: time
    closes: time  # inclusive: a text at exactly 20:00 is "not after 8 p.m."

    def allows(self, at: time) -> bool:
        return self.opens <= at <= self.closes


@dataclass(frozen=True)
class StateRule:
    state: str
    window: DailyWindow
    source: str
    # Weekday (0=Monday) -> its own window, e.g. Texas Sundays from noon.
    by_weekday: dict[int, DailyWindow] = field(default_factory=dict)

    def on(self, weekday: int) -> DailyWindow:
        return self.by_weekday.get(weekday, self.window)


def _w(opens: int, closes: int) -> DailyWindow:
    return DailyWindow(time(opens), time(closes))


FEDERAL = StateRule(
    "US",
    _w(8, 21),
    "TCPA, 47 U.S.C. 227(c); 47 CFR 64.1200(c)(1): no calls before 8 a.m. or "
    "after 9 p.m. at the called party's location",
)

STATE_RULES: dict[str, StateRule] = {
    rule.state: rule
    for rule in (
        StateRule("FL", _w(8, 20), "Florida Telephone Solicitation Act, Fla. Stat. 501.059(8)(a)"),
        StateRule("OK", _w(8, 20), "Oklahoma Telephone Solicitation Act of 2022, 15 O.S. 775C.4"),
        StateRule(
            "MD", _w(8, 20), "Maryland Stop the Spam Calls Act of 2023, Md. Code Com. Law 14-4503"
        ),
        StateRule("MS", _w(8, 20), "Miss. Code Ann. 77-3-725 (telephone solicitation)"),
        StateRule(
            "NJ", _w(8, 20), "N.J. Stat. 56:8-119 et seq. (kept at 8 p.m.: the stricter reading)"
        ),
        StateRule(
            "MA", _w(8, 20), "Mass. Gen. Laws ch. 159C, 201 CMR 12.02 (telephone solicitation)"
        ),
        StateRule("WA", _w(8, 20), "RCW 80.36.390 (telephone solicitation: 8 a.m.-8 p.m.)"),
        StateRule(
            "CT", _w(9, 20), "Conn. Gen. Stat. 42-288a, as amended by Public Act 23-98 (2023)"
        ),
        StateRule(
            "TX",
            _w(9, 21),
            "Tex. Bus. & Com. Code 301.051: 9 a.m.-9 p.m. Monday-Saturday, noon-9 p.m. Sunday",
            by_weekday={SUNDAY: _w(12, 21)},
        ),
    )
}

# Each state's time zones; a state in two zones must be inside the window in both.
_E, _C, _M, _P = "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles"
STATE_ZONES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("CT", "DE", "DC", "GA", "ME", "MD", "MA", "NH", "NJ", "NY", "NC", "OH", "PA", "RI"),
        (_E,),
    ),
    **dict.fromkeys(("SC", "VT", "VA", "WV"), (_E,)),
    **dict.fromkeys(("AL", "AR", "IL", "IA", "LA", "MN", "MS", "MO", "OK", "WI"), (_C,)),
    **dict.fromkeys(("CO", "MT", "NM", "UT", "WY"), (_M,)),
    **dict.fromkeys(("CA", "NV", "WA"), (_P,)),
    "FL": (_E, _C),
    "IN": ("America/Indiana/Indianapolis", _C),
    "KY": (_E, _C),
    "MI": ("America/Detroit", "America/Menominee"),
    "TN": (_E, _C),
    "TX": (_C, _M),
    "KS": (_C, _M),
    "NE": (_C, _M),
    "ND": (_C, _M),
    "SD": (_C, _M),
    "ID": ("America/Boise", _P),
    "OR": (_P, "America/Boise"),
    "AZ": ("America/Phoenix",),
    "AK": ("America/Anchorage", "America/Adak"),
    "HI": ("Pacific/Honolulu",),
}

_ZIP_STATE = re.compile(r"\b([A-Za-z]{2})\.?,?\s+\d{5}(?:-\d{4})?\s*(?:,?\s*USA?)?\s*$")
_TRAILING_STATE = re.compile(r",\s*([A-Za-z]{2})\s*(?:,?\s*USA?)?\s*$")


def state_from_address(address: str | None) -> str | None:
    """The US state of an address like "12 Oak St, Tampa, FL 33602" (or "..., Florida")."""
    if not address:
        return None
    text = address.strip()
    for pattern in (_ZIP_STATE, _TRAILING_STATE):
        match = pattern.search(text)
        if match and match.group(1).upper() in area_codes.STATE_NAMES:
            return match.group(1).upper()
    lowered = text.lower()
    for name, abbr in area_codes.US_STATES.items():
        if re.search(rf",\s*{re.escape(name.lower())}\b", lowered):
            return abbr
    return None


def state_from_phone(phone: str | None) -> str | None:
    if not phone or not phone.startswith("+1") or len(phone) != 12:
        return None
    found = area_codes.lookup(phone[2:5])
    return found.state if found else None


@dataclass(frozen=True)
class TextingWindows:
    """When texts may reach one customer: the company's window ∩ their state's rule, in
    each of the state's zones."""

    zones: tuple[ZoneInfo, ...]
    company: DailyWindow
    rule: StateRule
    state: str | None

    def window_on(self, weekday: int) -> DailyWindow:
        state = self.rule.on(weekday)
        return DailyWindow(
            max(self.company.opens, state.opens), min(self.company.closes, state.closes)
        )

    def allows(self, moment: datetime) -> bool:
        for zone in self.zones:
            local = moment.astimezone(zone)
            if not self.window_on(local.weekday()).allows(local.time().replace(tzinfo=None)):
                return False
        return True

    def _edges(self, moment: datetime, days: range, closes: bool) -> list[datetime]:
        edges = []
        for zone in self.zones:
            today = moment.astimezone(zone).date()
            for offset in days:
                day: date = today + timedelta(days=offset)
                window = self.window_on(day.weekday())
                at = window.closes if closes else window.opens
                edges.append(datetime.combine(day, at, tzinfo=zone).astimezone(UTC))
        return edges

    def next_allowed(self, moment: datetime) -> datetime:
        """`moment` when texts may go then, else the next moment they may (within a week)."""
        if self.allows(moment):
            return moment
        later = sorted(e for e in self._edges(moment, range(0, 9), False) if e > moment)
        for edge in later:
            if self.allows(edge):
                return edge
        raise ValueError("No texting window in the next week: check the company's hours.")

    def last_allowed_before(self, moment: datetime) -> datetime | None:
        """`moment` when texts may go then, else the latest earlier moment they may."""
        if self.allows(moment):
            return moment
        earlier = sorted(
            (e for e in self._edges(moment, range(-8, 1), True) if e <= moment), reverse=True
        )
        for edge in earlier:
            if self.allows(edge):
                return edge
        return None

    def describe(self) -> str:
        where = self.state or "your time zone"
        return f"texting hours in {where}"


def _minutes(value: int) -> time:
    value = max(0, min(value, 24 * 60 - 1))
    return time(value // 60, value % 60)


def company_window(company: Company) -> DailyWindow:
    start = company.texting_window_start if company.texting_window_start is not None else 480
    end = company.texting_window_end if company.texting_window_end is not None else 1200
    return DailyWindow(_minutes(start), _minutes(end))


def windows_for(
    *, company: Company, phone: str | None, address: str | None = None
) -> TextingWindows:
    state = state_from_address(address) or state_from_phone(phone)
    zones = STATE_ZONES.get(state or "")
    windows = TextingWindows(
        zones=tuple(ZoneInfo(z) for z in zones) if zones else (company.tz,),
        company=company_window(company),
        rule=STATE_RULES.get(state or "", FEDERAL),
        state=state,
    )
    if any(windows.window_on(day).opens > windows.window_on(day).closes for day in range(7)):
        # The company's hours miss the state's on some day (e.g. 6-8:30 and Connecticut's
        # 9-20): the law's window alone, rather than a reminder that can never go.
        windows = replace(windows, company=DailyWindow(time(0), time(23, 59)))
    return windows


def quiet_hours_delay(
    *,
    company: Company,
    phone: str,
    kind: str,
    address: str | None,
    now: datetime,
) -> tuple[datetime, TextingWindows] | None:
    """When a text of `kind` queued `now` may go, if that is later than now; else None."""
    if kind not in QUIET_HOURS_KINDS:
        return None
    windows = windows_for(company=company, phone=phone, address=address)
    allowed = windows.next_allowed(now)
    return (allowed, windows) if allowed > now else None


def set_texting_window(*, company: Company, start: time, end: time) -> Company:
    """The company's texting hours (owner/admin; the caller checks the role)."""
    start_minutes, end_minutes = start.hour * 60 + start.minute, end.hour * 60 + end.minute
    problem = validate_window(start_minutes, end_minutes)
    if problem:
        raise DomainError(problem, field="texting_window_end")
    company.texting_window_start, company.texting_window_end = start_minutes, end_minutes
    return company


def validate_window(start_minutes: int, end_minutes: int) -> str | None:
    """A problem with a company window, in words, or None."""
    if not (0 <= start_minutes < end_minutes <= 24 * 60 - 1):
        return "The end of your texting hours must be after the start."
    if end_minutes - start_minutes < 60:
        return "Keep at least one hour for texts."
    return None

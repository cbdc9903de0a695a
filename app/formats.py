"""How money, times and dates read, in texts and on pages alike.

Times are rendered with Babel in a pinned locale (en_US), not with `strftime`: `%-I` exists
only in glibc, and `%a`/`%b`/`%p` follow whatever locale the server runs in, so the same text
could read differently on another machine. Services use these functions directly;
app/templating.py registers them as Jinja filters.
"""

from __future__ import annotations

import re
from datetime import date, datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime

LOCALE = Locale.parse("en_US")

# "9:05 AM"
CLOCK = "%-I:%M %p"
# "Wed Dec 2, 9:05 AM"
DEFAULT = "%a %b %-d, %-I:%M %p"

# The strftime directives the app writes, as Babel (CLDR) pattern fields. Formats keep the
# familiar strftime spelling in templates and code; they are translated once each.
_FIELDS = {
    "a": "EEE",
    "A": "EEEE",
    "b": "MMM",
    "B": "MMMM",
    "d": "dd",
    "-d": "d",
    "e": "d",
    "m": "MM",
    "-m": "M",
    "y": "yy",
    "Y": "yyyy",
    "H": "HH",
    "-H": "H",
    "I": "hh",
    "-I": "h",
    "M": "mm",
    "S": "ss",
    "p": "a",
    "Z": "zzz",
    "%": "%",
}
_DIRECTIVE = re.compile(r"%(-?[A-Za-z%])")


@lru_cache(maxsize=128)
def babel_pattern(fmt: str) -> str:
    """A strftime format as a Babel pattern: "%b %-d, %Y" -> "MMM d, yyyy"."""
    parts: list[str] = []
    position = 0
    for match in _DIRECTIVE.finditer(fmt):
        parts.append(_literal(fmt[position : match.start()]))
        field = _FIELDS.get(match.group(1))
        if field is None:
            raise ValueError(f"unsupported time directive %{match.group(1)} in {fmt!r}")
        parts.append(_literal(field) if field == "%" else field)
        position = match.end()
    parts.append(_literal(fmt[position:]))
    return "".join(parts)


def _literal(text: str) -> str:
    # Letters are pattern fields in CLDR: quote any literal text that holds some.
    if not text:
        return ""
    if not re.search(r"[A-Za-z']", text):
        return text
    return "'" + text.replace("'", "''") + "'"


def local_time(value: datetime | None, tz: tzinfo | str, fmt: str = DEFAULT) -> str:
    """`value` (aware, usually UTC) as read in time zone `tz`, in strftime-style `fmt`."""
    if value is None:
        return ""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return format_datetime(value.astimezone(zone), babel_pattern(fmt), locale=LOCALE)


def day_text(day: date | None, fmt: str = "%b %-d, %Y") -> str:
    """A calendar day (no time zone involved): "Dec 2, 2026"."""
    if day is None:
        return ""
    return format_date(day, babel_pattern(fmt), locale=LOCALE)


def clock(value: datetime, tz: tzinfo | str) -> str:
    """ "9:05 AM" in `tz`."""
    return local_time(value, tz, CLOCK)


def money(cents: int | None) -> str:
    """Integer cents as dollars: 123456 -> "$1,234.56", -500 -> "-$5.00"."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{rest:02d}"

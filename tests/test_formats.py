"""Times in texts and on pages read the same on every server (Babel, locale pinned)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.formats import babel_pattern, clock, day_text, local_time, money
from app.models import Company

MOMENT = datetime(2026, 12, 2, 15, 5, tzinfo=UTC)  # 9:05 AM in Chicago


@pytest.mark.parametrize(
    ("fmt", "shown"),
    [
        ("%-I:%M %p", "9:05 AM"),
        ("%a %b %-d, %-I:%M %p", "Wed Dec 2, 9:05 AM"),
        ("%A, %B %-d, %Y", "Wednesday, December 2, 2026"),
        ("%Y-%m-%d", "2026-12-02"),
        ("at %-I:%M %p", "at 9:05 AM"),
    ],
)
def test_local_time_reads_like_the_strftime_format_it_names(fmt, shown):
    assert local_time(MOMENT, "America/Chicago", fmt) == shown


def test_helpers():
    assert clock(MOMENT, "America/New_York") == "10:05 AM"
    assert day_text(date(2026, 3, 8)) == "Mar 8, 2026"
    assert money(-123456) == "-$1,234.56"
    assert babel_pattern("%b %-d, %Y") == "MMM d, yyyy"
    with pytest.raises(ValueError, match="%j"):
        babel_pattern("%j")


def test_company_day_is_dst_safe():
    company = Company(name="Acme", time_zone="America/Chicago")
    start, end = company.day_bounds(date(2026, 3, 8))  # clocks go forward
    assert (end - start).total_seconds() == 23 * 3600
    assert company.today(MOMENT) == date(2026, 12, 2)

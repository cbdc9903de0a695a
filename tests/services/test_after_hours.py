"""The after-hours text reply (issue 19): one per conversation per night, only when the
company set business hours and is closed, never to a keyword."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Message, MessageKind
from app.services.business_hours import DayHours, night_of, set_week
from app.services.inbound import receive_sms
from app.services.routing import account_owner

JANE = "+15125550142"
NUMBER = "+15126660001"
_sids = itertools.count(1)
# Monday Dec 7 2026 in Chicago: 20:00 local is 02:00 UTC on Tuesday.
MONDAY_EVENING = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
MONDAY_NOON = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)


@pytest.fixture
def company(make):
    company = make.company("Lone Star Plumbing", time_zone="America/Chicago")
    make.number(company, e164=NUMBER)
    db.session.commit()
    return company


def _weekdays_9_to_5(company):
    set_week(
        company=company,
        actor=account_owner(company),
        days=[DayHours(day, day >= 5, 9 * 60, 17 * 60) for day in range(7)],
    )


def _text(body: str, at: datetime, phone: str = JANE):
    form = {"MessageSid": f"SM{next(_sids):032d}", "From": phone, "To": NUMBER, "Body": body}
    return receive_sms(form=form, received_at=at)


def _replies(company) -> list[Message]:
    return list(
        db.session.scalars(
            sa.select(Message).filter_by(company_id=company.id, kind=MessageKind.AFTER_HOURS_REPLY)
        )
    )


def test_one_reply_per_conversation_per_night(company):
    _weekdays_9_to_5(company)
    _text("Are you open?", MONDAY_EVENING)
    _text("Hello??", MONDAY_EVENING + timedelta(hours=3))
    # 7:00 the next morning, still before opening: the same night.
    _text("Anyone?", MONDAY_EVENING + timedelta(hours=11))
    (reply,) = _replies(company)
    assert reply.to_phone == JANE
    assert "Lone Star Plumbing is closed right now" in reply.body
    assert reply.status == "pending"  # in the outbox like any text

    _text("Tuesday night", MONDAY_EVENING + timedelta(days=1))
    assert len(_replies(company)) == 2
    # Another conversation the same night gets its own.
    _text("Me too", MONDAY_EVENING, phone="+15125550199")
    assert len(_replies(company)) == 3


def test_no_reply_while_open_or_without_hours(company):
    _text("No hours set", MONDAY_EVENING)
    assert _replies(company) == []
    _weekdays_9_to_5(company)
    _text("Open now", MONDAY_NOON)
    assert _replies(company) == []


def test_no_reply_to_a_keyword_or_an_opted_out_number(company):
    _weekdays_9_to_5(company)
    _text("STOP", MONDAY_EVENING)
    _text("Changed my mind, one more thing", MONDAY_EVENING + timedelta(minutes=5))
    assert _replies(company) == []


def test_the_reply_can_be_turned_off(company):
    from app.services.message_templates import set_template_enabled

    _weekdays_9_to_5(company)
    set_template_enabled(company=company, kind=MessageKind.AFTER_HOURS_REPLY, enabled=False)
    _text("Hello", MONDAY_EVENING)
    assert _replies(company) == []


def test_a_night_runs_from_noon_to_noon(company):
    evening = night_of(company, now=MONDAY_EVENING)
    morning = night_of(company, now=MONDAY_EVENING + timedelta(hours=15))  # 11:00 Tue
    afternoon = night_of(company, now=MONDAY_EVENING + timedelta(hours=17))  # 13:00 Tue
    assert evening == morning != afternoon

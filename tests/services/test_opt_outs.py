"""Opt-out words, HELP, Twilio's OptOutType, revocations in the customer's own words, and
the office's opt-outs (app/services/opt_outs.py), through the real SMS webhook."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Message,
    MessageKind,
    MessageStatus,
    OptOut,
    OptOutSource,
    RevocationDecision,
    RevocationFlag,
)
from app.services.opt_outs import (
    business_days_between,
    business_days_left,
    decide_revocation,
    keyword_of,
    normalise,
    record_office_opt_out,
    revocation_phrase,
)
from app.services.outbox import record_carrier_opt_out
from app.services.texting import TextingUnavailable, queue_text, texting_blocker

SMS = "/webhooks/twilio/sms"
PHONE = "+15125550101"
_sids = itertools.count(1)


def _form(body: str, **extra) -> dict[str, str]:
    sid = f"SM{next(_sids):032x}"
    return {
        "MessageSid": sid,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": PHONE,
        "To": "+15126660100",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


def _out(kind: str | None = None) -> list[Message]:
    db.session.expire_all()
    query = sa.select(Message).filter_by(direction="out").order_by(Message.id)
    if kind:
        query = query.filter_by(kind=kind)
    return list(db.session.scalars(query))


def _opt_outs() -> list[OptOut]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(OptOut)))


# ----------------------------------------------------------------------------- words

OPT_OUT_BODIES = [
    ("STOP", "STOP"),
    ("stop", "STOP"),
    (" Stop ", "STOP"),
    ("STOP.", "STOP"),
    ("Stop!!", "STOP"),
    ("STOP ALL", "STOP ALL"),
    ("stopall", "STOPALL"),
    ("Unsubscribe", "UNSUBSCRIBE"),
    ("cancel", "CANCEL"),
    ("End", "END"),
    ("quit", "QUIT"),
    ("Revoke", "REVOKE"),
    ("OptOut", "OPTOUT"),
    ("OPT OUT", "OPT OUT"),
    ("opt-out", "OPT OUT"),
    ("Opt   out.", "OPT OUT"),
    ("\tunsubscribe\n", "UNSUBSCRIBE"),
]
ORDINARY_BODIES = [
    "please cancel tuesday",
    "stop by at 3",
    "Yes please",
    "end of the day works",
    "I want to opt out of the upgrade",
    "Can you stop at the store",
    "",
]


@pytest.mark.parametrize(("body", "keyword"), OPT_OUT_BODIES)
def test_every_opt_out_keyword_opts_out_and_confirms_once(
    client, text_in, sms_world, body, keyword
):
    assert keyword_of(body) == keyword
    text_in(client, SMS, _form(body))
    [row] = _opt_outs()
    assert (row.phone, row.source, row.keyword) == (PHONE, OptOutSource.KEYWORD, keyword)
    [confirmation] = _out()
    assert confirmation.kind == MessageKind.OPT_OUT_CONFIRMATION
    assert confirmation.body.startswith("Lone Star Plumbing: ")
    assert "START" in confirmation.body
    # A second STOP records nothing new and sends no second confirmation.
    text_in(client, SMS, _form(body))
    assert len(_opt_outs()) == 1
    assert len(_out()) == 1


@pytest.mark.parametrize("body", ORDINARY_BODIES)
def test_ordinary_texts_stay_ordinary(client, text_in, sms_world, body):
    assert keyword_of(body) is None
    text_in(client, SMS, _form(body))
    assert _opt_outs() == []
    assert _out() == []
    assert db.session.scalars(sa.select(RevocationFlag)).all() == []


@pytest.mark.parametrize("word", ["START", "start", "Unstop", "YES", "yes!"])
def test_opt_in_words_lift_the_opt_out_and_confirm(client, text_in, sms_world, word):
    text_in(client, SMS, _form("STOP"))
    text_in(client, SMS, _form(word))
    assert _opt_outs() == []
    assert texting_blocker(company=sms_world.company, phone=PHONE) is None
    [confirmation] = _out(MessageKind.OPT_IN_CONFIRMATION)
    assert "STOP" in confirmation.body and "Lone Star Plumbing" in confirmation.body


def test_yes_without_an_opt_out_sends_nothing(client, text_in, sms_world):
    text_in(client, SMS, _form("Yes"))
    assert _out() == []


def test_normalise_drops_case_punctuation_and_spacing():
    assert normalise("  Don't   text-me!! ") == "DONT TEXT ME"
    assert normalise(None) == ""


# ----------------------------------------------------------------------------- OptOutType


@pytest.mark.parametrize(
    ("body", "opt_out_type"), [("STOP", "STOP"), ("OPT OUT", "STOP"), ("help", "HELP")]
)
def test_no_reply_of_ours_when_twilio_advanced_opt_out_answered(
    client, text_in, sms_world, body, opt_out_type
):
    text_in(client, SMS, _form(body, OptOutType=opt_out_type))
    if opt_out_type == "STOP":
        assert len(_opt_outs()) == 1  # still recorded: we must not text them either
    assert _out() == []


def test_start_answered_by_twilio_gets_no_second_confirmation(client, text_in, sms_world):
    text_in(client, SMS, _form("STOP", OptOutType="STOP"))
    text_in(client, SMS, _form("START", OptOutType="START"))
    assert _opt_outs() == []
    assert _out() == []


# ----------------------------------------------------------------------------- HELP


@pytest.mark.parametrize("word", ["HELP", "help", "Info", "INFO?"])
def test_help_gets_the_branded_reply(client, text_in, sms_world, word):
    text_in(client, SMS, _form(word))
    [reply] = _out(MessageKind.HELP_REPLY)
    assert reply.body == (
        "Lone Star Plumbing: texts about your appointments. Call (512) 555-0000. "
        "Reply STOP to opt out. Msg & data rates may apply."
    )
    assert _opt_outs() == []


def test_help_is_answered_at_most_once_a_day_per_number(client, text_in, sms_world, make):
    text_in(client, SMS, _form("HELP"))
    text_in(client, SMS, _form("info"))
    text_in(client, SMS, _form("HELP"))
    [reply] = _out(MessageKind.HELP_REPLY)
    # Another number gets its own answer.
    text_in(client, SMS, {**_form("HELP"), "From": "+15125550999"})
    assert len(_out(MessageKind.HELP_REPLY)) == 2
    # A day later the first number is answered again.
    reply.created_at = reply.created_at - timedelta(days=1, seconds=1)
    db.session.commit()
    text_in(client, SMS, _form("HELP"))
    assert len(_out(MessageKind.HELP_REPLY)) == 3


def test_help_is_answered_even_after_an_opt_out(client, text_in, sms_world):
    text_in(client, SMS, _form("STOP"))
    text_in(client, SMS, _form("HELP"))
    assert len(_out(MessageKind.HELP_REPLY)) == 1


# ----------------------------------------------------------------------------- revocations

REVOCATIONS = [
    ("Stop texting me", "stop texting"),
    ("please STOP texting me!!", "stop texting"),
    ("don't text me anymore", "dont text"),
    ("Do not text me", "do not text"),
    ("remove me from your list", "remove me"),
    ("wrong number", "wrong number"),
    ("Wrong #, sorry... wrong number", "wrong number"),
    ("no more texts please", "no more texts"),
    ("take me off this", "take me off"),
    ("Leave me alone", "leave me alone"),
]


@pytest.mark.parametrize(("body", "phrase"), REVOCATIONS)
def test_revocations_in_own_words_are_flagged_not_opted_out(
    client, text_in, sms_world, body, phrase
):
    assert revocation_phrase(body) == phrase
    text_in(client, SMS, _form(body))
    [flag] = db.session.scalars(sa.select(RevocationFlag)).all()
    assert (flag.phone, flag.phrase, flag.decided_at) == (PHONE, phrase, None)
    assert flag.message.extra["revocation"] == phrase
    assert _opt_outs() == []
    assert _out() == []


@pytest.mark.parametrize("body", [*ORDINARY_BODIES, "stop by at 3 to fix the texting app"])
def test_ordinary_texts_are_not_revocations(body):
    assert revocation_phrase(body) is None


def _flagged(client, text_in, sms_world, make):
    job_customer = sms_world.customer
    text_in(client, SMS, _form("stop texting me"))
    make.job(sms_world.company, customer=job_customer)
    db.session.commit()
    return db.session.scalars(sa.select(RevocationFlag)).one()


def test_automated_texts_wait_while_a_revocation_is_undecided(client, text_in, sms_world, make):
    _flagged(client, text_in, sms_world, make)
    [booked] = _out(MessageKind.JOB_SCHEDULED)
    assert booked.status == MessageStatus.PENDING
    assert booked.next_attempt_at is None  # held: the dispatcher never claims it
    assert booked.extra["held"] == "revocation"
    # A person's reply is not held: it is how the office asks what they meant.
    reply = queue_text(
        company=sms_world.company, to_phone=PHONE, body="Did you mean...?", kind="manual"
    )
    assert reply.next_attempt_at is not None


def test_not_an_opt_out_releases_the_held_texts(client, text_in, sms_world, make):
    flag = _flagged(client, text_in, sms_world, make)
    decide_revocation(flag=flag, actor=sms_world.company.owner, opt_out_number=False)
    db.session.commit()
    [booked] = _out(MessageKind.JOB_SCHEDULED)
    assert booked.next_attempt_at is not None
    assert _opt_outs() == []
    db.session.refresh(flag)
    assert flag.decision == RevocationDecision.NOT_OPT_OUT
    assert flag.decided_by_id == sms_world.company.owner.id


def test_opting_the_number_out_confirms_once_and_sends_nothing_else(
    client, text_in, sms_world, make, dispatcher, fake
):
    flag = _flagged(client, text_in, sms_world, make)
    decide_revocation(flag=flag, actor=sms_world.company.owner, opt_out_number=True)
    db.session.commit()
    [row] = _opt_outs()
    assert (row.source, row.actor_id) == (OptOutSource.REVOCATION, sms_world.company.owner.id)
    assert "stop texting me" in row.note
    dispatcher().run_once()
    delivered = [m.body for m in fake.outbound() if m.to == PHONE]
    assert len(delivered) == 1 and "unsubscribed" in delivered[0]
    [booked] = _out(MessageKind.JOB_SCHEDULED)
    assert booked.status == MessageStatus.CANCELED


def test_a_decision_cannot_be_made_twice(client, text_in, sms_world, make):
    from app.services.errors import DomainError

    flag = _flagged(client, text_in, sms_world, make)
    decide_revocation(flag=flag, actor=sms_world.company.owner, opt_out_number=False)
    with pytest.raises(DomainError):
        decide_revocation(flag=flag, actor=sms_world.company.owner, opt_out_number=True)


@pytest.mark.parametrize(
    ("flagged", "now", "left"),
    [
        # Monday 10:00 flagged: same day 10 left; Friday 4 days used; next Monday 5 used.
        (datetime(2026, 11, 30, 16), datetime(2026, 11, 30, 23), 10),
        (datetime(2026, 11, 30, 16), datetime(2026, 12, 4, 16), 6),
        (datetime(2026, 11, 30, 16), datetime(2026, 12, 7, 16), 5),
        # Flagged on a Saturday: the weekend does not count.
        (datetime(2026, 12, 5, 16), datetime(2026, 12, 7, 16), 9),
        (datetime(2026, 11, 30, 16), datetime(2026, 12, 31, 16), 0),
        # Flagged Wed Nov 25, 2026: Thanksgiving (Thu 26) does not count, the Friday after
        # does (not a federal holiday); the tenth business day is Thu Dec 10, not Wed Dec 9.
        (datetime(2026, 11, 25, 16), datetime(2026, 11, 26, 16), 10),
        (datetime(2026, 11, 25, 16), datetime(2026, 11, 27, 16), 9),
        (datetime(2026, 11, 25, 16), datetime(2026, 11, 30, 16), 8),
        (datetime(2026, 11, 25, 16), datetime(2026, 12, 9, 16), 1),
        (datetime(2026, 11, 25, 16), datetime(2026, 12, 10, 16), 0),
        # Flagged Wed Dec 23, 2026: Christmas (Fri 25) and New Year's Day (Fri Jan 1, 2027)
        # do not count; Christmas Eve does. Day ten is Fri Jan 8, not Wed Jan 6.
        (datetime(2026, 12, 23, 16), datetime(2026, 12, 28, 16), 8),
        (datetime(2026, 12, 23, 16), datetime(2027, 1, 1, 16), 5),
        (datetime(2026, 12, 23, 16), datetime(2027, 1, 6, 16), 2),
        (datetime(2026, 12, 23, 16), datetime(2027, 1, 7, 16), 1),
        (datetime(2026, 12, 23, 16), datetime(2027, 1, 8, 16), 0),
        # Observed days: Christmas 2027 is a Saturday (off Fri Dec 24), New Year's Day 2028
        # a Saturday too (off Fri Dec 31, 2027, in the year before the holiday).
        (datetime(2027, 12, 22, 16), datetime(2027, 12, 24, 16), 9),
        (datetime(2027, 12, 22, 16), datetime(2028, 1, 3, 16), 4),
        # Independence Day 2026 is a Saturday: off on Friday Jul 3.
        (datetime(2026, 7, 1, 16), datetime(2026, 7, 6, 16), 8),
    ],
)
def test_business_days_left_of_the_ten(flagged, now, left):
    flag = RevocationFlag(created_at=flagged.replace(tzinfo=UTC))
    from zoneinfo import ZoneInfo

    assert (
        business_days_left(flag, now=now.replace(tzinfo=UTC), tz=ZoneInfo("America/Chicago"))
        == left
    )
    assert business_days_between(flagged, flagged) == 0


# ----------------------------------------------------------------------------- other sources


def test_the_office_records_a_phone_request_with_who_and_confirms(sms_world, make):
    office = make.user(sms_world.company, role="office")
    assert record_office_opt_out(
        company=sms_world.company, phone=PHONE, actor=office, note="Called on Tuesday"
    )
    [row] = _opt_outs()
    assert (row.source, row.actor_id, row.note) == (
        OptOutSource.OFFICE,
        office.id,
        "Called on Tuesday",
    )
    assert row.source_label == "Customer asked by phone (recorded by the office)"
    assert len(_out(MessageKind.OPT_OUT_CONFIRMATION)) == 1
    # Recording it again changes nothing and texts nothing.
    assert not record_office_opt_out(company=sms_world.company, phone=PHONE, actor=office)
    assert len(_out()) == 1
    with pytest.raises(TextingUnavailable):
        queue_text(company=sms_world.company, to_phone=PHONE, body="x", kind="manual")


def test_a_carrier_21610_is_recorded_as_the_carrier_source(sms_world):
    record_carrier_opt_out(company_id=sms_world.company.id, phone=PHONE)
    [row] = _opt_outs()
    assert row.source == OptOutSource.CARRIER
    assert row.source_label.startswith("Reported by the carrier")
    assert _out() == []  # the carrier already blocks: no confirmation from us


# ----------------------------------------------------------------------------- the fake


@pytest.mark.parametrize(("advanced", "ours"), [(True, 0), (False, 1)])
def test_the_fake_reports_advanced_opt_out_like_twilio(sms_world, fake, advanced, ours):
    """With Advanced Opt-Out on, the fake answers STOP itself and posts OptOutType: no
    confirmation of ours follows. Without it, ours is queued."""
    from tests.fixtures.sms import route_received

    fake.advanced_opt_out = advanced
    result = fake.send_inbound_sms(from_=PHONE, to=sms_world.number.e164, body="Stop")
    assert result.status == 200
    route_received()
    assert len(_opt_outs()) == 1
    assert len(_out(MessageKind.OPT_OUT_CONFIRMATION)) == ours
    twilio_replies = [m for m in fake.messages.values() if m.direction == "outbound-reply"]
    assert len(twilio_replies) == (1 if advanced else 0)


def test_a_held_text_that_is_no_longer_true_is_withdrawn_not_released(
    client, text_in, sms_world, make
):
    from app.services.job_status import job_set_status

    tech = make.user(sms_world.company, name="Sam Lee")
    job = make.job(sms_world.company, customer=sms_world.customer, techs=[tech])
    db.session.commit()
    text_in(client, SMS, _form("stop texting me"))
    job_set_status(job=job, status="on_my_way", actor=tech)
    job_set_status(job=job, status="finished", actor=tech)  # the visit is over
    flag = db.session.scalars(sa.select(RevocationFlag)).one()
    decide_revocation(flag=flag, actor=sms_world.company.owner, opt_out_number=False)
    db.session.commit()
    by_kind = {m.kind: m for m in _out()}
    assert by_kind[MessageKind.ON_MY_WAY].status == MessageStatus.CANCELED
    assert "no longer current" in by_kind[MessageKind.ON_MY_WAY].error_message
    assert by_kind[MessageKind.JOB_FINISHED].next_attempt_at is not None  # still true: goes

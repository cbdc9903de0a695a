"""The missed-call text-back asks Twilio Lookup whether the caller's number is a landline
(issue 19): in the worker, never in the voice webhook; the answer is kept 90 days; a
Lookup that fails or is slow never loses the text-back."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import LineTypeLookup, Message, MessageKind, MessageStatus, utcnow
from app.services.calls import is_landline
from tests.fixtures.numbers import provision

CALLER = "+15125550123"  # FIXED_LINE_OR_MOBILE to libphonenumber: it can't tell
BUSINESS = "+15125550100"


@pytest.fixture
def provisioned(make, fake):
    return provision(make.company("Lone Star Plumbing", business_phone=BUSINESS))


def _text_backs(company) -> list[Message]:
    db.session.expire_all()
    return list(
        db.session.scalars(
            sa.select(Message)
            .filter_by(company_id=company.id, kind=MessageKind.MISSED_CALL_TEXT)
            .order_by(Message.id)
        )
    )


def _miss_a_call(fake, provisioned) -> None:
    fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")


def test_a_lookup_landline_gets_no_text_back_though_its_number_type_looks_fine(
    provisioned, fake, dispatcher
):
    fake.lookups.set_line_type(CALLER, "landline")
    assert not is_landline(company=provisioned.company, phone=CALLER)  # the old rule: fine

    _miss_a_call(fake, provisioned)
    (text,) = _text_backs(provisioned.company)
    assert text.status == MessageStatus.PENDING
    assert fake.lookups.count() == 0  # the voice webhook asked nobody

    dispatcher().run_once()
    (text,) = _text_backs(provisioned.company)
    assert text.status == MessageStatus.CANCELED
    assert text.error_message == (
        "Not sent: Twilio Lookup says (512) 555-0123 is a landline, which can't receive texts."
    )
    assert fake.outbound() == []
    assert fake.lookups.count(CALLER) == 1

    # The next missed call, a day later: the stored answer decides in the webhook itself.
    text.created_at = utcnow() - timedelta(hours=13)
    db.session.commit()
    _miss_a_call(fake, provisioned)
    assert len(_text_backs(provisioned.company)) == 1  # none queued
    assert is_landline(company=provisioned.company, phone=CALLER)
    assert fake.lookups.count(CALLER) == 1  # and no second (billed) lookup


def test_a_toll_free_line_by_lookup_gets_no_text_back(provisioned, fake, dispatcher):
    fake.lookups.set_line_type(CALLER, "tollFree")
    _miss_a_call(fake, provisioned)
    dispatcher().run_once()
    (text,) = _text_backs(provisioned.company)
    assert text.status == MessageStatus.CANCELED and "a toll-free number" in text.error_message


def test_a_mobile_gets_the_text_back_and_is_looked_up_once(provisioned, fake, dispatcher):
    _miss_a_call(fake, provisioned)
    dispatcher().run_once()
    (text,) = _text_backs(provisioned.company)
    assert text.status == MessageStatus.QUEUED
    assert [m.to for m in fake.outbound()] == [CALLER]

    text.created_at = utcnow() - timedelta(hours=13)
    db.session.commit()
    _miss_a_call(fake, provisioned)
    dispatcher().run_once()
    assert [t.status for t in _text_backs(provisioned.company)] == [MessageStatus.QUEUED] * 2
    assert fake.lookups.count(CALLER) == 1


@pytest.mark.parametrize("fault", ["5xx", "timeout"])
def test_when_lookup_fails_the_text_back_still_goes(provisioned, fake, dispatcher, app, fault):
    fake.lookups.set_line_type(CALLER, "landline")  # Lookup would say so, if it answered
    if fault == "5xx":
        fake.fail_next(1, status=503, path_contains="/PhoneNumbers/")
    else:
        fake.lookups.set_latency(30)  # longer than the worker waits
    _miss_a_call(fake, provisioned)
    dispatcher().run_once()
    (text,) = _text_backs(provisioned.company)
    # Today's rule decided when the call was missed; the text goes (Twilio would answer
    # 21614 for a landline, which is then remembered for this caller).
    assert text.status == MessageStatus.QUEUED
    assert [m.to for m in fake.outbound()] == [CALLER]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LineTypeLookup)) == 0


def test_with_twilio_lookup_off_nothing_is_looked_up(provisioned, fake, dispatcher, app):
    fake.lookups.set_line_type(CALLER, "landline")
    app.config["TWILIO_LOOKUP"] = False
    try:
        _miss_a_call(fake, provisioned)
        dispatcher().run_once()
    finally:
        app.config["TWILIO_LOOKUP"] = True
    (text,) = _text_backs(provisioned.company)
    assert text.status == MessageStatus.QUEUED
    assert fake.lookups.count() == 0


def test_a_21614_refusal_still_counts_when_lookup_said_mobile(provisioned, fake, dispatcher):
    _miss_a_call(fake, provisioned)
    fake.refuse_number(CALLER, 21614)
    fake.lookups.set_line_type(CALLER, "mobile")  # Lookup and the carrier disagree
    dispatcher().run_once()
    (text,) = _text_backs(provisioned.company)
    assert text.status == MessageStatus.FAILED and text.error_code == 21614

    text.created_at = utcnow() - timedelta(hours=13)
    db.session.commit()
    _miss_a_call(fake, provisioned)
    assert len(_text_backs(provisioned.company)) == 1
    assert is_landline(company=provisioned.company, phone=CALLER)


def test_other_texts_are_not_looked_up(provisioned, fake, dispatcher, make):
    from app.services.texting import queue_text

    customer = make.customer(provisioned.company, phone=CALLER)
    queue_text(
        company=provisioned.company,
        to_phone=CALLER,
        body="Your invoice",
        kind=MessageKind.MANUAL,
        customer=customer,
    )
    db.session.commit()
    dispatcher().run_once()
    assert fake.lookups.count() == 0

"""Calls followed end to end through the fake Twilio (issue 19): the TwiML of each branch,
the call log in the conversation, voicemails (recording callback, the worker's fetch) and
the missed-call text-back."""

from __future__ import annotations

import wave
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Call,
    CallOutcome,
    Conversation,
    JobStatus,
    Message,
    MessageKind,
    MessageRecipient,
    Voicemail,
    VoicemailState,
    utcnow,
)
from app.services.business_hours import (
    DayHours,
    add_holiday,
    call_settings,
    set_week,
)
from app.services.job_status import job_set_status
from app.services.opt_outs import opt_out
from app.services.routing import account_owner
from app.services.voicemail import fetch_due_voicemails
from app.sms import gateway
from tests.fixtures.numbers import provision

CALLER = "+15125550123"
BUSINESS = "+15125550100"
ON_CALL = "+15125550177"
RECORDING = "/webhooks/twilio/voice/recording"
EMERGENCY = "/webhooks/twilio/voice/emergency"


@pytest.fixture
def provisioned(make, numbers_fake):
    return provision(make.company("Lone Star Plumbing", business_phone=BUSINESS))


def _verbs(body: str) -> list[str]:
    return [verb.tag for verb in ET.fromstring(body)]


def _close_all_week(company, *, on_call: str | None = None) -> None:
    """Closed every day (so every call is after hours); `on_call`: press 1 rings it."""
    set_week(
        company=company,
        actor=account_owner(company),
        days=[DayHours(day, True, 8 * 60, 17 * 60) for day in range(7)],
    )
    if on_call is not None:
        call_settings(company).emergency_phone = on_call
    db.session.commit()


def _call_entries(company) -> list[Message]:
    return list(
        db.session.scalars(
            sa.select(Message).filter_by(company_id=company.id, kind=MessageKind.CALL)
        )
    )


def _text_backs(company) -> list[Message]:
    return list(
        db.session.scalars(
            sa.select(Message).filter_by(company_id=company.id, kind=MessageKind.MISSED_CALL_TEXT)
        )
    )


# -- TwiML branches, through the fake's signed webhooks ----------------------------------------


def test_answered_call_is_logged_with_its_duration_and_not_unread(provisioned, numbers_fake):
    run = numbers_fake.voice.call(
        from_=CALLER, to=provisioned.e164, outcome="answer", talk_seconds=192
    )

    assert _verbs(run.first.body) == ["Dial"]
    assert run.dialed == [BUSINESS]
    assert _verbs(run.webhooks[1].body) == ["Hangup"]
    db.session.expire_all()
    call = db.session.scalars(sa.select(Call)).one()
    assert (call.outcome, call.duration_seconds) == (CallOutcome.ANSWERED, 192)
    (entry,) = _call_entries(provisioned.company)
    assert entry.body == "Answered call · 3:12"
    assert entry.read_at is not None
    assert entry.recipients == []
    assert _text_backs(provisioned.company) == []


@pytest.mark.parametrize(
    ("outcome", "expected", "label"),
    [
        ("no-answer", CallOutcome.MISSED, "Missed call"),
        ("busy", CallOutcome.BUSY, "Missed call (line busy)"),
        ("failed", CallOutcome.FAILED, "Missed call (could not ring)"),
    ],
)
def test_unanswered_call_offers_voicemail_and_is_routed_unread(
    provisioned, numbers_fake, outcome, expected, label
):
    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome=outcome)

    after_dial = ET.fromstring(run.webhooks[1].body)
    assert [verb.tag for verb in after_dial][:2] == ["Say", "Record"]
    assert after_dial.find("Record").attrib["maxLength"] == "120"
    assert "leave a message" in run.heard[0]
    db.session.expire_all()
    call = db.session.scalars(sa.select(Call)).one()
    assert call.outcome == expected
    (entry,) = _call_entries(provisioned.company)
    assert entry.body == label
    assert entry.read_at is None
    # Routed as a text would be: no job in progress, no POC -> the owner.
    assert [r.user_id for r in entry.recipients] == [account_owner(provisioned.company).id]
    assert entry.routing_reason.startswith("Unknown number. No Point of Contact")
    assert call.routed_to_id == account_owner(provisioned.company).id
    # Unknown caller: an "unknown number" conversation, as for texts.
    conversation = db.session.get(Conversation, call.conversation_id)
    assert conversation.customer_id is None and conversation.phone == CALLER


def test_a_missed_call_from_a_customer_with_a_job_in_progress_goes_to_its_tech(
    provisioned, numbers_fake, make
):
    company = provisioned.company
    tech = make.user(company, name="Tina Tech")
    customer = make.customer(company, name="Jane Doe", phone=CALLER)
    job = make.job(company, customer, techs=[tech])
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech)
    db.session.commit()

    numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")

    db.session.expire_all()
    (entry,) = _call_entries(company)
    assert [r.user_id for r in entry.recipients] == [tech.id]
    assert entry.job_id == job.id  # on the job timeline too
    assert db.session.get(Conversation, entry.conversation_id).customer_id == customer.id


def test_after_hours_the_call_goes_straight_to_the_after_hours_greeting(provisioned, numbers_fake):
    company = provisioned.company
    _close_all_week(company)

    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164)

    root = ET.fromstring(run.first.body)
    assert root.find("Dial") is None and root.find("Gather") is None
    assert root[0].tag == "Say" and "We are closed right now" in root[0].text
    assert root[1].tag == "Record"
    db.session.expire_all()
    assert db.session.scalars(sa.select(Call)).one().outcome == CallOutcome.AFTER_HOURS


def test_a_holiday_is_after_hours_whatever_the_weekday_says(provisioned, numbers_fake):
    company = provisioned.company
    set_week(
        company=company,
        actor=account_owner(company),
        days=[DayHours(day, False, 0, 24 * 60 - 1) for day in range(7)],
    )
    add_holiday(company=company, actor=account_owner(company), day=company.today(), name="Today")
    db.session.commit()

    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164)
    assert ET.fromstring(run.first.body).find("Dial") is None


def test_after_hours_press_1_rings_the_on_call_phone(provisioned, numbers_fake):
    company = provisioned.company
    _close_all_week(company, on_call=ON_CALL)

    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, digits="1", outcome="answer")

    root = ET.fromstring(run.first.body)
    gather = root.find("Gather")
    assert gather.attrib["numDigits"] == "1"
    assert gather.attrib["action"] == "http://testserver.local" + EMERGENCY
    assert "press 1" in gather.find("Say").text
    assert root.find("Record") is not None  # no key pressed: voicemail
    pressed = ET.fromstring(run.webhooks[1].body)
    dial = pressed.find("Dial")
    assert dial.find("Number").text == ON_CALL
    assert run.dialed == [ON_CALL]
    db.session.expire_all()
    assert db.session.scalars(sa.select(Call)).one().outcome == CallOutcome.ANSWERED


def test_after_hours_another_key_goes_to_voicemail(provisioned, numbers_fake, signed_post, client):
    company = provisioned.company
    _close_all_week(company, on_call=ON_CALL)
    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164)

    form = {**run.first.form, "Digits": "5"}
    root = ET.fromstring(signed_post(client, EMERGENCY, form).get_data(as_text=True))
    assert root.find("Dial") is None and root.find("Record") is not None


def test_whole_call_recording_says_the_notice_first(provisioned, numbers_fake):
    call_settings(provisioned.company).record_calls = True
    db.session.commit()

    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="answer")

    root = ET.fromstring(run.first.body)
    assert [verb.tag for verb in root] == ["Say", "Dial"]
    assert root[0].text == "This call may be recorded."
    assert root[1].attrib["record"] == "record-from-answer-dual"


def test_a_whole_call_recording_is_kept_like_a_voicemail_on_the_answered_call(
    provisioned, numbers_fake
):
    call_settings(provisioned.company).record_calls = True
    db.session.commit()

    run = numbers_fake.voice.call(
        from_=CALLER, to=provisioned.e164, outcome="answer", talk_seconds=30
    )
    dial = ET.fromstring(run.first.body).find("Dial")
    assert dial.attrib["recordingStatusCallback"] == "http://testserver.local" + RECORDING
    numbers_fake.run_all_callbacks()
    fetch_due_voicemails(now=utcnow())
    db.session.commit()

    db.session.expire_all()
    call = db.session.scalars(sa.select(Call)).one()
    assert call.outcome == CallOutcome.ANSWERED
    assert call.voicemail.state == VoicemailState.STORED
    assert call.voicemail.duration_seconds == 30
    assert _text_backs(provisioned.company) == []
    (entry,) = _call_entries(provisioned.company)
    assert entry.body == "Answered call · 0:30" and entry.read_at is not None


def test_recording_is_off_by_default(provisioned, numbers_fake):
    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="answer")
    assert "record" not in ET.fromstring(run.first.body).find("Dial").attrib
    assert "recorded" not in run.first.body


# -- voicemail ------------------------------------------------------------------------------------


def _leave_voicemail(provisioned, numbers_fake, text="Hi, the water heater is leaking. Call me."):
    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, voicemail=text)
    numbers_fake.run_all_callbacks()
    db.session.expire_all()
    return run


def test_a_voicemail_is_kept_fetched_stored_and_deleted_at_twilio(provisioned, numbers_fake, app):
    run = _leave_voicemail(provisioned, numbers_fake)
    voicemail = db.session.scalars(sa.select(Voicemail)).one()
    assert voicemail.state == VoicemailState.FETCHING
    assert voicemail.recording_sid == run.recording.sid
    assert voicemail.transcript == "Hi, the water heater is leaking. Call me."
    (entry,) = _call_entries(provisioned.company)
    assert entry.body.startswith("Voicemail · 0:0")

    assert fetch_due_voicemails(now=utcnow()) == 1
    db.session.commit()

    assert voicemail.state == VoicemailState.STORED
    path = Path(app.config["UPLOAD_FOLDER"]) / voicemail.storage_key
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getnchannels()) == (8000, 1)
    assert voicemail.deleted_at_twilio_at is not None
    assert numbers_fake.voice.recording(run.recording.sid).deleted
    fetches = [r for r in numbers_fake.requests if r.path.endswith(f"{run.recording.sid}.wav")]
    assert [r.method for r in fetches] == ["GET"]


def test_the_privacy_setting_can_keep_recordings_at_twilio(provisioned, numbers_fake):
    call_settings(provisioned.company).delete_recordings_at_twilio = False
    db.session.commit()
    run = _leave_voicemail(provisioned, numbers_fake)
    fetch_due_voicemails(now=utcnow())
    db.session.commit()
    assert not numbers_fake.voice.recording(run.recording.sid).deleted


def test_recording_callback_replayed_five_times_makes_one_voicemail(
    provisioned, numbers_fake, signed_post, client
):
    run = _leave_voicemail(provisioned, numbers_fake)
    callback = next(w for w in run.webhooks if w.url.endswith(RECORDING))
    for _ in range(5):
        assert signed_post(client, RECORDING, callback.form).status_code == 200
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Voicemail)) == 1
    assert len(_call_entries(provisioned.company)) == 1
    assert len(_text_backs(provisioned.company)) == 1


def test_a_recording_url_on_another_host_is_never_fetched(
    provisioned, numbers_fake, signed_post, client, monkeypatch
):
    sent = []
    monkeypatch.setattr(
        requests.Session, "request", lambda self, method, url, **kw: sent.append(url)
    )
    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")
    form = {
        "AccountSid": numbers_fake.account_sid,
        "CallSid": run.sid,
        "RecordingSid": "RE" + "a" * 32,
        "RecordingUrl": "https://attacker.example.com/2010-04-01/Recordings/RE" + "a" * 32,
        "RecordingStatus": "completed",
        "RecordingDuration": "7",
    }
    assert signed_post(client, RECORDING, form).status_code == 200
    fetch_due_voicemails(now=utcnow() + timedelta(hours=1))
    db.session.commit()

    voicemail = db.session.scalars(sa.select(Voicemail)).one()
    assert voicemail.state == VoicemailState.FAILED
    assert voicemail.storage_key is None
    assert sent == []
    assert not any("Recordings" in r.path for r in numbers_fake.requests)
    with pytest.raises(gateway.PermanentGatewayError):
        gateway.fetch_recording("https://api.twilio.com.attacker.example/x")
    assert sent == []


@pytest.mark.parametrize(
    "url",
    [
        "http://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "https://api.twilio.com.evil.example/r",
        "https://user:pw@api.twilio.com/r",
        "https://api.twilio.com:8443/r",
        "https://evil.example/api.twilio.com/r",
        "",
    ],
)
def test_only_twilio_hosts_count_as_twilio_media(url):
    assert not gateway.is_twilio_media_url(url)


def test_twilio_hosts_count(provisioned):
    assert gateway.is_twilio_media_url(
        "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"
    )


def test_a_voicemail_left_after_the_missed_call_was_read_is_unread_again(
    provisioned, numbers_fake, signed_post, client
):
    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")
    db.session.expire_all()
    (entry,) = _call_entries(provisioned.company)
    entry.read_at = utcnow()
    for recipient in entry.recipients:
        recipient.read_at = utcnow()
    db.session.commit()
    form = {
        "CallSid": run.sid,
        "RecordingSid": "RE" + "b" * 32,
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC/Recordings/RE" + "b" * 32,
        "RecordingStatus": "completed",
        "RecordingDuration": "14",
    }
    signed_post(client, RECORDING, form)
    db.session.expire_all()
    (entry,) = _call_entries(provisioned.company)
    assert entry.body == "Voicemail · 0:14"
    assert entry.read_at is None
    assert db.session.scalars(sa.select(MessageRecipient.read_at)).all() == [None]


# -- missed-call text-back ----------------------------------------------------------------------


def test_missed_call_text_back_goes_once_per_caller_per_12_hours(provisioned, numbers_fake):
    company = provisioned.company
    numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")
    numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="busy")
    db.session.expire_all()
    (text,) = _text_backs(company)
    assert text.body.startswith(
        "Sorry we missed your call - this is Lone Star Plumbing. How can we help?"
    )
    assert text.to_phone == CALLER and text.status == "pending"  # in the outbox

    text.created_at = utcnow() - timedelta(hours=13)
    db.session.commit()
    numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")
    db.session.expire_all()
    assert len(_text_backs(company)) == 2


def test_no_text_back_to_an_opted_out_caller(provisioned, numbers_fake):
    opt_out(company_id=provisioned.company_id, phone=CALLER, keyword="STOP")
    db.session.commit()
    numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")
    db.session.expire_all()
    assert _text_backs(provisioned.company) == []
    assert len(_call_entries(provisioned.company)) == 1  # the call is still logged


def test_no_text_back_to_a_landline(provisioned, numbers_fake, make):
    company = provisioned.company
    # Twilio once refused a text to this number as "not a mobile number".
    refused = make.customer(company, phone=CALLER)
    db.session.add(
        Message(
            company_id=company.id,
            conversation_id=_conversation(company, CALLER, refused).id,
            direction="out",
            kind=MessageKind.MANUAL,
            from_phone=provisioned.e164,
            to_phone=CALLER,
            body="Hello",
            status="failed",
            error_code=21614,
        )
    )
    db.session.commit()
    numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")
    # And a toll-free caller by its number type.
    numbers_fake.voice.call(from_="+18005550199", to=provisioned.e164, outcome="no-answer")
    db.session.expire_all()
    assert _text_backs(company) == []


def _conversation(company, phone, customer):
    from app.services.conversations import conversation_for

    return conversation_for(company=company, phone=phone, customer=customer)


def test_no_text_back_while_the_company_may_not_text(make, numbers_fake):
    company = make.company("Fresh Co", registered=False, business_phone=BUSINESS)
    number = provision(company)
    numbers_fake.voice.call(from_=CALLER, to=number.e164, outcome="no-answer")
    db.session.expire_all()
    assert _text_backs(company) == []


def test_the_text_back_can_be_turned_off(provisioned, numbers_fake):
    from app.services.message_templates import set_template_enabled

    set_template_enabled(
        company=provisioned.company, kind=MessageKind.MISSED_CALL_TEXT, enabled=False
    )
    db.session.commit()
    numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")
    db.session.expire_all()
    assert _text_backs(provisioned.company) == []


def test_no_business_phone_is_a_missed_call_with_text_back(provisioned, numbers_fake):
    provisioned.company.business_phone = None
    db.session.commit()
    numbers_fake.voice.call(from_=CALLER, to=provisioned.e164)
    db.session.expire_all()
    assert db.session.scalars(sa.select(Call)).one().outcome == CallOutcome.MISSED
    assert len(_text_backs(provisioned.company)) == 1


def test_business_hours_are_checked_in_the_company_time_zone(provisioned):
    from app.services.business_hours import is_open

    company = provisioned.company
    company.time_zone = "America/Chicago"
    set_week(
        company=company,
        actor=account_owner(company),
        days=[DayHours(day, day >= 5, 8 * 60, 17 * 60) for day in range(7)],
    )
    # Monday Dec 7 2026, 9:00 in Chicago = 15:00 UTC; 7:59 is closed; Saturday closed.
    from datetime import UTC, datetime

    assert is_open(company, now=datetime(2026, 12, 7, 15, 0, tzinfo=UTC))
    assert not is_open(company, now=datetime(2026, 12, 7, 13, 59, tzinfo=UTC))
    assert not is_open(company, now=datetime(2026, 12, 7, 23, 0, tzinfo=UTC))
    assert not is_open(company, now=datetime(2026, 12, 12, 16, 0, tzinfo=UTC))
    assert date(2026, 12, 7).weekday() == 0


# -- the number's call status callback ----------------------------------------------------------


def test_a_caller_who_hangs_up_while_it_rings_is_a_missed_call(
    provisioned, numbers_fake, signed_post, client
):
    result = numbers_fake.place_call(from_=CALLER, to=provisioned.e164)  # rings, then nothing
    form = {**result.form, "CallStatus": "completed", "CallDuration": "9"}
    response = signed_post(client, "/webhooks/twilio/status", form)
    assert response.status_code == 204
    db.session.expire_all()
    call = db.session.scalars(sa.select(Call)).one()
    assert (call.outcome, call.duration_seconds) == (CallOutcome.MISSED, 9)
    assert call.ended_at is not None
    assert len(_call_entries(provisioned.company)) == 1
    assert len(_text_backs(provisioned.company)) == 1


def test_hanging_up_at_the_after_hours_menu_still_gets_the_text_back(provisioned, numbers_fake):
    company = provisioned.company
    _close_all_week(company, on_call=ON_CALL)

    run = numbers_fake.voice.call(from_=CALLER, to=provisioned.e164)  # no key, no message

    assert run.webhooks[-1].url.endswith("/webhooks/twilio/status")
    assert run.webhooks[-1].status == 204
    db.session.expire_all()
    assert db.session.scalars(sa.select(Call)).one().outcome == CallOutcome.AFTER_HOURS
    assert len(_text_backs(company)) == 1


def test_a_fetch_that_fails_at_twilio_is_retried_later(provisioned, numbers_fake):
    _leave_voicemail(provisioned, numbers_fake)
    numbers_fake.fail_next(1, status=503, path_contains="/Recordings/")
    now = utcnow()

    assert fetch_due_voicemails(now=now) == 0
    db.session.commit()
    voicemail = db.session.scalars(sa.select(Voicemail)).one()
    assert voicemail.state == VoicemailState.FETCHING
    assert voicemail.attempts == 1
    assert voicemail.next_attempt_at == now + timedelta(seconds=10)
    assert "503" in voicemail.last_error
    assert fetch_due_voicemails(now=now) == 0  # not due yet: nothing asked

    assert fetch_due_voicemails(now=now + timedelta(seconds=10)) == 1
    db.session.commit()
    assert voicemail.state == VoicemailState.STORED


def test_an_answer_that_is_not_audio_is_not_stored(provisioned, numbers_fake):
    run = _leave_voicemail(provisioned, numbers_fake)
    numbers_fake.voice.recording(run.recording.sid).audio = b"<html>error page</html>"
    fetch_due_voicemails(now=utcnow())
    db.session.commit()
    voicemail = db.session.scalars(sa.select(Voicemail)).one()
    assert voicemail.state == VoicemailState.FAILED
    assert voicemail.storage_key is None
    assert "not audio" in voicemail.last_error


def test_the_worker_fetches_voicemails_outside_the_outbox_claim(
    provisioned, numbers_fake, dispatcher
):
    _leave_voicemail(provisioned, numbers_fake)

    dispatcher().run_once()

    db.session.expire_all()
    assert db.session.scalars(sa.select(Voicemail)).one().state == VoicemailState.STORED


def test_opening_the_conversation_reads_the_missed_call(provisioned, numbers_fake):
    from app.services.inbox import mark_read

    numbers_fake.voice.call(from_=CALLER, to=provisioned.e164, outcome="no-answer")
    db.session.expire_all()
    call = db.session.scalars(sa.select(Call)).one()
    assert call.is_unread
    mark_read(conversation=call.conversation, user=account_owner(provisioned.company))
    db.session.commit()
    db.session.expire_all()
    assert not db.session.scalars(sa.select(Call)).one().is_unread

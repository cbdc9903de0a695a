"""Calls to the custom number: the TwiML decision for each case, parsed and checked."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app.extensions import db
from app.models import Call, CallOutcome, UnroutedInbound
from app.services.calls import CallRoute, route_call
from tests.fixtures.numbers import provision

VOICE = "/webhooks/twilio/voice"
DIAL_STATUS = "/webhooks/twilio/voice/dial-status"
RECORDING = "/webhooks/twilio/voice/recording"
RECORDED = "/webhooks/twilio/voice/recorded"
CALLER = "+15125550123"


def _twiml(body: str) -> ET.Element:
    root = ET.fromstring(body)
    assert root.tag == "Response"
    return root


@pytest.fixture
def provisioned(make, numbers_fake):
    """A company whose number was bought through the real setup path (so the fake knows its
    voice URL), with a business phone."""
    return provision(make.company("Lone Star Plumbing", business_phone="+15125550100"))


def test_a_call_rings_the_business_phone_showing_the_callers_number(provisioned, numbers_fake):
    result = numbers_fake.place_call(from_=CALLER, to=provisioned.e164)

    assert result.url == "http://testserver.local" + VOICE  # the voice URL set at purchase
    assert result.status == 200
    assert result.content_type.startswith("text/xml")
    root = _twiml(result.body)
    (dial,) = list(root)
    assert dial.tag == "Dial"
    assert dial.attrib["callerId"] == CALLER
    assert dial.attrib["timeout"] == "25"
    assert dial.attrib["answerOnBridge"] == "true"
    assert dial.attrib["action"] == "http://testserver.local" + DIAL_STATUS
    (number,) = list(dial)
    assert (number.tag, number.text) == ("Number", "+15125550100")


def test_a_hidden_caller_rings_without_a_caller_id(provisioned, numbers_fake):
    result = numbers_fake.place_call(from_="anonymous", to=provisioned.e164)
    (dial,) = list(_twiml(result.body))
    assert dial.tag == "Dial"
    assert "callerId" not in dial.attrib  # Twilio then shows the custom number
    assert dial.find("Number").text == "+15125550100"


def test_without_a_business_phone_the_caller_hears_the_greeting_and_may_leave_a_voicemail(
    provisioned, numbers_fake
):
    company = provisioned.company
    company.name = "Bob & Sons <Plumbing>"  # escaped in the TwiML, read out as typed
    company.business_phone = None
    db.session.commit()

    result = numbers_fake.place_call(from_=CALLER, to=provisioned.e164)

    assert result.status == 200
    root = _twiml(result.body)
    assert root.find("Dial") is None
    say = root[0]
    assert say.tag == "Say"
    assert "nobody at Bob & Sons <Plumbing> can take your call" in say.text
    record = root.find("Record")
    assert record.attrib["maxLength"] == "120"
    assert record.attrib["recordingStatusCallback"] == "http://testserver.local" + RECORDING
    assert record.attrib["action"] == "http://testserver.local" + RECORDED


def test_a_business_phone_equal_to_the_custom_number_is_never_dialed(provisioned, numbers_fake):
    """Dialing the number the call came in on would call this webhook again: a loop."""
    company = provisioned.company
    company.business_phone = provisioned.e164
    db.session.commit()

    result = numbers_fake.place_call(from_=CALLER, to=provisioned.e164)

    assert result.status == 200
    root = _twiml(result.body)
    assert root.find("Dial") is None
    assert root.find("Record") is not None  # voicemail instead
    # However Twilio spells the called number.
    national = f"({provisioned.e164[2:5]}) {provisioned.e164[5:8]}-{provisioned.e164[8:]}"
    decision = route_call(form={"To": national, "From": CALLER, "CallSid": "CA" + "1" * 32})
    assert (decision.route, decision.dial) == (CallRoute.VOICEMAIL, None)


def test_the_business_phone_calling_its_own_custom_number_is_not_forwarded(
    provisioned, numbers_fake
):
    result = numbers_fake.place_call(from_="+15125550100", to=provisioned.e164)

    root = _twiml(result.body)
    assert [verb.tag for verb in root] == ["Say", "Hangup"]
    assert "not forwarded" in root[0].text
    call = db.session.scalars(sa.select(Call)).one()
    assert call.outcome == CallOutcome.BLOCKED


def test_a_call_to_a_number_nobody_owns_is_answered_politely_logged_and_kept(numbers_fake, caplog):
    caplog.set_level(logging.WARNING, logger="app.services.calls")
    result = numbers_fake.place_call(from_=CALLER, to="+15129998877")

    assert result.status == 200
    say, hangup = list(_twiml(result.body))
    assert say.tag == "Say" and "not in service" in say.text
    assert hangup.tag == "Hangup"
    assert "call to a number no company owns: to=+15129998877" in caplog.text
    kept = db.session.scalars(sa.select(UnroutedInbound)).one()
    assert (kept.channel, kept.from_phone, kept.to_phone) == ("voice", CALLER, "+15129998877")
    assert kept.twilio_sid == result.form["CallSid"]
    assert kept.payload["CallStatus"] == "ringing"


def test_twilio_asking_twice_about_one_call_keeps_it_once(signed_post, client, numbers_fake):
    form = {"CallSid": "CA" + "1" * 32, "From": CALLER, "To": "+15129998877"}
    for _ in range(2):
        assert signed_post(client, VOICE, form).status_code == 200
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UnroutedInbound)) == 1


def test_a_call_without_to_or_from_is_still_answered(signed_post, client):
    response = signed_post(client, VOICE, {"CallSid": "CA" + "2" * 32})
    assert response.status_code == 200
    assert [element.tag for element in _twiml(response.get_data(as_text=True))] == ["Say", "Hangup"]


def test_a_database_failure_still_answers_the_caller(signed_post, client, monkeypatch):
    def broken(**_kwargs):
        raise OperationalError("SELECT", {}, Exception("database is down"))

    monkeypatch.setattr("app.webhooks.voice.route_call", broken)
    response = signed_post(client, VOICE, {"CallSid": "CA" + "3" * 32, "To": "+15126660100"})
    assert response.status_code == 200
    assert "not in service" in _twiml(response.get_data(as_text=True)).find("Say").text


@pytest.mark.parametrize(
    "path",
    [
        VOICE,
        DIAL_STATUS,
        RECORDING,
        RECORDED,
        "/webhooks/twilio/voice/emergency",
        "/webhooks/twilio/voice/transcription",
    ],
)
def test_unsigned_or_tampered_calls_are_refused_and_nothing_is_kept(app, signed_post, client, path):
    form = {"CallSid": "CA" + "4" * 32, "From": CALLER, "To": "+15129998877"}
    assert client.post(path, data=form).status_code == 403
    assert signed_post(client, path, form, token="not-the-auth-token").status_code == 403
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UnroutedInbound)) == 0


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed"])
def test_when_nobody_answers_the_caller_hears_the_greeting_and_can_leave_a_voicemail(
    provisioned, signed_post, client, status
):
    form = {"CallSid": "CA" + "5" * 32, "DialCallStatus": status, "To": provisioned.e164}
    response = signed_post(client, DIAL_STATUS, form)
    assert response.status_code == 200
    root = _twiml(response.get_data(as_text=True))
    say, record = root[0], root[1]
    assert "nobody at Lone Star Plumbing can take your call" in say.text
    assert record.tag == "Record"
    assert record.attrib["maxLength"] == "120"
    assert record.attrib["recordingStatusCallback"] == "http://testserver.local" + RECORDING
    assert record.attrib["transcribe"] == "true"


def test_after_a_conversation_the_call_just_ends(provisioned, signed_post, client):
    form = {"CallSid": "CA" + "6" * 32, "DialCallStatus": "completed", "To": provisioned.e164}
    response = signed_post(client, DIAL_STATUS, form)
    assert [element.tag for element in _twiml(response.get_data(as_text=True))] == ["Hangup"]

"""Calls in the office: the call entry in the inbox thread and on the job timeline, the
voicemail audio route (company- and role-checked), and Settings -> Calls and hours."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    BusinessHours,
    CallSettings,
    Conversation,
    Holiday,
    JobStatus,
    Role,
    Voicemail,
    utcnow,
)
from app.services.job_status import job_set_status
from app.services.routing import account_owner
from app.services.voicemail import fetch_due_voicemails
from tests.fixtures.numbers import provision

CALLER = "+15125550123"


@pytest.fixture
def office(make, numbers_fake):
    company = make.company("Lone Star Plumbing", business_phone="+15125550100")
    return company, account_owner(company), provision(company)


def _voicemail(numbers_fake, number, text="Pipe burst under the sink, please call back"):
    numbers_fake.voice.call(from_=CALLER, to=number.e164, voicemail=text)
    numbers_fake.run_all_callbacks()
    fetch_due_voicemails(now=utcnow())
    db.session.commit()
    return db.session.scalars(sa.select(Voicemail)).one()


def test_the_thread_shows_the_voicemail_player_and_transcript(office, numbers_fake, client, log_in):
    _company, owner, number = office
    voicemail = _voicemail(numbers_fake, number)
    conversation = db.session.scalars(sa.select(Conversation)).one()
    log_in(client, owner)

    html = client.get(f"/inbox/{conversation.id}").get_data(as_text=True)

    assert "Voicemail · 0:0" in html
    assert f'<audio controls preload="none" src="/voicemails/{voicemail.id}/audio">' in html
    assert "Transcript (may contain mistakes):</span> Pipe burst under the sink" in html
    assert "api.twilio.com" not in html  # never Twilio's address
    audio = client.get(f"/voicemails/{voicemail.id}/audio")
    assert audio.status_code == 200
    assert audio.mimetype == "audio/wav"
    assert audio.data[:4] == b"RIFF"
    assert "no-store" in audio.headers["Cache-Control"]


def test_the_inbox_counts_a_missed_call_as_unread(office, numbers_fake, client, log_in):
    _company, owner, number = office
    numbers_fake.voice.call(from_=CALLER, to=number.e164, outcome="no-answer")
    log_in(client, owner)
    html = client.get("/inbox").get_data(as_text=True)
    assert 'aria-label="1 unread"' in html
    assert "is-unread" in html


def test_another_company_never_hears_the_voicemail(office, numbers_fake, client, log_in, make):
    _company, _owner, number = office
    voicemail = _voicemail(numbers_fake, number)
    other = make.company("Other Co")
    db.session.commit()
    log_in(client, account_owner(other))
    assert client.get(f"/voicemails/{voicemail.id}/audio").status_code == 404


def test_a_tech_hears_only_calls_routed_to_them(office, numbers_fake, client, log_in, make):
    company, _owner, number = office
    tina = make.user(company, Role.TECH, name="Tina Tech")
    tom = make.user(company, Role.TECH, name="Tom Tech")
    customer = make.customer(company, name="Jane Doe", phone=CALLER)
    job = make.job(company, customer, techs=[tina])
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tina)
    db.session.commit()
    voicemail = _voicemail(numbers_fake, number)

    log_in(client, tom)
    assert client.get(f"/voicemails/{voicemail.id}/audio").status_code == 404
    client.post("/logout")
    log_in(client, tina)
    assert client.get(f"/voicemails/{voicemail.id}/audio").status_code == 200
    # Her job page shows the call and its voicemail in the customer's conversation.
    page = client.get(f"/tech/jobs/{job.id}").get_data(as_text=True)
    assert "Jane called" in page
    assert f'src="/voicemails/{voicemail.id}/audio"' in page
    assert "may contain mistakes" in page


def test_the_job_timeline_shows_the_call_and_its_voicemail(
    office, numbers_fake, client, log_in, make
):
    company, owner, number = office
    tina = make.user(company, Role.TECH, name="Tina Tech")
    customer = make.customer(company, name="Jane Doe", phone=CALLER)
    job = make.job(company, customer, techs=[tina])
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tina)
    db.session.commit()
    voicemail = _voicemail(numbers_fake, number)
    log_in(client, owner)

    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Voicemail · 0:0" in html
    assert f"/voicemails/{voicemail.id}/audio" in html
    assert "may contain mistakes" in html


def test_business_hours_editor_saves_the_week(office, client, log_in):
    _company, owner, _number = office
    log_in(client, owner)
    assert "Business hours" in client.get("/settings/calls").get_data(as_text=True)
    form = {}
    for day in range(5):
        form |= {f"day{day}_open": "on", f"day{day}_opens": "08:00", f"day{day}_closes": "17:30"}
    for day in (5, 6):
        form |= {f"day{day}_opens": "08:00", f"day{day}_closes": "17:00"}

    response = client.post("/settings/calls/hours", data=form)

    assert response.status_code == 302
    rows = db.session.scalars(sa.select(BusinessHours).order_by(BusinessHours.weekday)).all()
    assert [(r.weekday, r.closed, r.opens_minute, r.closes_minute) for r in rows][:1] == [
        (0, False, 480, 1050)
    ]
    assert [r.closed for r in rows] == [False] * 5 + [True] * 2


def test_a_closing_time_before_the_opening_time_is_a_field_error(office, client, log_in):
    _company, owner, _number = office
    log_in(client, owner)
    form = {}
    for d in range(7):
        form |= {f"day{d}_opens": "08:00", f"day{d}_closes": "17:00"}
    form |= {"day2_open": "on", "day2_opens": "18:00", "day2_closes": "09:00"}
    response = client.post("/settings/calls/hours", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Wednesday: closing time must be after opening time." in html
    assert 'value="18:00"' in html  # what was typed is kept
    assert db.session.scalar(sa.select(sa.func.count()).select_from(BusinessHours)) == 0


def test_holidays_are_added_and_removed(office, client, log_in):
    _company, owner, _number = office
    log_in(client, owner)
    assert (
        client.post(
            "/settings/calls/holidays", data={"day": "2026-12-25", "name": "Christmas"}
        ).status_code
        == 302
    )
    duplicate = client.post("/settings/calls/holidays", data={"day": "2026-12-25"})
    assert duplicate.status_code == 422
    assert "already a holiday" in duplicate.get_data(as_text=True)
    holiday = db.session.scalars(sa.select(Holiday)).one()
    assert client.post(f"/settings/calls/holidays/{holiday.id}/delete").status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Holiday)) == 0


def test_call_settings_refuse_the_custom_number_as_on_call_phone(office, client, log_in):
    _company, owner, number = office
    log_in(client, owner)
    response = client.post(
        "/settings/calls",
        data={"emergency_phone": number.e164, "delete_recordings_at_twilio": "y"},
    )
    assert response.status_code == 422
    assert "be your custom number itself" in response.get_data(as_text=True)
    response = client.post(
        "/settings/calls",
        data={
            "emergency_phone": "(512) 555-0177",
            "voicemail_greeting": "You reached {company_name}.",
            "record_calls": "y",
        },
    )
    assert response.status_code == 302
    settings = db.session.scalars(sa.select(CallSettings)).one()
    assert settings.emergency_phone == "+15125550177"
    assert settings.record_calls is True
    assert settings.delete_recordings_at_twilio is False


def test_only_managers_change_call_settings(office, client, log_in, make):
    company, _owner, _number = office
    clerk = make.user(company, Role.OFFICE)
    db.session.commit()
    log_in(client, clerk)
    assert client.get("/settings/calls").status_code == 403
    assert client.post("/settings/calls/hours", data={}).status_code == 403


def test_a_recorded_greeting_is_uploaded_played_to_callers_and_removed(
    office, numbers_fake, client, log_in
):
    import io
    import xml.etree.ElementTree as ET

    from app.sms.fake_twilio.voice import make_wav

    _company, owner, number = office
    log_in(client, owner)
    refused = client.post(
        "/settings/calls/greeting",
        data={"audio": (io.BytesIO(b"<html>not audio</html>"), "greeting.wav")},
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "not a WAV or MP3 recording" in refused.get_data(as_text=True)

    wav = make_wav(2, tone=True)
    response = client.post(
        "/settings/calls/greeting",
        data={"audio": (io.BytesIO(wav), "greeting.wav")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    page = client.get("/settings/calls").get_data(as_text=True)
    assert "Callers hear this recording" in page

    numbers_fake.voice.call(from_=CALLER, to=number.e164, outcome="no-answer")
    after_dial = ET.fromstring(numbers_fake.webhooks[1].body)
    play = after_dial.find("Play")
    assert [verb.tag for verb in after_dial][:2] == ["Play", "Record"]
    assert play.text.startswith("http://testserver.local/webhooks/twilio/voice/greetings/")
    path = play.text.removeprefix("http://testserver.local")
    client.post("/logout")
    served = client.get(path)  # Twilio fetches it without logging in
    assert served.status_code == 200 and served.data == wav
    assert client.get("/webhooks/twilio/voice/greetings/" + "x" * 32 + ".wav").status_code == 404
    # "_" is a wildcard to SQL's LIKE: a name of underscores must not match the greeting.
    name = path.rsplit("/", 1)[-1]
    wildcard = "_" * len(name.split(".")[0]) + "." + name.split(".")[1]
    assert client.get("/webhooks/twilio/voice/greetings/" + wildcard).status_code == 404

    log_in(client, owner)
    assert client.post("/settings/calls/greeting", data={"action": "remove"}).status_code == 302
    assert client.get(path).status_code == 404
    db.session.expire_all()
    assert db.session.scalars(sa.select(CallSettings.greeting_audio_key)).one() is None


def test_the_text_back_and_after_hours_reply_are_edited_with_the_other_texts(
    office, client, log_in
):
    _company, owner, _number = office
    log_in(client, owner)
    html = client.get("/texts").get_data(as_text=True)
    assert "Missed-call text-back" in html
    assert "Sorry we missed your call - this is {company_name}. How can we help?" in html
    assert "After-hours reply" in html

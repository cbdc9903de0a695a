"""Voicemail recordings and recorded greetings with MEDIA_STORE=s3: they go through the
same media store as pictures, so they land in the bucket and are streamed by the app's own
routes (the voicemail player can seek: ranges). A store that refuses a recording loses
nothing: it stays at Twilio and is fetched again after its lease."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET

import pytest
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import Voicemail, VoicemailState, utcnow
from app.services import media_backends
from app.services import voicemail as voicemail_service
from app.services.routing import account_owner
from app.services.voicemail import fetch_due_voicemails
from app.sms.fake_twilio.voice import make_wav
from tests.fixtures.numbers import provision
from tests.fixtures.s3 import use_backend

CALLER = "+15125550123"


@pytest.fixture
def office(make, numbers_fake):
    company = make.company("Lone Star Plumbing", business_phone="+15125550100")
    return company, account_owner(company), provision(company)


def test_a_voicemail_is_kept_in_s3_and_played_from_it(
    office, numbers_fake, client, log_in, make, s3_store
):
    _company, owner, number = office
    numbers_fake.voice.call(from_=CALLER, to=number.e164, voicemail="Pipe burst, call back")
    numbers_fake.run_all_callbacks()
    assert fetch_due_voicemails(now=utcnow()) == 1
    db.session.commit()
    voicemail = db.session.scalars(sa.select(Voicemail)).one()
    assert voicemail.state == VoicemailState.STORED
    assert s3_store.object_names() == [f"prod/{voicemail.storage_key}"]

    log_in(client, owner)
    audio = client.get(f"/voicemails/{voicemail.id}/audio")
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.data[:4] == b"RIFF"
    assert audio.headers["Cache-Control"] == "private, no-store"
    # The player seeks: a range is answered 206 from the stream.
    part = client.get(f"/voicemails/{voicemail.id}/audio", headers={"Range": "bytes=8-11"})
    assert part.status_code == 206 and part.data == b"WAVE"

    client.post("/logout")
    other = make.company("Other Plumbing")
    db.session.commit()
    log_in(client, other.owner)
    assert client.get(f"/voicemails/{voicemail.id}/audio").status_code == 404


def test_a_recorded_greeting_is_kept_in_s3_and_served_to_twilio(
    office, numbers_fake, client, log_in, s3_store
):
    _company, owner, number = office
    log_in(client, owner)
    wav = make_wav(2, tone=True)
    response = client.post(
        "/settings/calls/greeting",
        data={"audio": (io.BytesIO(wav), "greeting.wav")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    [name] = s3_store.object_names()

    numbers_fake.voice.call(from_=CALLER, to=number.e164, outcome="no-answer")
    play = ET.fromstring(numbers_fake.webhooks[1].body).find("Play")
    path = play.text.removeprefix("http://testserver.local")
    assert name.endswith(path.rsplit("/", 1)[-1])
    client.post("/logout")
    served = client.get(path)  # Twilio fetches it without logging in
    assert served.status_code == 200 and served.data == wav
    assert served.mimetype == "audio/wav"
    assert "public" in served.headers["Cache-Control"]
    assert "private" not in served.headers["Cache-Control"]

    log_in(client, owner)
    assert client.post("/settings/calls/greeting", data={"action": "remove"}).status_code == 302
    assert s3_store.object_names() == []
    assert client.get(path).status_code == 404


def test_a_store_that_refuses_a_voicemail_loses_nothing(app, office, numbers_fake, s3_store):
    _company, _owner, number = office
    run = numbers_fake.voice.call(from_=CALLER, to=number.e164, voicemail="Pipe burst")
    numbers_fake.run_all_callbacks()
    use_backend(
        app,
        media_backends.S3Backend.from_config(
            {**current_app.config, "S3_SECRET_ACCESS_KEY": "rotated-elsewhere"}
        ),
    )
    now = utcnow()
    # Counted as a failed attempt and retried later, like a Twilio error; the recording
    # stays at Twilio.
    assert voicemail_service.fetch_due_voicemails(now=now) == 0
    db.session.expire_all()
    voicemail = db.session.scalars(sa.select(Voicemail)).one()
    assert voicemail.state == VoicemailState.FETCHING
    assert voicemail.attempts == 1 and voicemail.last_error
    assert voicemail.next_attempt_at > now
    assert not numbers_fake.voice.recording(run.recording.sid).deleted
    assert s3_store.object_names() == []

    app.extensions.pop(media_backends.EXTENSION)  # the right key again
    later = now + voicemail_service.FETCH_LEASE
    assert voicemail_service.fetch_due_voicemails(now=later) == 1
    db.session.expire_all()
    voicemail = db.session.scalars(sa.select(Voicemail)).one()
    assert voicemail.state == VoicemailState.STORED
    assert s3_store.object_names() == [f"prod/{voicemail.storage_key}"]
    assert numbers_fake.voice.recording(run.recording.sid).deleted

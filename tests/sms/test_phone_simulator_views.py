"""The phone simulator's pages: what the phone shows, replies and calls through the fake
Twilio's signed webhooks."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import Direction, Message, MessageKind, OptOut, Role
from app.services.texting import queue_text
from tests.fixtures.media import customer_conversation_id, photo_files
from tests.fixtures.notifications import image_bytes
from tests.fixtures.sms import route_received
from tests.support import HX


def test_simulator_needs_a_login(client, sms_world):
    response = client.get("/dev/phone")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_simulator_is_absent_without_the_fake_twilio(tmp_path):
    real = create_app(
        {
            "TESTING": True,
            "TWILIO_FAKE": False,
            "WTF_CSRF_ENABLED": False,
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        }
    )
    # The dev blueprint may be there for /dev/mail (no SMTP); its phone pages are not.
    client = real.test_client()
    for path in ("/dev/phone", "/dev/phone/thread?phone=%2B15125550100"):
        assert client.get(path).status_code == 404
    assert client.post("/dev/phone/text").status_code == 404


def test_phone_shows_texts_it_received_with_ticks_links_and_photos(
    client, log_in, sms_world, fake, dispatcher
):
    queue_text(
        company=sms_world.company,
        to_phone=sms_world.customer.mobile_phone,
        body="Invoice: https://example.com/i/abc. <b>Thanks</b>",
        kind=MessageKind.INVOICE,
        customer=sms_world.customer,
        media_urls=["https://example.com/tech.jpg"],
    )
    db.session.commit()
    dispatcher().run_once()
    fake.run_all_callbacks()
    log_in(client, sms_world.company.owner)

    page = client.get(f"/dev/phone?customer={sms_world.customer.id}").get_data(as_text=True)
    assert "The phone of <strong>Avery Johnson</strong>" in page
    assert (
        '<a href="https://example.com/i/abc" target="_blank" rel="noopener noreferrer">'
        "https://example.com/i/abc</a>." in page
    )
    assert "&lt;b&gt;Thanks&lt;/b&gt;" in page
    # A picture the fake does not hold is a link: pages load images from this site only.
    assert 'href="https://example.com/tech.jpg"' in page and "Picture (link)" in page
    assert '<img src="https://example.com/tech.jpg"' not in page
    assert "✓✓ Delivered" in page


def test_reply_goes_through_the_signed_webhook_and_is_routed(app, client, log_in, sms_world, fake):
    log_in(client, sms_world.company.owner)
    response = client.post(
        "/dev/phone/text",
        data={
            "phone": sms_world.customer.mobile_phone,
            "body": "Running 5 min late?",
            "photo": "y",
        },
        headers=HX,
    )
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "sim-refresh"
    [webhook] = fake.webhooks
    assert webhook.url == app.config["PUBLIC_BASE_URL"] + "/webhooks/twilio/sms"
    assert webhook.status == 200
    assert db.session.scalars(sa.select(Message)).all() == []  # the worker routes it
    assert route_received() == 1
    message = db.session.scalars(sa.select(Message)).one()
    assert message.direction == Direction.IN
    assert message.body == "Running 5 min late?"
    assert message.from_phone == "+15125550101"
    assert message.to_phone == "+15126660100"
    # The photo is held at the fake Twilio and named by its api.twilio.com URL, as Twilio does.
    [held] = fake.media_of(message.twilio_sid)
    assert message.media_urls == [held.url]
    assert held.url.startswith("https://api.twilio.com/2010-04-01/Accounts/AC")
    assert held.data == (Path(app.static_folder) / "dev-sample-photo.jpg").read_bytes()
    assert message.conversation.customer_id == sms_world.customer.id
    assert message.routing_reason
    thread = client.get("/dev/phone/thread?phone=%2B15125550101").get_data(as_text=True)
    assert "Running 5 min late?" in thread
    # The phone shows the picture it sent, served from the fake's copy.
    assert f'<img src="/dev/phone/media/{held.sid}"' in thread
    picture = client.get(f"/dev/phone/media/{held.sid}")
    assert picture.status_code == 200 and picture.data == held.data


def test_the_phone_shows_a_photo_the_company_sent(app, client, log_in, sms_world, fake, dispatcher):
    log_in(client, sms_world.company.owner)
    client.post(
        f"/inbox/{customer_conversation_id(sms_world)}/reply",
        data={"body": "Done!", "key": "p1", "photos": photo_files(image_bytes("JPEG", (640, 480)))},
        headers=HX,
        content_type="multipart/form-data",
    )
    dispatcher().run_once()
    [remote] = fake.outbound()
    [held] = fake.media_of(remote.sid)
    thread = client.get("/dev/phone/thread?phone=%2B15125550101").get_data(as_text=True)
    assert f'<img src="/dev/phone/media/{held.sid}"' in thread


def test_a_phone_picture_of_another_company_is_404(client, log_in, make, sms_world, fake):
    fake.send_inbound_sms(
        from_="+15125550101", to="+15126660100", body="", attachments=[(b"x", "image/jpeg")]
    )
    route_received()
    [held] = fake.live_media()
    other = make.company("Other")
    db.session.commit()
    log_in(client, other.owner)
    assert client.get(f"/dev/phone/media/{held.sid}").status_code == 404


def test_reply_without_js_redirects_back_to_the_phone(client, log_in, sms_world, fake):
    log_in(client, sms_world.company.owner)
    response = client.post("/dev/phone/text", data={"phone": "+15125550101", "body": "hello"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/dev/phone?phone=%2B15125550101")


def test_empty_reply_is_refused_with_a_message(client, log_in, sms_world, fake):
    log_in(client, sms_world.company.owner)
    response = client.post(
        "/dev/phone/text",
        data={"phone": "+15125550101", "body": "  "},
        headers=HX,
    )
    assert response.status_code == 422
    assert "Type a message or attach the photo." in response.get_data(as_text=True)
    assert fake.webhooks == []


def test_stop_from_the_simulator_opts_the_customer_out(client, log_in, sms_world, fake):
    log_in(client, sms_world.company.owner)
    client.post("/dev/phone/text", data={"phone": "+15125550101", "body": "STOP"})
    route_received()
    assert db.session.scalars(sa.select(OptOut)).one().phone == "+15125550101"
    thread = client.get("/dev/phone/thread?phone=%2B15125550101").get_data(as_text=True)
    assert "This phone texted STOP" in thread
    client.post("/dev/phone/text", data={"phone": "+15125550101", "body": "START"})
    route_received()
    thread = client.get("/dev/phone/thread?phone=%2B15125550101").get_data(as_text=True)
    assert "This phone texted STOP" not in thread


def test_typed_number_that_is_not_a_phone_shows_an_error(client, log_in, sms_world):
    log_in(client, sms_world.company.owner)
    page = client.get("/dev/phone?number=12").get_data(as_text=True)
    assert "is not a" in page
    assert 'aria-invalid="true"' in page


def test_other_companys_customer_is_404(client, log_in, sms_world, make):
    other = make.company("Other Co")
    stranger = make.customer(other, phone="+15125550177")
    db.session.commit()
    log_in(client, sms_world.company.owner)
    assert client.get(f"/dev/phone?customer={stranger.id}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/dev/phone"),
        ("GET", "/dev/phone?phone=%2B15125550101"),
        ("GET", "/dev/phone/thread?phone=%2B15125550101"),
        ("POST", "/dev/phone/text"),
        ("POST", "/dev/phone/call"),
    ],
)
def test_a_tech_may_not_use_the_simulator(client, log_in, sms_world, make, fake, method, path):
    """It reads any customer's thread and posts as any customer: managers only."""
    tech = make.user(sms_world.company, role=Role.TECH)
    db.session.commit()
    log_in(client, tech)
    form = {"phone": "+15125550101", "body": "I am the customer now"}
    response = client.open(path, method=method, data=form if method == "POST" else None)
    assert response.status_code in (302, 403)
    assert "I am the customer now" not in str(db.session.scalars(sa.select(Message.body)).all())
    my_day = client.get("/tech")
    assert my_day.status_code == 200
    assert "Phone simulator" not in my_day.get_data(as_text=True)


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.OFFICE])
def test_the_office_roles_may_use_the_simulator(client, log_in, sms_world, make, role):
    user = sms_world.company.owner if role == Role.OWNER else make.user(sms_world.company, role)
    db.session.commit()
    log_in(client, user)
    assert client.get("/dev/phone").status_code == 200


def test_the_simulator_is_absent_in_production_even_with_the_fake(tmp_path):
    prod = create_app(
        {
            "TESTING": True,
            "ENV_NAME": "production",
            "STRIPE_FAKE": False,
            "SECRET_KEY": "3f9c1a7e5b2d8046c9e1f3a5b7d90c2e4f6a8b0c1d3e5f7092b4d6f8a0c2e4f6",
            "TWILIO_FAKE": True,
            "ALLOW_FAKE_TWILIO_IN_PRODUCTION": True,
            "UPLOAD_FOLDER": str(tmp_path),
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        }
    )
    assert not any(name.startswith("dev.") for name in prod.view_functions)
    assert prod.test_client().get("/dev/phone").status_code == 404


def test_call_posts_a_signed_voice_webhook_and_shows_the_answer(
    app, client, log_in, sms_world, fake
):
    log_in(client, sms_world.company.owner)
    response = client.post("/dev/phone/call", data={"phone": "+15125550101"}, headers=HX)
    assert response.status_code == 200
    webhook, dial_status = fake.webhooks  # the call, then the <Dial action> (nobody answered)
    assert webhook.url == app.config["PUBLIC_BASE_URL"] + "/webhooks/twilio/voice"
    assert dial_status.url == app.config["PUBLIC_BASE_URL"] + "/webhooks/twilio/voice/dial-status"
    assert webhook.form["From"] == "+15125550101"
    assert webhook.form["To"] == "+15126660100"
    assert webhook.form["CallSid"].startswith("CA")
    assert webhook.status == 200
    shown = response.get_data(as_text=True)
    assert "Forwards the call to (512) 555-0000" in shown  # the business phone
    assert "HTTP 200" in shown


def test_a_voicemail_typed_on_the_simulated_phone_reaches_the_inbox(
    app, client, log_in, sms_world, fake
):
    from app.models import Voicemail, VoicemailState, utcnow
    from app.services.voicemail import fetch_due_voicemails

    log_in(client, sms_world.company.owner)
    response = client.post(
        "/dev/phone/call",
        data={
            "phone": "+15125550101",
            "outcome": "no-answer",
            "voicemail": "Hi, my AC stopped working",
            "silence": "y",
        },
        headers=HX,
    )
    shown = response.get_data(as_text=True)
    assert "Voicemail left: “Hi, my AC stopped working”" in shown
    assert "leave a message after the tone" in shown  # what the caller heard
    fake.run_all_callbacks()
    fetch_due_voicemails(now=utcnow())
    db.session.commit()
    voicemail = db.session.scalars(sa.select(Voicemail)).one()
    assert voicemail.state == VoicemailState.STORED
    assert voicemail.transcript == "Hi, my AC stopped working"


def test_company_without_number_is_told_so(client, log_in, make):
    company = make.company()
    make.customer(company, phone="+15125550111")
    db.session.commit()
    log_in(client, company.owner)
    page = client.get("/dev/phone?phone=%2B15125550111").get_data(as_text=True)
    assert "has no custom number yet" in page
    response = client.post("/dev/phone/text", data={"phone": "+15125550111", "body": "hi"})
    assert response.status_code == 422
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0


def test_without_a_number_a_call_is_refused_with_why(client, log_in, make):
    company = make.company()
    make.customer(company, phone="+15125550111")
    db.session.commit()
    log_in(client, company.owner)
    response = client.post("/dev/phone/call", data={"phone": "+15125550111"})
    assert response.status_code == 409
    assert (
        f'<p class="error" id="sim-number-error">{company.name} has no custom number yet'
        in response.get_data(as_text=True)
    )


def test_office_notes_in_the_thread_are_not_shown_as_texts(client, log_in, sms_world, fake):
    from app.services.conversations import conversation_for

    conversation = conversation_for(
        company=sms_world.company, phone="+15125550101", customer=sms_world.customer
    )
    db.session.add(
        Message(
            company_id=sms_world.company.id,
            conversation_id=conversation.id,
            direction=Direction.IN,
            kind=MessageKind.NOTICE,
            from_phone="+15125550101",
            to_phone="+15126660100",
            body="Estimate #12 approved",
            status="received",
        )
    )
    db.session.commit()
    log_in(client, sms_world.company.owner)
    client.post("/dev/phone/text", data={"phone": "+15125550101", "body": "Thanks!"})
    route_received()
    thread = client.get("/dev/phone/thread?phone=%2B15125550101").get_data(as_text=True)
    assert "Thanks!" in thread
    assert "Estimate #12 approved" not in thread


def test_the_phone_sends_a_file_of_its_own(client, log_in, sms_world, fake):
    from app.models import MediaState, MessageMedia, utcnow
    from app.services.message_media import fetch_due_media

    log_in(client, sms_world.company.owner)
    pdf = b"%PDF-1.4\nthe quote from the other company"
    response = client.post(
        "/dev/phone/text",
        data={"phone": "+15125550101", "body": "", "attachment": (io.BytesIO(pdf), "quote.pdf")},
        headers=HX,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    route_received()
    fetch_due_media(now=utcnow())
    item = db.session.scalar(sa.select(MessageMedia))
    assert item.state == MediaState.STORED and item.content_type == "application/pdf"
    thread = client.get("/dev/phone/thread?phone=%2B15125550101").get_data(as_text=True)
    assert "sim-file" in thread and "application/pdf" in thread


def test_someone_answers_a_call_from_the_simulated_phone(client, log_in, sms_world, fake):
    from app.models import Call, CallOutcome, Voicemail

    log_in(client, sms_world.company.owner)
    response = client.post(
        "/dev/phone/call",
        data={"phone": "+15125550101", "outcome": "answer", "voicemail": ""},
        headers=HX,
    )
    assert response.status_code == 200
    fake.run_all_callbacks()
    db.session.expire_all()
    call = db.session.scalars(sa.select(Call)).one()
    assert call.outcome == CallOutcome.ANSWERED
    assert db.session.scalars(sa.select(Voicemail)).all() == []

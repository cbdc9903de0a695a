"""The outbox end to end: queue_text -> dispatcher -> the real SDK -> the fake Twilio ->
signed status callbacks -> the message's status."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Message, MessageKind, MessageStatus
from app.services.texting import queue_text
from app.sms.fake_twilio import FakeTwilio


def _queue(world, body="Your plumber is on the way", **kwargs) -> Message:
    message = queue_text(
        company=world.company,
        to_phone=world.customer.mobile_phone,
        body=body,
        kind=MessageKind.MANUAL,
        customer=world.customer,
        **kwargs,
    )
    db.session.commit()
    return message


def test_queued_text_is_sent_over_real_http_with_exact_form_fields(
    app, sms_world, fake, over_http, dispatcher
):
    message = _queue(
        sms_world, media_urls=["https://example.com/a.jpg", "https://example.com/b.png"]
    )
    assert dispatcher().run_once() == 1

    [request] = fake.message_requests()
    form = request.form_dict()
    assert form["To"] == ["+15125550101"]
    assert form["From"] == ["+15126660100"]
    # The first text to the number says how to opt out.
    assert form["Body"] == ["Your plumber is on the way Reply STOP to opt out."]
    assert form["MediaUrl"] == ["https://example.com/a.jpg", "https://example.com/b.png"]
    callback = urlsplit(form["StatusCallback"][0])
    assert f"{callback.scheme}://{callback.netloc}" == app.config["PUBLIC_BASE_URL"]
    assert callback.path == "/webhooks/twilio/status"
    assert parse_qs(callback.query) == {"mid": [str(message.id)]}
    assert set(form) == {"To", "From", "Body", "MediaUrl", "StatusCallback"}

    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    [remote] = fake.outbound()
    assert stored.status == MessageStatus.QUEUED
    assert stored.twilio_sid == remote.sid
    assert stored.attempts == 1
    assert stored.claimed_until is None


def test_fake_moves_the_text_to_delivered_with_signed_callbacks(sms_world, fake, dispatcher):
    message = _queue(sms_world)
    dispatcher().run_once()
    assert fake.run_all_callbacks() == 2
    assert [w.status for w in fake.webhooks] == [204, 204]
    assert [w.form["MessageStatus"] for w in fake.webhooks] == ["sent", "delivered"]
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert stored.status == MessageStatus.DELIVERED
    assert stored.delivered_at is not None


def test_rolled_back_transaction_sends_nothing(sms_world, fake, dispatcher):
    queue_text(
        company=sms_world.company,
        to_phone=sms_world.customer.mobile_phone,
        body="This never happened",
        kind=MessageKind.MANUAL,
    )
    db.session.rollback()
    assert dispatcher().run_once() == 0
    assert fake.message_requests() == []
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0


@pytest.mark.parametrize("when", ["before claim"])
def test_nothing_is_sent_twice_by_a_second_run(sms_world, fake, dispatcher, when):
    _queue(sms_world)
    first = dispatcher()
    assert first.run_once() == 1
    assert first.run_once() == 0
    assert dispatcher().run_once() == 0
    assert len(fake.message_requests()) == 1


def test_with_auto_advance_the_fake_delivers_callbacks_by_itself(app, sms_world, fake):
    """`make run`: nobody advances the fake by hand; its own thread posts the callbacks."""
    message = _queue(sms_world)
    live_fake = FakeTwilio(
        account_sid=fake.account_sid,
        auth_token=fake.auth_token,
        target_app=app,
        public_base_url=lambda: app.config["PUBLIC_BASE_URL"],
        auto_advance=True,
    )
    live_fake.accept_outbound(
        from_=message.from_phone,
        to=message.to_phone,
        body=message.body,
        media_urls=[],
        status_callback=f"{app.config['PUBLIC_BASE_URL']}/webhooks/twilio/status?mid={message.id}",
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        db.session.expire_all()
        if db.session.get(Message, message.id).status == MessageStatus.DELIVERED:
            break
        time.sleep(0.1)
    stored = db.session.get(Message, message.id)
    assert stored.status == MessageStatus.DELIVERED
    assert stored.twilio_sid == next(iter(live_fake.messages))
    assert [w.status for w in live_fake.webhooks] == [204, 204]

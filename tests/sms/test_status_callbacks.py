"""POST /webhooks/twilio/status: delivery status moves forward only."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Message, MessageKind, MessageStatus, utcnow
from app.services.outbox import OutboxItem, record_accepted
from app.services.texting import queue_text

STATUS = "/webhooks/twilio/status"


def _sent_text(world, sid: str | None = "SM" + "a" * 32, status=MessageStatus.QUEUED) -> Message:
    message = queue_text(
        company=world.company,
        to_phone=world.customer.mobile_phone,
        body="See you at 10",
        kind=MessageKind.MANUAL,
    )
    message.twilio_sid = sid
    message.status = status
    db.session.commit()
    return message


def _form(message: Message, status: str, sid: str | None = None, **extra) -> dict[str, str]:
    return {
        "AccountSid": "AC00000000000000000000000000000000",
        "ApiVersion": "2010-04-01",
        "MessageSid": sid or message.twilio_sid,
        "SmsSid": sid or message.twilio_sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": message.from_phone,
        "To": message.to_phone,
        **extra,
    }


def test_delivered_then_sent_then_queued_each_3x_stays_delivered(client, signed_post, sms_world):
    message = _sent_text(sms_world)
    answers = []
    for status in ("delivered", "sent", "queued"):
        for _ in range(3):
            answers.append(signed_post(client, STATUS, _form(message, status)).status_code)
    assert answers == [204] * 9
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert stored.status == MessageStatus.DELIVERED
    assert stored.delivered_at is not None


def test_statuses_in_order_move_forward(client, signed_post, sms_world):
    message = _sent_text(sms_world)
    seen = []
    for status in ("queued", "sending", "sent", "delivered"):
        signed_post(client, STATUS, _form(message, status))
        db.session.expire_all()
        seen.append(db.session.get(Message, message.id).status)
    assert seen == ["queued", "queued", "sent", "delivered"]


def test_undelivered_keeps_the_error_code_in_plain_words_and_is_final(
    client, signed_post, sms_world
):
    message = _sent_text(sms_world)
    signed_post(client, STATUS, _form(message, "undelivered", ErrorCode="30003"))
    signed_post(client, STATUS, _form(message, "delivered"))
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert stored.status == MessageStatus.UNDELIVERED
    assert stored.error_code == 30003
    assert "unreachable" in stored.error_message


def test_callback_before_the_sid_is_recorded_is_matched_by_the_marker(
    client, signed_post, sms_world
):
    message = _sent_text(sms_world, sid=None, status=MessageStatus.SENDING)
    message.attempts = 1
    db.session.commit()
    sid = "SM" + "b" * 32
    response = signed_post(
        client, STATUS, _form(message, "sent", sid=sid), query=f"mid={message.id}"
    )
    assert response.status_code == 204
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert (stored.twilio_sid, stored.status) == (sid, MessageStatus.SENT)

    # The dispatcher's own record arriving late neither moves it back nor loses the SID.
    item = OutboxItem(
        id=message.id,
        company_id=message.company_id,
        from_phone=message.from_phone,
        to_phone=message.to_phone,
        body=message.body,
        media_urls=(),
        attempts=1,
        created_at=message.created_at,
        reconcile_since=None,
        twilio_sid=None,
    )
    assert record_accepted(item=item, sid=sid, twilio_status="queued", now=utcnow())
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert (stored.twilio_sid, stored.status) == (sid, MessageStatus.SENT)


def test_marker_that_disagrees_with_the_numbers_is_ignored(client, signed_post, sms_world):
    message = _sent_text(sms_world, sid=None, status=MessageStatus.SENDING)
    form = _form(message, "delivered", sid="SM" + "c" * 32)
    form["To"] = "+15125550999"
    assert signed_post(client, STATUS, form, query=f"mid={message.id}").status_code == 204
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert (stored.twilio_sid, stored.status) == (None, MessageStatus.SENDING)


def test_unknown_sid_is_acknowledged_and_changes_nothing(client, signed_post, sms_world):
    message = _sent_text(sms_world)
    form = _form(message, "failed", sid="SM" + "d" * 32)
    assert signed_post(client, STATUS, form).status_code == 204
    db.session.expire_all()
    assert db.session.get(Message, message.id).status == MessageStatus.QUEUED


@pytest.mark.parametrize("missing", ["MessageSid", "MessageStatus"])
def test_incomplete_callback_is_400(client, signed_post, sms_world, missing):
    message = _sent_text(sms_world)
    form = _form(message, "sent")
    form.pop(missing)
    form.pop("SmsSid" if missing == "MessageSid" else "SmsStatus")
    assert signed_post(client, STATUS, form).status_code == 400


def test_error_explanations_are_plain_and_never_wrapped_twice():
    from app.sms.error_codes import error_explanation

    assert "opted out" in error_explanation(21610)
    assert error_explanation(None) == "The text could not be sent."
    first = error_explanation(21999, "Something odd")
    assert first == "Twilio refused the text with error 21999 (Something odd)."
    assert error_explanation(21999, first) == first

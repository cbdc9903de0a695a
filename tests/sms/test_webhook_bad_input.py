"""Signed webhooks with input that cannot be stored as it came: validated at the door,
answered 2xx, what can be kept is kept, the rest quarantined with its reason (visible in
`flask numbers quarantine`), and no receipt is retried for ever.

Run on SQLite and on PostgreSQL (TEST_DATABASE_URL): PostgreSQL is where a NUL, a 65-character
SID or a 3000000000 marker used to fail.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import InboundReceipt, Message, MessageKind, MessageStatus, UnroutedInbound, utcnow
from app.services import inbound
from app.services.inbound import RECEIPT_MAX_ATTEMPTS, route_receipts
from app.services.texting import queue_text

SMS = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"
_sids = itertools.count(1)


def _form(body="Can you come at 3?", *, frm="+15125550101", to="+15126660100", sid=None):
    sid = sid or f"SM{next(_sids):032x}"
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": frm,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }


def _state():
    db.session.expire_all()
    return (
        list(db.session.scalars(sa.select(Message).filter_by(direction="in"))),
        list(db.session.scalars(sa.select(InboundReceipt))),
        list(db.session.scalars(sa.select(UnroutedInbound))),
    )


def test_a_nul_in_the_body_is_removed_and_the_text_kept(client, text_in, sms_world):
    response = text_in(client, SMS, _form("Leak under\x00 the sink"))
    assert response.status_code == 200
    messages, receipts, quarantined = _state()
    assert [m.body for m in messages] == ["Leak under the sink"]
    assert receipts == [] and quarantined == []


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("MessageSid", "SM" + "f" * 98, "MessageSid is 100 characters long"),
        ("From", "+1512555010112345678901", "From is 23 characters long"),
        ("To", "+1512666010012345678901", "To is 23 characters long"),
    ],
)
def test_a_post_too_long_for_its_columns_is_quarantined_with_its_reason(
    client, text_in, sms_world, runner, field, value, why
):
    form = _form("Water everywhere")
    form[field] = value
    if field == "MessageSid":
        form["SmsSid"] = value
    for _ in range(2):  # Twilio retrying changes nothing
        assert text_in(client, SMS, form).status_code == 200
    messages, receipts, quarantined = _state()
    assert messages == [] and receipts == []
    assert quarantined, "the text is kept for the operator"
    row = quarantined[0]
    assert row.body == "Water everywhere" and row.payload[field] == value
    assert why in row.reason
    listed = runner.invoke(args=["numbers", "quarantine"]).output
    assert "Water everywhere" in listed and why in listed


def test_a_receipt_failing_on_its_data_is_quarantined_at_once(client, signed_post, sms_world):
    """A receipt stored before the door checked (or whose data the database refuses)."""
    now = utcnow()
    db.session.add(
        InboundReceipt(
            twilio_sid="SM" + "e" * 32,
            payload=_form("Old poison", sid="SM" + "e" * 32) | {"From": "+1" + "5" * 30},
            received_at=now,
            next_attempt_at=now,
            attempts=0,
        )
    )
    db.session.commit()
    route_receipts(now=now)
    messages, receipts, quarantined = _state()
    # PostgreSQL refuses the 32-character From (a data error: quarantined on the first
    # failure); SQLite stores it (no column widths), which is fine too: nothing is retried.
    assert receipts == []
    if quarantined:
        assert "Could not be stored" in quarantined[0].reason
        assert quarantined[0].body == "Old poison"
    else:
        assert [m.body for m in messages] == ["Old poison"]


def test_a_receipt_that_keeps_failing_ends_in_quarantine(
    client, signed_post, sms_world, monkeypatch
):
    def receive(*, form, received_at=None):
        raise RuntimeError("routing blew up")

    monkeypatch.setattr(inbound, "receive_sms", receive)
    assert signed_post(client, SMS, _form("Stuck")).status_code == 200
    now = utcnow()
    for attempt in range(RECEIPT_MAX_ATTEMPTS):
        assert route_receipts(now=now + timedelta(hours=attempt)) == 1
    assert route_receipts(now=now + timedelta(days=1)) == 0  # nothing left to retry
    messages, receipts, quarantined = _state()
    assert receipts == [] and messages == []
    [row] = quarantined
    assert row.body == "Stuck"
    assert f"after {RECEIPT_MAX_ATTEMPTS} attempt(s): RuntimeError: routing blew up" in row.reason


# --- Status callbacks --------------------------------------------------------------------


def _sent_text(world, sid="SM" + "a" * 32, status=MessageStatus.QUEUED) -> Message:
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


def _status_form(message: Message, status: str, sid: str | None = None, **extra):
    sid = sid or message.twilio_sid
    return {
        "AccountSid": "AC00000000000000000000000000000000",
        "MessageSid": sid,
        "SmsSid": sid,
        "MessageStatus": status,
        "SmsStatus": status,
        "From": message.from_phone,
        "To": message.to_phone,
        **extra,
    }


@pytest.mark.parametrize("code", ["²", "12a", "1" * 30])
def test_an_error_code_that_is_not_a_number_keeps_the_status(client, signed_post, sms_world, code):
    message = _sent_text(sms_world)
    response = signed_post(client, STATUS, _status_form(message, "undelivered", ErrorCode=code))
    assert response.status_code == 204
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert (stored.status, stored.error_code) == (MessageStatus.UNDELIVERED, None)
    [row] = db.session.scalars(sa.select(UnroutedInbound)).all()
    assert row.channel == "status" and "ErrorCode" in row.reason


@pytest.mark.parametrize("marker", ["abc", "²", "1" * 30, "3000000000"])
def test_a_marker_that_is_not_an_id_is_ignored(client, signed_post, sms_world, marker):
    message = _sent_text(sms_world, sid=None, status=MessageStatus.SENDING)
    form = _status_form(message, "sent", sid="SM" + "b" * 32)
    assert signed_post(client, STATUS, form, query=f"mid={quote(marker)}").status_code == 204
    db.session.expire_all()
    assert db.session.get(Message, message.id).status == MessageStatus.SENDING


def test_a_status_sid_too_long_is_quarantined_and_changes_nothing(client, signed_post, sms_world):
    message = _sent_text(sms_world, sid=None, status=MessageStatus.SENDING)
    form = _status_form(message, "sent", sid="SM" + "b" * 98)
    response = signed_post(client, STATUS, form, query=f"mid={message.id}")
    assert response.status_code == 204
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert (stored.twilio_sid, stored.status) == (None, MessageStatus.SENDING)
    [row] = db.session.scalars(sa.select(UnroutedInbound)).all()
    assert "MessageSid is 100 characters long" in row.reason

"""Every /webhooks/twilio/* route checks X-Twilio-Signature: unsigned, wrongly signed or
tampered requests get 403 and store nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from app.extensions import db
from app.models import Message, MessageKind, MessageStatus, UnroutedInbound
from app.services.texting import queue_text

SMS = "/webhooks/twilio/sms"
STATUS = "/webhooks/twilio/status"


def _inbound_form(to="+15126660100") -> dict[str, str]:
    return {
        "MessageSid": "SM" + "1" * 32,
        "SmsSid": "SM" + "1" * 32,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": "+15125550101",
        "To": to,
        "Body": "Is 3pm OK?",
        "NumMedia": "0",
    }


def _status_form(message: Message) -> dict[str, str]:
    return {
        "MessageSid": message.twilio_sid,
        "MessageStatus": "delivered",
        "From": message.from_phone,
        "To": message.to_phone,
    }


def _queued(world) -> Message:
    message = queue_text(
        company=world.company, to_phone="+15125550101", body="hi", kind=MessageKind.MANUAL
    )
    message.twilio_sid = "SM" + "2" * 32
    message.status = MessageStatus.QUEUED
    db.session.commit()
    return message


def _nothing_stored(message: Message | None) -> None:
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(UnroutedInbound)) == 0
    inbound = db.session.scalar(sa.select(sa.func.count(Message.id)).filter_by(direction="in"))
    assert inbound == 0
    if message is not None:
        assert db.session.get(Message, message.id).status == MessageStatus.QUEUED


def _sign(app, path: str, form: dict[str, str], token: str | None = None, query: str = "") -> str:
    url = app.config["PUBLIC_BASE_URL"] + path + (f"?{query}" if query else "")
    return RequestValidator(token or app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)


CASES = ["unsigned", "wrong token", "tampered body", "other url", "query added", "empty"]


def _attack(app, case: str, path: str, form: dict[str, str]):
    headers = {}
    data = dict(form)
    target = path
    if case == "wrong token":
        headers["X-Twilio-Signature"] = _sign(app, path, form, token="someone-elses-token")
    elif case == "tampered body":
        headers["X-Twilio-Signature"] = _sign(app, path, form)
        key = "Body" if "Body" in data else "MessageStatus"
        data[key] = data[key] + " (changed)"
    elif case == "other url":
        headers["X-Twilio-Signature"] = RequestValidator(
            app.config["TWILIO_AUTH_TOKEN"]
        ).compute_signature("https://evil.example" + path, form)
    elif case == "query added":
        headers["X-Twilio-Signature"] = _sign(app, path, form)
        target = path + "?mid=1"
    elif case == "empty":
        headers["X-Twilio-Signature"] = ""
    return target, data, headers


@pytest.mark.parametrize("case", CASES)
def test_inbound_sms_without_a_valid_signature_is_403(app, client, sms_world, case):
    target, data, headers = _attack(app, case, SMS, _inbound_form())
    response = client.post(target, data=data, headers=headers)
    assert response.status_code == 403
    _nothing_stored(None)


@pytest.mark.parametrize("case", CASES)
def test_unknown_number_sms_without_a_valid_signature_stores_no_quarantine(
    app, client, sms_world, case
):
    target, data, headers = _attack(app, case, SMS, _inbound_form(to="+15129999999"))
    assert client.post(target, data=data, headers=headers).status_code == 403
    _nothing_stored(None)


@pytest.mark.parametrize("case", CASES)
def test_status_callback_without_a_valid_signature_is_403(app, client, sms_world, case):
    message = _queued(sms_world)
    target, data, headers = _attack(app, case, STATUS, _status_form(message))
    assert client.post(target, data=data, headers=headers).status_code == 403
    _nothing_stored(message)


def test_every_twilio_webhook_route_refuses_unsigned_requests(app, client, sms_world):
    # Every route Twilio POSTs to. (The one GET, a recorded greeting Twilio fetches for
    # <Play>, carries no signature at Twilio either: its unguessable file name is the key.)
    paths = sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/webhooks/twilio/") and "POST" in rule.methods
    )
    assert {SMS, STATUS, "/webhooks/twilio/voice"} <= set(paths)
    form = {"CallSid": "CA" + "3" * 32, "From": "+15125550101", "To": "+15126660100"}
    answers = {path: client.post(path, data=form).status_code for path in paths}
    assert answers == dict.fromkeys(paths, 403)
    _nothing_stored(None)


def test_correctly_signed_requests_pass(app, client, signed_post, sms_world):
    assert signed_post(client, SMS, _inbound_form()).status_code == 200
    message = _queued(sms_world)
    assert signed_post(client, STATUS, _status_form(message)).status_code == 204


def test_webhooks_need_no_csrf_token_or_login(app, client, signed_post, sms_world, csrf_enabled):
    assert signed_post(client, SMS, _inbound_form()).status_code == 200


def test_behind_a_proxy_the_request_url_is_what_is_signed(app, signed_post, sms_world):
    app.config["TRUST_PROXY"] = True
    try:
        public = "https://sms.example.com" + SMS
        client = app.test_client()
        form = _inbound_form()
        signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(
            public, form
        )
        response = client.post(
            SMS,
            data=form,
            base_url="https://sms.example.com",
            headers={"X-Twilio-Signature": signature},
        )
        assert response.status_code == 200
        # The same signature does not fit the PUBLIC_BASE_URL once TRUST_PROXY is off.
        app.config["TRUST_PROXY"] = False
        again = client.post(
            SMS,
            data=form,
            base_url="https://sms.example.com",
            headers={"X-Twilio-Signature": signature},
        )
        assert again.status_code == 403
    finally:
        app.config["TRUST_PROXY"] = False

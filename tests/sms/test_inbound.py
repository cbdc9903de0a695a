"""POST /webhooks/twilio/sms: find the company by To, the customer by From inside it,
store once per MessageSid, opt-out keywords, MMS as links, then routing."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from app.extensions import db
from app.models import (
    Conversation,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    OptOut,
    UnroutedInbound,
)
from app.services.inbound import HELP_KEYWORDS, OPT_IN_KEYWORDS, OPT_OUT_KEYWORDS
from app.services.texting import TextingUnavailable, queue_text, texting_blocker

SMS = "/webhooks/twilio/sms"
_sids = itertools.count(1)


def _form(body="Can you come at 3?", *, frm="+15125550101", to="+15126660100", sid=None, **extra):
    sid = sid or f"SM{next(_sids):032x}"
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": frm,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


def _inbound() -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Message).filter_by(direction="in")))


def test_text_is_stored_routed_and_answered_with_empty_twiml(client, signed_post, sms_world):
    response = signed_post(client, SMS, _form())
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.get_data(as_text=True) == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    [message] = _inbound()
    assert message.status == MessageStatus.RECEIVED
    assert message.kind == MessageKind.INBOUND
    assert message.body == "Can you come at 3?"
    assert message.company_id == sms_world.company.id
    assert message.conversation.customer_id == sms_world.customer.id
    assert message.conversation.last_message_at == message.created_at
    # Routed (rule 4): with no job and no Point of Contact, to the owner, with the reason.
    recipients = db.session.scalars(sa.select(MessageRecipient.user_id)).all()
    assert recipients == [sms_world.company.owner.id]
    assert message.routing_reason


def test_unknown_number_is_quarantined_once_and_answered_200(client, signed_post, sms_world):
    form = _form(to="+15129998877")
    for _ in range(3):
        assert signed_post(client, SMS, form).status_code == 200
    [row] = db.session.scalars(sa.select(UnroutedInbound)).all()
    assert (row.channel, row.from_phone, row.to_phone, row.body) == (
        "sms",
        "+15125550101",
        "+15129998877",
        "Can you come at 3?",
    )
    assert row.payload["MessageSid"] == form["MessageSid"]
    assert _inbound() == []


def test_customer_is_found_only_inside_the_company_texted(client, signed_post, sms_world, make):
    other = make.company("Other Plumbing")
    make.number(other, e164="+15126660200")
    theirs = make.customer(other, name="Same Number", phone="+15125550101")
    db.session.commit()
    signed_post(client, SMS, _form(to="+15126660200"))
    [message] = _inbound()
    assert message.company_id == other.id
    assert message.conversation.customer_id == theirs.id
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Conversation.id)).filter_by(company_id=sms_world.company.id)
        )
        == 0
    )


def test_unknown_sender_gets_an_unknown_number_conversation(client, signed_post, sms_world):
    signed_post(client, SMS, _form(frm="+15125550177"))
    [message] = _inbound()
    assert message.conversation.is_unknown_number
    assert message.routing_reason


def test_same_message_sid_5_times_in_a_row_is_stored_once(client, signed_post, sms_world):
    form = _form()
    answers = [signed_post(client, SMS, form).status_code for _ in range(5)]
    assert answers == [200] * 5
    assert len(_inbound()) == 1
    assert db.session.scalar(sa.select(sa.func.count(MessageRecipient.id))) == 1


@pytest.mark.postgres
def test_same_message_sid_20_times_concurrently_is_stored_once_without_5xx(
    app, live_server, sms_world, is_postgres
):
    form = _form(body="Fallback URL and retries at once")
    url = app.config["PUBLIC_BASE_URL"] + SMS
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)
    barrier = threading.Barrier(20)

    def deliver(_):
        barrier.wait()
        return requests.post(
            live_server.url + SMS, data=form, headers={"X-Twilio-Signature": signature}, timeout=30
        ).status_code

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(deliver, range(20)))
    assert answers == [200] * 20
    assert len(_inbound()) == 1
    assert db.session.scalar(sa.select(sa.func.count(MessageRecipient.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Conversation.id))) == 1


@pytest.mark.parametrize(
    "body", [*sorted(OPT_OUT_KEYWORDS), "stop", " Stop ", "\tunsubscribe\n", "OptOut"]
)
def test_opt_out_keywords_opt_the_customer_out(client, signed_post, sms_world, body):
    signed_post(client, SMS, _form(body))
    [opt_out] = db.session.scalars(sa.select(OptOut)).all()
    assert (opt_out.company_id, opt_out.phone, opt_out.source) == (
        sms_world.company.id,
        "+15125550101",
        "keyword",
    )
    assert opt_out.keyword == body.strip().upper()
    blocker = texting_blocker(company=sms_world.company, phone="+15125550101")
    assert blocker is not None and blocker.reason == TextingUnavailable.OPTED_OUT
    with pytest.raises(TextingUnavailable):
        queue_text(
            company=sms_world.company, to_phone="+15125550101", body="x", kind=MessageKind.MANUAL
        )
    # The STOP itself is kept in the conversation, so the office sees it.
    [message] = _inbound()
    assert message.extra["keyword"] == body.strip().upper()


@pytest.mark.parametrize("word", [*sorted(OPT_IN_KEYWORDS), "start "])
def test_start_unstop_yes_opt_back_in(client, signed_post, sms_world, word):
    signed_post(client, SMS, _form("STOP"))
    assert db.session.scalars(sa.select(OptOut)).all()
    signed_post(client, SMS, _form(word))
    db.session.expire_all()
    assert db.session.scalars(sa.select(OptOut)).all() == []
    assert texting_blocker(company=sms_world.company, phone="+15125550101") is None


def test_opt_out_only_affects_the_company_texted(client, signed_post, sms_world, make):
    other = make.company("Other Plumbing")
    make.number(other, e164="+15126660200")
    db.session.commit()
    signed_post(client, SMS, _form("STOP", to="+15126660200"))
    assert texting_blocker(company=sms_world.company, phone="+15125550101") is None
    assert texting_blocker(company=other, phone="+15125550101") is not None


@pytest.mark.parametrize(
    "body",
    ["please cancel tuesday", "stop by at 3", "STOP.", "Yes please", "end of the day works", ""],
)
def test_ordinary_messages_are_not_keywords(client, signed_post, sms_world, body):
    signed_post(client, SMS, _form(body, NumMedia="0"))
    assert db.session.scalars(sa.select(OptOut)).all() == []
    [message] = _inbound()
    assert "keyword" not in message.extra


@pytest.mark.parametrize("word", sorted(HELP_KEYWORDS))
def test_help_and_info_are_recorded_without_opting_out(client, signed_post, sms_world, word):
    signed_post(client, SMS, _form(word.lower()))
    [message] = _inbound()
    assert message.extra["keyword"] == word
    assert db.session.scalars(sa.select(OptOut)).all() == []


def test_mms_media_are_kept_as_links(client, signed_post, sms_world, fake):
    form = _form(
        "Here is the leak",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME2",
        MediaContentType1="image/png",
    )
    assert signed_post(client, SMS, form).status_code == 200
    [message] = _inbound()
    assert message.media_urls == [form["MediaUrl0"], form["MediaUrl1"]]
    assert message.extra["media"] == [
        {"url": form["MediaUrl0"], "content_type": "image/jpeg"},
        {"url": form["MediaUrl1"], "content_type": "image/png"},
    ]
    assert fake.requests == []  # nothing was fetched


def test_missing_fields_are_400_and_store_nothing(client, signed_post, sms_world):
    form = _form()
    form.pop("MessageSid")
    form.pop("SmsSid")
    assert signed_post(client, SMS, form).status_code == 400
    assert _inbound() == []


def test_fake_twilio_delivers_a_text_from_a_phone_signed(app, sms_world, fake):
    result = fake.send_inbound_sms(from_="+15125550101", to="+15126660100", body="On my porch")
    assert result.status == 200
    assert result.url == app.config["PUBLIC_BASE_URL"] + SMS
    [message] = _inbound()
    assert message.twilio_sid == result.form["MessageSid"]

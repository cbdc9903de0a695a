"""POST /webhooks/twilio/sms: find the company by To, the customer by From inside it,
store once per MessageSid, opt-out keywords, MMS as links, then routing."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from app.extensions import db
from app.models import (
    Conversation,
    InboundReceipt,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    OptOut,
    UnroutedInbound,
    utcnow,
)
from app.services.inbound import (
    HELP_KEYWORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    route_receipts,
)
from app.services.texting import TextingUnavailable, queue_text, texting_blocker
from app.worker.dispatcher import _wake_event
from tests.fixtures.sms import route_received

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


def test_text_is_stored_routed_and_answered_with_empty_twiml(client, text_in, sms_world):
    response = text_in(client, SMS, _form())
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


def test_the_webhook_only_keeps_a_receipt_and_wakes_the_worker(app, client, signed_post, sms_world):
    _wake_event.clear()
    form = _form("Is 3pm still good?")
    before = utcnow()
    response = signed_post(client, SMS, form)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    assert _wake_event.is_set()  # the development server's worker thread starts at once
    assert _inbound() == []
    [receipt] = db.session.scalars(sa.select(InboundReceipt)).all()
    assert receipt.twilio_sid == form["MessageSid"]
    assert receipt.payload == form
    assert before <= receipt.received_at == receipt.next_attempt_at <= utcnow()

    # The worker stores and routes it, dated when Twilio delivered it, and drops the receipt.
    assert route_receipts(now=utcnow()) == 1
    [message] = _inbound()
    assert message.created_at == receipt.received_at
    assert message.conversation.last_message_at == receipt.received_at
    assert message.routing_reason
    assert db.session.scalars(sa.select(InboundReceipt)).all() == []
    assert route_receipts(now=utcnow()) == 0


def test_the_webhook_commits_its_receipt_in_one_statement(
    client, signed_post, sms_world, is_postgres
):
    # A single INSERT is atomic by itself: BEGIN and COMMIT would be two more round trips
    # to the database on the busiest request the app serves.
    traced: list[str] = []

    def trace(dbapi_connection, connection_record, connection_proxy):
        if not is_postgres:
            dbapi_connection.set_trace_callback(traced.append)

    sa.event.listen(db.engine, "checkout", trace)
    try:
        assert signed_post(client, SMS, _form("One statement")).status_code == 200
    finally:
        sa.event.remove(db.engine, "checkout", trace)
        if not is_postgres:
            with db.engine.connect() as connection:
                connection.connection.dbapi_connection.set_trace_callback(None)
    if not is_postgres:  # (PostgreSQL's driver has no statement trace to read here)
        # (The PRAGMA puts the connection back in its default isolation level, in-process.)
        assert [s.split()[0] for s in traced if not s.startswith("PRAGMA")] == ["INSERT"]
    # Committed when the webhook answered: another connection sees it.
    outside = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    with outside.connect() as connection:
        sids = connection.scalars(sa.select(InboundReceipt.twilio_sid)).all()
    outside.dispose()
    assert len(sids) == 1


def test_the_outbox_worker_routes_received_texts_before_sending(
    client, signed_post, sms_world, dispatcher
):
    signed_post(client, SMS, _form("STOP"))
    queue_text(company=sms_world.company, to_phone="+15125550101", body="Reminder", kind="manual")
    db.session.commit()
    # The queued text and the opt-out confirmation the STOP produced.
    assert dispatcher().run_once() == 2
    [message] = _inbound()
    assert message.extra["keyword"] == "STOP"
    # The STOP was recorded before the claim, so the queued text was not sent...
    sent = db.session.scalars(sa.select(Message).filter_by(direction="out", kind="manual")).one()
    assert sent.status == MessageStatus.CANCELED
    # ...and the one confirmation was.
    confirmation = db.session.scalars(
        sa.select(Message).filter_by(kind=MessageKind.OPT_OUT_CONFIRMATION)
    ).one()
    assert confirmation.status == MessageStatus.QUEUED


def test_a_receipt_that_fails_is_kept_for_later_and_holds_up_no_other(
    client, signed_post, sms_world, monkeypatch
):
    from app.services import inbound

    real_receive = inbound.receive_sms
    bad, good = _form("Breaks routing"), _form("Fine")

    def receive(*, form, received_at=None):
        if form["MessageSid"] == bad["MessageSid"]:
            raise RuntimeError("routing blew up")
        return real_receive(form=form, received_at=received_at)

    monkeypatch.setattr(inbound, "receive_sms", receive)
    signed_post(client, SMS, bad)
    signed_post(client, SMS, good)
    now = utcnow()
    assert route_receipts(now=now) == 2
    assert [m.body for m in _inbound()] == ["Fine"]
    [kept] = db.session.scalars(sa.select(InboundReceipt)).all()
    assert kept.twilio_sid == bad["MessageSid"]
    assert (kept.attempts, kept.last_error) == (1, "RuntimeError: routing blew up")
    assert kept.next_attempt_at == now + timedelta(seconds=5)
    assert route_receipts(now=now + timedelta(seconds=4)) == 0  # not due yet
    assert route_receipts(now=now + timedelta(seconds=5)) == 1
    assert kept.attempts == 2
    assert kept.next_attempt_at == now + timedelta(seconds=15)  # backing off

    monkeypatch.setattr(inbound, "receive_sms", real_receive)  # fixed and redeployed
    assert route_receipts(now=now + timedelta(seconds=15)) == 1
    assert sorted(m.body for m in _inbound()) == ["Breaks routing", "Fine"]
    assert db.session.scalars(sa.select(InboundReceipt)).all() == []


@pytest.mark.postgres
def test_two_workers_route_300_texts_each_once(app, client, signed_post, sms_world, is_postgres):
    forms = [_form(f"Text {n}") for n in range(300)]
    for form in forms:
        assert signed_post(client, SMS, form).status_code == 200
    start = threading.Barrier(2)

    def work() -> int:
        with app.app_context():
            start.wait()
            taken = 0
            while batch := route_receipts(now=utcnow(), limit=10):
                taken += batch
            return taken

    with ThreadPoolExecutor(max_workers=2) as pool:
        taken = list(pool.map(lambda _: work(), range(2)))
    assert sum(taken) == 300 and min(taken) > 0  # both worked, none twice
    bodies = sorted(m.body for m in _inbound())
    assert bodies == sorted(f"Text {n}" for n in range(300))
    assert db.session.scalar(sa.select(sa.func.count(MessageRecipient.id))) == 300
    assert db.session.scalar(sa.select(sa.func.count(InboundReceipt.id))) == 0


def test_unknown_number_is_quarantined_once_and_answered_200(client, text_in, sms_world):
    form = _form(to="+15129998877")
    for _ in range(3):
        assert text_in(client, SMS, form).status_code == 200
    [row] = db.session.scalars(sa.select(UnroutedInbound)).all()
    assert (row.channel, row.from_phone, row.to_phone, row.body) == (
        "sms",
        "+15125550101",
        "+15129998877",
        "Can you come at 3?",
    )
    assert row.payload["MessageSid"] == form["MessageSid"]
    assert _inbound() == []


def test_customer_is_found_only_inside_the_company_texted(client, text_in, sms_world, make):
    other = make.company("Other Plumbing")
    make.number(other, e164="+15126660200")
    theirs = make.customer(other, name="Same Number", phone="+15125550101")
    db.session.commit()
    text_in(client, SMS, _form(to="+15126660200"))
    [message] = _inbound()
    assert message.company_id == other.id
    assert message.conversation.customer_id == theirs.id
    assert (
        db.session.scalar(
            sa.select(sa.func.count(Conversation.id)).filter_by(company_id=sms_world.company.id)
        )
        == 0
    )


def test_unknown_sender_gets_an_unknown_number_conversation(client, text_in, sms_world):
    text_in(client, SMS, _form(frm="+15125550177"))
    [message] = _inbound()
    assert message.conversation.is_unknown_number
    assert message.routing_reason


def test_same_message_sid_5_times_in_a_row_is_stored_once(client, text_in, sms_world):
    form = _form()
    answers = [text_in(client, SMS, form).status_code for _ in range(5)]
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
    assert db.session.scalar(sa.select(sa.func.count(InboundReceipt.id))) == 1
    route_received()
    assert len(_inbound()) == 1
    assert db.session.scalar(sa.select(sa.func.count(MessageRecipient.id))) == 1
    assert db.session.scalar(sa.select(sa.func.count(Conversation.id))) == 1


@pytest.mark.parametrize(
    "body", [*sorted(OPT_OUT_KEYWORDS), "stop", " Stop ", "\tunsubscribe\n", "OptOut"]
)
def test_opt_out_keywords_opt_the_customer_out(client, text_in, sms_world, body):
    text_in(client, SMS, _form(body))
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
def test_start_unstop_yes_opt_back_in(client, text_in, sms_world, word):
    text_in(client, SMS, _form("STOP"))
    assert db.session.scalars(sa.select(OptOut)).all()
    text_in(client, SMS, _form(word))
    db.session.expire_all()
    assert db.session.scalars(sa.select(OptOut)).all() == []
    assert texting_blocker(company=sms_world.company, phone="+15125550101") is None


def test_opt_out_only_affects_the_company_texted(client, text_in, sms_world, make):
    other = make.company("Other Plumbing")
    make.number(other, e164="+15126660200")
    db.session.commit()
    text_in(client, SMS, _form("STOP", to="+15126660200"))
    assert texting_blocker(company=sms_world.company, phone="+15125550101") is None
    assert texting_blocker(company=other, phone="+15125550101") is not None


@pytest.mark.parametrize(
    "body",
    # ("STOP." is a keyword now that punctuation is normalised: tests/services/test_opt_outs.py)
    ["please cancel tuesday", "stop by at 3", "Yes please", "end of the day works", ""],
)
def test_ordinary_messages_are_not_keywords(client, text_in, sms_world, body):
    text_in(client, SMS, _form(body, NumMedia="0"))
    assert db.session.scalars(sa.select(OptOut)).all() == []
    [message] = _inbound()
    assert "keyword" not in message.extra


@pytest.mark.parametrize("word", sorted(HELP_KEYWORDS))
def test_help_and_info_are_recorded_without_opting_out(client, text_in, sms_world, word):
    text_in(client, SMS, _form(word.lower()))
    [message] = _inbound()
    assert message.extra["keyword"] == word
    assert db.session.scalars(sa.select(OptOut)).all() == []


def test_mms_media_are_kept_as_links(client, text_in, sms_world, fake):
    form = _form(
        "Here is the leak",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM1/Media/ME2",
        MediaContentType1="image/png",
    )
    assert text_in(client, SMS, form).status_code == 200
    [message] = _inbound()
    assert message.media_urls == [form["MediaUrl0"], form["MediaUrl1"]]
    assert message.extra["media"] == [
        {"url": form["MediaUrl0"], "content_type": "image/jpeg"},
        {"url": form["MediaUrl1"], "content_type": "image/png"},
    ]
    assert fake.requests == []  # nothing was fetched


def test_missing_fields_are_400_and_store_nothing(client, text_in, sms_world):
    form = _form()
    form.pop("MessageSid")
    form.pop("SmsSid")
    assert text_in(client, SMS, form).status_code == 400
    assert _inbound() == []


def test_fake_twilio_delivers_a_text_from_a_phone_signed(app, sms_world, fake):
    result = fake.send_inbound_sms(from_="+15125550101", to="+15126660100", body="On my porch")
    assert result.status == 200
    assert result.url == app.config["PUBLIC_BASE_URL"] + SMS
    route_received()
    [message] = _inbound()
    assert message.twilio_sid == result.form["MessageSid"]


def test_texts_arriving_while_the_worker_routes_are_all_routed_without_errors(
    app, live_server, sms_world, caplog
):
    """`make run` on SQLite: webhooks commit receipts while the worker thread routes (the
    worker's transactions take the write lock up front instead of failing on it)."""
    url = live_server.url + SMS
    forms = [_form(f"Arriving {n}") for n in range(60)]
    validator = RequestValidator(app.config["TWILIO_AUTH_TOKEN"])
    stop = threading.Event()
    errors: list[BaseException] = []

    def work() -> None:
        with app.app_context():
            while not stop.is_set():
                try:
                    route_receipts(now=utcnow())
                except Exception as error:  # what the dispatcher would log and retry
                    errors.append(error)
                    db.session.rollback()

    def deliver(form) -> int:
        signature = validator.compute_signature(app.config["PUBLIC_BASE_URL"] + SMS, form)
        return requests.post(
            url, data=form, headers={"X-Twilio-Signature": signature}, timeout=30
        ).status_code

    worker = threading.Thread(target=work)
    worker.start()
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            answers = list(pool.map(deliver, forms))
    finally:
        stop.set()
        worker.join(timeout=30)
    route_received()
    assert answers == [200] * 60
    assert errors == []
    assert "failed" not in caplog.text
    assert sorted(m.body for m in _inbound()) == sorted(f["Body"] for f in forms)


@pytest.mark.postgres
def test_a_connection_the_database_dropped_costs_no_text(
    app, client, signed_post, sms_world, is_postgres
):
    """No ping before each checkout: the SMS webhook itself retries once on a connection
    PostgreSQL closed (a restart or failover), instead of answering 500."""
    assert signed_post(client, SMS, _form("Warm the pool")).status_code == 200
    db.session.close()
    outside = sa.create_engine(db.engine.url, poolclass=sa.pool.NullPool)
    with outside.connect() as admin:
        [[killed]] = admin.exec_driver_sql(
            "select count(pg_terminate_backend(pid)) from pg_stat_activity "
            "where datname = current_database() and pid <> pg_backend_pid()"
        )
    outside.dispose()
    assert killed >= 1  # the pool's connections are gone
    response = signed_post(client, SMS, _form("After the restart"))
    assert response.status_code == 200
    route_received()
    assert sorted(m.body for m in _inbound()) == ["After the restart", "Warm the pool"]

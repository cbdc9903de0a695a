"""The outbox under faults: Twilio down, rate limited, refusing, answers lost, the
dispatcher killed, two dispatchers racing. Each test checks the books: every text sent
exactly once, none lost, none twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Message, MessageKind, MessageStatus, OptOut
from app.services.first_contact import FOOTER
from app.services.texting import TextingUnavailable, queue_text
from app.worker.dispatcher import DEFAULT_LEASE, RECONCILE_DELAY

ROOT = Path(__file__).resolve().parents[2]


def _queue_many(world, count: int, prefix: str = "Text") -> list[int]:
    ids = []
    for n in range(count):
        message = queue_text(
            company=world.company,
            to_phone=world.customer.mobile_phone,
            body=f"{prefix} #{n:04d}",
            kind=MessageKind.MANUAL,
            customer=world.customer,
        )
        ids.append(message.id)
    db.session.commit()
    return ids


def _books(fake, expected_bodies: set[str]) -> None:
    """Twilio accepted each expected text exactly once, and each stored message carries
    the SID Twilio gave that very text."""
    # The first text to the number carries the opt-out footer (app/services/first_contact.py).
    accepted = Counter(m.body.removesuffix(FOOTER) for m in fake.outbound())
    assert set(accepted) == expected_bodies
    assert max(accepted.values()) == 1
    db.session.expire_all()
    by_body = {m.body: m.sid for m in fake.outbound()}
    rows = db.session.scalars(sa.select(Message)).all()
    assert len(rows) == len(expected_bodies)
    for row in rows:
        assert row.status == MessageStatus.QUEUED, (row.id, row.status, row.error_message)
        assert row.twilio_sid == by_body[row.body]
        assert row.claimed_until is None and row.reconcile_since is None


def test_500_for_first_60s_with_100_queued_sends_each_exactly_once(
    sms_world, fake, over_http, clock, dispatcher
):
    _queue_many(sms_world, 100)
    start = clock()
    recovers_at = start + timedelta(seconds=60)
    fake.fail_until(recovers_at, status=500)
    worker = dispatcher(concurrency=8)

    while clock() < start + timedelta(minutes=5):
        worker.run_once()
        if clock() < recovers_at:
            assert fake.outbound() == [], "nothing may be accepted while Twilio answers 500"
        clock.advance(1)
        if len(fake.outbound()) == 100:
            break

    posts = fake.message_requests()
    failures = [r for r in posts if r.status == 500]
    assert len(failures) >= 100 * 4  # each text tried at 0, ~2, ~6, ~14, ~30 s (and more)
    assert len([r for r in posts if r.status == 201]) == 100
    _books(fake, {f"Text #{n:04d}" for n in range(100)})
    # Capped exponential backoff: recovered within a minute after Twilio did.
    assert clock() <= recovers_at + timedelta(seconds=60)


def test_429_retry_after_30s_is_honoured(sms_world, fake, over_http, clock, dispatcher):
    [message_id] = _queue_many(sms_world, 1)
    fake.fail_next(1, status=429, retry_after=30)
    worker = dispatcher()
    worker.run_once()
    db.session.expire_all()
    waiting = db.session.get(Message, message_id)
    assert waiting.status == MessageStatus.PENDING
    assert waiting.next_attempt_at == clock() + timedelta(seconds=30)
    assert "slow down" in waiting.error_message

    clock.advance(29)
    assert worker.run_once() == 0
    assert len(fake.message_requests()) == 1
    clock.advance(1)
    assert worker.run_once() == 1
    assert [r.status for r in fake.message_requests()] == [429, 201]
    _books(fake, {"Text #0000"})


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (21610, "opted out"),
        (21211, "not a valid phone number"),
        (21614, "landline"),
        (21408, "not enabled"),
        (21999, "error 21999"),
    ],
)
def test_permanent_refusal_fails_once_with_the_reason(
    sms_world, fake, over_http, clock, dispatcher, code, words
):
    [message_id] = _queue_many(sms_world, 1)
    fake.refuse_number(sms_world.customer.mobile_phone, code)
    worker = dispatcher()
    worker.run_once()
    clock.advance(3600)
    worker.run_once()
    assert len(fake.message_requests()) == 1  # never retried
    db.session.expire_all()
    failed = db.session.get(Message, message_id)
    assert failed.status == MessageStatus.FAILED
    assert failed.error_code == code
    assert words in failed.error_message
    opt_outs = db.session.scalars(sa.select(OptOut)).all()
    if code == 21610:
        assert [(o.phone, o.source) for o in opt_outs] == [("+15125550101", "carrier")]
        with pytest.raises(TextingUnavailable):
            queue_text(
                company=sms_world.company,
                to_phone="+15125550101",
                body="again?",
                kind=MessageKind.MANUAL,
            )
    else:
        assert opt_outs == []


def test_opted_out_after_queueing_is_never_sent(sms_world, fake, clock, dispatcher):
    [message_id] = _queue_many(sms_world, 1)
    db.session.add(OptOut(company_id=sms_world.company.id, phone="+15125550101", keyword="STOP"))
    db.session.commit()
    dispatcher().run_once()
    assert fake.message_requests() == []
    db.session.expire_all()
    withheld = db.session.get(Message, message_id)
    assert withheld.status == MessageStatus.CANCELED
    assert "opted out" in withheld.error_message


def test_answer_lost_after_twilio_accepted_is_reconciled_not_resent(
    sms_world, fake, over_http, clock, dispatcher
):
    [message_id] = _queue_many(sms_world, 1)
    fake.drop_next(1, after_accept=True)
    worker = dispatcher()
    worker.run_once()
    db.session.expire_all()
    unsure = db.session.get(Message, message_id)
    assert unsure.status == MessageStatus.PENDING
    assert unsure.reconcile_since is not None
    assert len(fake.outbound()) == 1

    clock.advance(RECONCILE_DELAY.total_seconds())
    worker.run_once()
    assert len(fake.message_requests()) == 1  # looked up, not sent again
    lookups = [r for r in fake.requests if r.method == "GET" and r.path.endswith("Messages.json")]
    assert len(lookups) == 1
    assert dict(lookups[0].query)["To"] == "+15125550101"
    _books(fake, {"Text #0000"})


def test_answer_lost_before_twilio_got_it_is_sent_after_checking(
    sms_world, fake, over_http, clock, dispatcher
):
    _queue_many(sms_world, 1)
    fake.drop_next(1)
    worker = dispatcher()
    worker.run_once()
    assert fake.outbound() == []
    clock.advance(RECONCILE_DELAY.total_seconds())
    worker.run_once()
    assert len(fake.message_requests()) == 2
    _books(fake, {"Text #0000"})


def test_timeout_after_sending_is_reconciled(app, sms_world, fake, over_http, clock, dispatcher):
    _queue_many(sms_world, 3)
    fake.set_latency(1.0)
    app.config["TWILIO_HTTP_TIMEOUT"] = 0.3
    try:
        dispatcher(concurrency=3).run_once()
    finally:
        app.config.pop("TWILIO_HTTP_TIMEOUT")
    fake.set_latency(0)
    assert len(fake.outbound()) == 3
    clock.advance(RECONCILE_DELAY.total_seconds())
    dispatcher().run_once()
    assert len(fake.message_requests()) == 3
    _books(fake, {f"Text #{n:04d}" for n in range(3)})


def test_dispatcher_killed_mid_batch_then_restarted_nothing_lost_or_duplicated(
    app, sms_world, fake, over_http, clock, dispatcher
):
    bodies = {f"Text #{n:04d}" for n in range(40)}
    _queue_many(sms_world, 40)
    # Twilio takes 0.3 s to answer: the worker is killed with sends in flight whose
    # texts Twilio already accepted but whose SIDs were never recorded.
    fake.set_latency(0.3)
    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "TWILIO_FAKE": "1",
        "TWILIO_API_BASE_URL": over_http,
        "PUBLIC_BASE_URL": app.config["PUBLIC_BASE_URL"],
        "OUTBOX_THREAD": "0",
        "LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "outbox", "work", "--concurrency", "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while len(fake.outbound()) < 10 and time.monotonic() < deadline:
            assert worker.poll() is None, worker.stderr.read().decode()
            time.sleep(0.02)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    fake.set_latency(0)

    db.session.expire_all()
    states = Counter(m.status for m in db.session.scalars(sa.select(Message)))
    assert states[MessageStatus.SENDING] > 0, states  # killed mid-send
    assert states[MessageStatus.PENDING] > 0, states  # and mid-batch
    accepted_before = len(fake.outbound())

    # A new dispatcher, once the dead one's lease has run out.
    clock.advance((DEFAULT_LEASE + timedelta(minutes=1)).total_seconds())
    dispatcher(concurrency=4).run_once()
    clock.advance(60)
    dispatcher(concurrency=4).run_once()

    _books(fake, bodies)
    resent = len(fake.message_requests()) - accepted_before
    assert resent == 40 - accepted_before


def _two_dispatchers(world, fake, dispatcher, count: int) -> None:
    bodies = {f"Text #{n:04d}" for n in range(count)}
    _queue_many(world, count)
    first, second = dispatcher(concurrency=6), dispatcher(concurrency=6)
    done: dict[str, int] = {}

    def run(name, worker):
        done[name] = worker.run_once()

    threads = [
        threading.Thread(target=run, args=("first", first)),
        threading.Thread(target=run, args=("second", second)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert done["first"] + done["second"] == count
    assert done["first"] > 0 and done["second"] > 0, done  # both really took part
    assert len(fake.message_requests()) == count
    _books(fake, bodies)


@pytest.mark.postgres
@pytest.mark.slow
def test_two_dispatchers_1000_messages_each_sent_once(sms_world, fake, clock, dispatcher):
    _two_dispatchers(sms_world, fake, dispatcher, 1000)


def test_two_dispatchers_200_messages_each_sent_once_on_any_database(
    sms_world, fake, clock, dispatcher
):
    _two_dispatchers(sms_world, fake, dispatcher, 200)


def test_one_slow_twilio_answer_does_not_stall_the_other_10_texts(
    sms_world, make, fake, over_http, clock, dispatcher
):
    slow = make.customer(sms_world.company, name="Slow Line", phone="+15125550150")
    db.session.commit()
    slow_id = queue_text(
        company=sms_world.company, to_phone=slow.mobile_phone, body="slow", kind=MessageKind.MANUAL
    ).id
    db.session.commit()
    fast_ids = _queue_many(sms_world, 10)
    # Long enough for ten sends over loopback on a busy machine, short enough to wait out.
    fake.set_latency(3.0, to=slow.mobile_phone)
    worker = dispatcher(concurrency=4)
    runner = threading.Thread(target=worker.run_once)
    started = time.monotonic()
    runner.start()
    try:
        while True:
            db.session.expire_all()
            statuses = {
                m.id: m.status
                for m in db.session.scalars(sa.select(Message).where(Message.id.in_(fast_ids)))
            }
            if all(status == MessageStatus.QUEUED for status in statuses.values()):
                break
            assert time.monotonic() - started < 15, statuses
            time.sleep(0.05)
        # All ten went while the slow answer was still outstanding.
        assert db.session.get(Message, slow_id).status == MessageStatus.SENDING
        assert time.monotonic() - started < 3
    finally:
        runner.join(timeout=30)
    db.session.expire_all()
    assert db.session.get(Message, slow_id).status == MessageStatus.QUEUED

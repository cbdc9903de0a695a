"""`flask outbox work`: --once for cron-like use, and a clean stop on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from app.extensions import db
from app.models import Message, MessageKind, MessageStatus
from app.services.texting import queue_text

ROOT = Path(__file__).resolve().parents[2]


def test_outbox_work_once_sends_what_is_due(runner, sms_world, fake):
    message = queue_text(
        company=sms_world.company,
        to_phone=sms_world.customer.mobile_phone,
        body="Sent by the CLI",
        kind=MessageKind.MANUAL,
    )
    db.session.commit()
    result = runner.invoke(args=["outbox", "work", "--once", "--concurrency", "2"])
    assert result.exit_code == 0, result.output
    assert "Attempted 1 text(s)." in result.output
    [sent] = fake.outbound()
    assert sent.body == "Sent by the CLI Reply STOP to opt out."  # a first contact
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert (stored.status, stored.twilio_sid) == (MessageStatus.QUEUED, sent.sid)


def test_outbox_work_stops_cleanly_on_sigterm(app, tmp_path):
    env = {
        **os.environ,
        "FLASK_APP": "wsgi.py",
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "TWILIO_FAKE": "1",
        "LOG_LEVEL": "WARNING",
    }
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "outbox", "work"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        first = worker.stdout.readline()
        assert "Outbox worker running" in first, first
        assert time.monotonic() < deadline
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
        rest = worker.stdout.read()
        assert "finishing texts in flight" in rest
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()

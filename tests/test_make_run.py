"""The README's first command: `make run` on a fresh clone serves the login page, and its
worker thread routes a customer's text the moment the webhook has kept it.

This clones the committed HEAD into a temporary folder, runs `make run` there exactly as a
new user would (it creates its own .venv and installs from the package index), and waits
for the login page. How long that took is printed; the README records the figure.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from twilio.request_validator import RequestValidator

from app.config import FAKE_TWILIO_AUTH_TOKEN

ROOT = Path(__file__).resolve().parent.parent
LIMIT_SECONDS = 300  # generous: a hang is a failure, the speed is measured, not asserted


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.fresh_clone
@pytest.mark.slow
def test_make_run_on_a_fresh_clone_serves_the_login_page(tmp_path):
    clone = tmp_path / "prosms"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    port = _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_URL", "TEST_DATABASE_URL", "TWILIO_", "VIRTUAL_ENV"))
        and key not in {"FLASK_APP", "PUBLIC_BASE_URL", "APP_ENV", "SECRET_KEY"}
    }
    log = (tmp_path / "make-run.log").open("w")
    started = time.monotonic()
    process = subprocess.Popen(
        ["make", "run", f"PORT={port}"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        body = ""
        while time.monotonic() - started < LIMIT_SECONDS:
            assert process.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    body = r.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        elapsed = time.monotonic() - started
        print(f"make run served /login after {elapsed:.1f} s")
        assert "Log in" in body, (tmp_path / "make-run.log").read_text()[-3000:]
        output = (tmp_path / "make-run.log").read_text()
        assert "owner@example.com" in output  # the demo logins are printed
        _a_customer_text_is_routed_by_the_worker_thread(clone / "instance" / "prosms.sqlite3", port)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _a_customer_text_is_routed_by_the_worker_thread(database: Path, port: int) -> None:
    with sqlite3.connect(database) as conn:
        [number] = conn.execute("select e164 from phone_numbers").fetchone()
        [phone] = conn.execute("select mobile_phone from customers order by id").fetchone()
    form = {"MessageSid": "SM" + "f" * 32, "From": phone, "To": number, "Body": "Hi from make"}
    # Without PUBLIC_BASE_URL, `make run` derives it from HOST/PORT; Twilio signatures are
    # checked against it.
    signature = RequestValidator(FAKE_TWILIO_AUTH_TOKEN).compute_signature(
        f"http://127.0.0.1:{port}/webhooks/twilio/sms", form
    )
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/twilio/sms",
        data=urllib.parse.urlencode(form).encode(),
        headers={"X-Twilio-Signature": signature},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    deadline = time.monotonic() + 10
    routed = None
    while routed is None and time.monotonic() < deadline:
        time.sleep(0.1)
        with sqlite3.connect(database) as conn:
            routed = conn.execute(
                "select routing_reason from messages where twilio_sid = ?", (form["MessageSid"],)
            ).fetchone()
    assert routed is not None and routed[0], "the worker thread did not route the text"

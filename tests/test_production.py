"""Production footing (docs/production.md): the guard rails of APP_ENV=production, the
Procfile and gunicorn.conf.py, and gunicorn really serving wsgi:app with two workers
against PostgreSQL."""

from __future__ import annotations

import os
import re
import runpy
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from app import create_app
from app.config import (
    DEV_SECRET_KEY,
    FAKE_TWILIO_ACCOUNT_SID,
    FAKE_TWILIO_AUTH_TOKEN,
    UnsafeConfiguration,
    load_config,
)
from app.extensions import db
from app.models import InboundReceipt, UnroutedInbound
from app.worker import dispatcher

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent

PRODUCTION_ENV = {
    "APP_ENV": "production",
    "SECRET_KEY": secrets.token_hex(32),
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "a-real-looking-token",
    "DATABASE_URL": "postgresql://app@db.internal/prosms",
    "PUBLIC_BASE_URL": "https://sms.example.com",
    "SMTP_HOST": "smtp.example.com",
}
APP_ENV_NAMES = (
    *PRODUCTION_ENV,
    "TWILIO_FAKE",
    "ALLOW_FAKE_TWILIO_IN_PRODUCTION",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_FAKE",
    "ALLOW_FAKE_STRIPE_IN_PRODUCTION",
    "WEB_PUSH_FAKE",
    "OUTBOX_THREAD",
    "RATELIMIT_STORAGE_URI",
    "TRUST_PROXY",
)


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    """A production environment (real-looking credentials), nothing from the host's."""
    for name in APP_ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    for name, value in PRODUCTION_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("UPLOAD_FOLDER", str(tmp_path / "uploads"))
    return monkeypatch


# --- guard rails, read from the environment as gunicorn's workers do ---------------------


def test_production_environment_starts_with_real_settings(production_env):
    app = create_app()
    assert app.config["ENV_NAME"] == "production"
    assert app.config["TWILIO_FAKE"] is False
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")
    assert app.config["SESSION_COOKIE_SECURE"] is True  # an https public URL
    assert "dev" not in app.blueprints  # no phone simulator without the fake Twilio


@pytest.mark.parametrize("secret", [None, "", DEV_SECRET_KEY])
def test_production_refuses_a_missing_or_development_secret_key(production_env, secret):
    if secret is None:
        production_env.delenv("SECRET_KEY")
    else:
        production_env.setenv("SECRET_KEY", secret)
    with pytest.raises(UnsafeConfiguration, match="SECRET_KEY"):
        create_app()


def test_production_without_twilio_credentials_refuses_the_fake(production_env):
    production_env.delenv("TWILIO_ACCOUNT_SID")
    production_env.delenv("TWILIO_AUTH_TOKEN")
    with pytest.raises(UnsafeConfiguration, match="fake Twilio"):
        create_app()
    production_env.setenv("ALLOW_FAKE_TWILIO_IN_PRODUCTION", "1")
    assert create_app().config["TWILIO_FAKE"] is True


def test_production_refuses_a_forced_fake_push_service(production_env):
    production_env.setenv("WEB_PUSH_FAKE", "1")
    with pytest.raises(UnsafeConfiguration, match="WEB_PUSH_FAKE"):
        create_app()


def test_production_refuses_a_forced_fake_even_with_credentials(production_env):
    production_env.setenv("TWILIO_FAKE", "1")
    with pytest.raises(UnsafeConfiguration, match="fake Twilio"):
        create_app()


def test_wsgi_entry_point_refuses_to_start_unsafely(tmp_path):
    """What gunicorn imports (`wsgi:app`) fails loudly with the development key."""
    env = {k: v for k, v in os.environ.items() if k not in APP_ENV_NAMES}
    env.update(APP_ENV="production", UPLOAD_FOLDER=str(tmp_path), DATABASE_URL="sqlite://")
    result = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "UnsafeConfiguration" in result.stderr
    assert "SECRET_KEY" in result.stderr


def _dispatcher_hooks(app) -> list[str]:
    return [
        f.__name__
        for funcs in app.before_request_funcs.values()
        for f in funcs
        if f.__module__ == dispatcher.__name__
    ]


def test_no_dispatcher_runs_inside_the_web_workers(production_env):
    """Texts are sent by `flask outbox work` processes, never by a thread in gunicorn's
    workers: the production app installs no dispatcher hook (`make run` does, with
    OUTBOX_THREAD=1, which is what the second half shows)."""
    app = create_app()
    assert app.config["OUTBOX_THREAD"] is False
    assert _dispatcher_hooks(app) == []
    production_env.setenv("APP_ENV", "development")
    production_env.setenv("OUTBOX_THREAD", "1")
    assert _dispatcher_hooks(create_app()) == ["_start_outbox_thread"]


def test_shared_rate_limit_storage_and_proxy_settings_come_from_the_environment(
    production_env, tmp_path
):
    production_env.setenv("RATELIMIT_STORAGE_URI", "redis://cache.internal:6379/2")
    production_env.setenv("TRUST_PROXY", "1")
    config = load_config(str(tmp_path))
    assert config["RATELIMIT_STORAGE_URI"] == "redis://cache.internal:6379/2"
    assert config["TRUST_PROXY"] is True
    assert config["PUBLIC_BASE_URL"] == "https://sms.example.com"


# --- Procfile and gunicorn.conf.py --------------------------------------------------------


def test_procfile_runs_migrations_web_and_workers():
    entries = dict(
        line.split(":", 1)
        for line in (ROOT / "Procfile").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert entries["release"].strip() == "flask db upgrade"
    assert entries["web"].strip().startswith("gunicorn wsgi:app")
    assert entries["worker"].strip() == "flask outbox work"


def test_gunicorn_conf_reads_its_settings_from_the_environment(monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    monkeypatch.setenv("WEB_CONCURRENCY", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    settings = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert settings["bind"].endswith(":8123")
    assert (settings["workers"], settings["threads"]) == (3, 4)
    # Longer than Twilio waits for a webhook (15 s), so Twilio gives up first.
    assert settings["timeout"] >= 15


# --- gunicorn serving the app ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"gunicorn exited:\n{log.read_text()[-3000:]}"
        try:
            if requests.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.5)
    pytest.fail(f"gunicorn did not answer within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.mark.postgres
@pytest.mark.slow
def test_gunicorn_serves_the_app_with_two_workers_on_postgres(app, make, tmp_path):
    owner = make.company("Gunicorn Plumbing").owner
    db.session.commit()
    port = _free_port()
    public = f"http://127.0.0.1:{port}"
    database_url = app.config["SQLALCHEMY_DATABASE_URI"]
    env = {k: v for k, v in os.environ.items() if k not in APP_ENV_NAMES}
    env.update(
        APP_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        DATABASE_URL=sa.make_url(database_url).render_as_string(hide_password=False),
        PUBLIC_BASE_URL=public,
        ALLOW_FAKE_TWILIO_IN_PRODUCTION="1",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        RATELIMIT_STORAGE_URI="database://",
        LOGIN_RATE_LIMIT="3 per minute",
        UPLOAD_FOLDER=str(tmp_path / "uploads"),
        LOG_LEVEL="WARNING",
    )
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as output:
        server = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--config",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "wsgi:app",
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    worker_log = tmp_path / "worker.log"
    with open(worker_log, "w") as output:
        worker = subprocess.Popen(
            [str(VENV_BIN / "flask"), "outbox", "work"],
            cwd=ROOT,
            env={**env, "FLASK_APP": "wsgi.py"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for(port, server, log)
        session = requests.Session()
        page = session.get(f"{public}/login", timeout=10)
        assert page.status_code == 200
        assert 'name="password"' in page.text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert token, "the login form carries a CSRF token in production"
        # CSRF is on in production: a post without the token is refused ...
        refused = requests.post(
            f"{public}/login",
            data={"email": owner.email, "password": "correct-horse-battery"},
            timeout=10,
            allow_redirects=False,
        )
        assert refused.status_code == 400
        # ... with it, the owner logs in, and the session works on whichever worker answers.
        logged_in = session.post(
            f"{public}/login",
            data={
                "csrf_token": token.group(1),
                "email": owner.email,
                "password": "correct-horse-battery",
            },
            timeout=10,
            allow_redirects=False,
        )
        assert logged_in.status_code == 302, logged_in.text[:500]
        for _ in range(6):
            home = session.get(f"{public}/jobs", timeout=10, allow_redirects=False)
            assert home.status_code == 200
            assert "Gunicorn Plumbing" in home.text

        # A signed webhook is kept in PostgreSQL by a gunicorn worker, then `flask outbox
        # work` (the Procfile's worker) takes it: to a number nobody owns, so quarantined.
        form = {
            "MessageSid": "SM" + "7" * 32,
            "AccountSid": FAKE_TWILIO_ACCOUNT_SID,
            "From": "+15125550123",
            "To": "+15126669999",
            "Body": "Hello from outside",
        }
        url = f"{public}/webhooks/twilio/sms"
        signature = RequestValidator(FAKE_TWILIO_AUTH_TOKEN).compute_signature(url, form)
        answer = requests.post(url, data=form, headers={"X-Twilio-Signature": signature})
        assert answer.status_code == 200
        assert "<Response" in answer.text
        deadline = time.monotonic() + 20
        while True:
            db.session.rollback()
            stored = db.session.scalar(
                sa.select(UnroutedInbound).filter_by(twilio_sid=form["MessageSid"])
            )
            if stored is not None or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert stored is not None, worker_log.read_text()[-3000:]
        assert stored.body == "Hello from outside"
        assert db.session.scalar(sa.select(sa.func.count(InboundReceipt.id))) == 0

        # The login limit is shared by both workers (database:// storage): each attempt on
        # a new connection, whichever worker takes it, counts against the same 3 a minute.
        attempts = []
        for _ in range(3):
            fresh = requests.Session()
            login_page = fresh.get(f"{public}/login", timeout=10, headers={"Connection": "close"})
            csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page.text).group(1)
            attempt = fresh.post(
                f"{public}/login",
                data={"csrf_token": csrf, "email": owner.email, "password": "wrong password"},
                headers={"Connection": "close"},
                timeout=10,
            )
            attempts.append(attempt.status_code)
        assert attempts[0] == 200
        assert attempts[-1] == 429, attempts
    finally:
        for process in (server, worker):
            process.send_signal(signal.SIGTERM)
        for process in (server, worker):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
            server.wait()
    output = log.read_text()
    assert output.count("Booting worker with pid") == 2, output[-2000:]
    assert server.returncode == 0

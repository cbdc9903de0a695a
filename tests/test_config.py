"""Configuration: the production guard rails and the environment variables."""

from __future__ import annotations

import secrets

import pytest

from app import create_app
from app.config import (
    DEV_SECRET_KEY,
    FAKE_TWILIO_ACCOUNT_SID,
    FAKE_TWILIO_AUTH_TOKEN,
    UnsafeConfiguration,
    load_config,
    secret_key_problem,
)

STRONG_KEY = secrets.token_hex(32)
# What a real production install sets besides APP_ENV and SECRET_KEY.
REAL_SERVICES = {
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "a-real-looking-token",
    "SMTP_HOST": "smtp.example.com",
}


def _config(tmp_path, **overrides):
    # STRIPE_FAKE off: these tests are about the other guard rails (the fake Stripe's own are
    # in tests/payments/test_config.py).
    return {
        "UPLOAD_FOLDER": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "STRIPE_FAKE": False,
        "WEB_PUSH_FAKE": False,
        **overrides,
    }


def test_production_refuses_the_development_secret_key(tmp_path):
    with pytest.raises(UnsafeConfiguration, match="SECRET_KEY"):
        create_app(_config(tmp_path, ENV_NAME="production", SECRET_KEY=DEV_SECRET_KEY))


def test_production_refuses_the_fake_twilio_unless_allowed(tmp_path):
    prod = _config(tmp_path, ENV_NAME="production", SECRET_KEY=STRONG_KEY, TWILIO_FAKE=True)
    with pytest.raises(UnsafeConfiguration, match="fake Twilio"):
        create_app(prod)
    app = create_app({**prod, "ALLOW_FAKE_TWILIO_IN_PRODUCTION": True})
    assert app.config["TWILIO_FAKE"] is True


def test_production_refuses_the_fake_push_service_unless_a_demo(tmp_path):
    prod = _config(
        tmp_path,
        ENV_NAME="production",
        SECRET_KEY=STRONG_KEY,
        TWILIO_FAKE=False,
        WEB_PUSH_FAKE=True,
        **REAL_SERVICES,
    )
    with pytest.raises(UnsafeConfiguration, match="WEB_PUSH_FAKE"):
        create_app(prod)
    demo = {**prod, "TWILIO_FAKE": True, "ALLOW_FAKE_TWILIO_IN_PRODUCTION": True}
    assert create_app(demo).config["WEB_PUSH_FAKE"] is True


def test_production_starts_with_real_settings(tmp_path):
    app = create_app(
        _config(
            tmp_path,
            ENV_NAME="production",
            SECRET_KEY=STRONG_KEY,
            TWILIO_FAKE=False,
            **REAL_SERVICES,
        )
    )
    assert "dev" not in app.blueprints  # no phone simulator, no development mailbox


@pytest.mark.parametrize(
    "key",
    ["x" * 64, "s" * 64, "abab" * 16, "secret", "0123456789abcdef0123456789", "x"],
)
def test_production_refuses_a_weak_secret_key(tmp_path, key):
    prod = _config(tmp_path, ENV_NAME="production", TWILIO_FAKE=False, **REAL_SERVICES)
    with pytest.raises(UnsafeConfiguration, match="SECRET_KEY"):
        create_app({**prod, "SECRET_KEY": key})


@pytest.mark.parametrize(
    "key",
    [
        secrets.token_hex(32),
        secrets.token_urlsafe(32),
        "correct horse battery staple, then 17 more words!",
    ],
    # Stable ids: pytest-xdist's workers must collect the same test names.
    ids=["token_hex", "token_urlsafe", "passphrase"],
)
def test_random_looking_secret_keys_pass(key):
    assert secret_key_problem(key) is None


@pytest.mark.parametrize(
    "name", ["Production", "prod", "PRODUCTION", "staging", "dev", "production "]
)
def test_an_unknown_app_env_refuses_to_start(monkeypatch, tmp_path, name):
    monkeypatch.setenv("APP_ENV", name)
    with pytest.raises(UnsafeConfiguration, match="APP_ENV"):
        create_app(_config(tmp_path))


def test_production_with_the_fake_off_never_uses_the_fakes_published_token(monkeypatch, tmp_path):
    """TWILIO_FAKE=0 without credentials used to check webhook signatures against the
    fake's public token: anyone could forge inbound texts. Now it refuses to start."""
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("TWILIO_FAKE", "0")
    config = load_config(str(tmp_path))
    assert config["TWILIO_AUTH_TOKEN"] != FAKE_TWILIO_AUTH_TOKEN
    assert config["TWILIO_ACCOUNT_SID"] != FAKE_TWILIO_ACCOUNT_SID
    with pytest.raises(UnsafeConfiguration, match="TWILIO_AUTH_TOKEN"):
        create_app(_config(tmp_path, SECRET_KEY=STRONG_KEY, SMTP_HOST="smtp.example.com"))
    # Nor when the fake's token reaches the config some other way.
    with pytest.raises(UnsafeConfiguration, match="TWILIO_AUTH_TOKEN"):
        create_app(
            _config(
                tmp_path,
                SECRET_KEY=STRONG_KEY,
                SMTP_HOST="smtp.example.com",
                TWILIO_ACCOUNT_SID="AC" + "1" * 32,
                TWILIO_AUTH_TOKEN=FAKE_TWILIO_AUTH_TOKEN,
            )
        )


def test_development_keeps_the_fake_credentials(monkeypatch, tmp_path):
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "APP_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TWILIO_FAKE", "1")
    assert load_config(str(tmp_path))["TWILIO_AUTH_TOKEN"] == FAKE_TWILIO_AUTH_TOKEN


def test_production_needs_smtp_except_on_a_demo_install(tmp_path):
    prod = _config(tmp_path, ENV_NAME="production", SECRET_KEY=STRONG_KEY, TWILIO_FAKE=False)
    with pytest.raises(UnsafeConfiguration, match="SMTP_HOST"):
        create_app({**prod, **REAL_SERVICES, "SMTP_HOST": ""})
    demo = {**prod, "TWILIO_FAKE": True, "ALLOW_FAKE_TWILIO_IN_PRODUCTION": True}
    assert create_app(demo).config["SMTP_HOST"] == ""


def test_an_unknown_smtp_security_refuses_to_start(tmp_path):
    with pytest.raises(UnsafeConfiguration, match="SMTP_SECURITY"):
        create_app(_config(tmp_path, SMTP_HOST="smtp.example.com", SMTP_SECURITY="tls"))


def test_twilio_credentials_turn_the_fake_off(monkeypatch, tmp_path):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "1" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.delenv("TWILIO_FAKE", raising=False)
    assert load_config(str(tmp_path))["TWILIO_FAKE"] is False
    monkeypatch.setenv("TWILIO_FAKE", "1")
    assert load_config(str(tmp_path))["TWILIO_FAKE"] is True


def test_without_credentials_the_fake_is_used(monkeypatch, tmp_path):
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_FAKE"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(str(tmp_path))
    assert config["TWILIO_FAKE"] is True
    assert config["TWILIO_ACCOUNT_SID"].startswith("AC")


def test_postgres_urls_get_the_psycopg_driver(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db/app")
    assert (
        load_config(str(tmp_path))["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db/app"
    )


def test_secure_cookies_follow_an_https_public_url(monkeypatch, tmp_path):
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://sms.example.com/")
    config = load_config(str(tmp_path))
    assert config["PUBLIC_BASE_URL"] == "https://sms.example.com"
    assert config["SESSION_COOKIE_SECURE"] is True
    assert config["SESSION_COOKIE_HTTPONLY"] is True
    assert config["SESSION_COOKIE_SAMESITE"] == "Lax"

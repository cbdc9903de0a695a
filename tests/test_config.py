"""Configuration: the production guard rails and the environment variables."""

from __future__ import annotations

import pytest

from app import create_app
from app.config import DEV_SECRET_KEY, UnsafeConfiguration, load_config


def _config(tmp_path, **overrides):
    # STRIPE_FAKE off: these tests are about the other guard rails (the fake Stripe's own are
    # in tests/payments/test_config.py).
    return {
        "UPLOAD_FOLDER": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "STRIPE_FAKE": False,
        **overrides,
    }


def test_production_refuses_the_development_secret_key(tmp_path):
    with pytest.raises(UnsafeConfiguration, match="SECRET_KEY"):
        create_app(_config(tmp_path, ENV_NAME="production", SECRET_KEY=DEV_SECRET_KEY))


def test_production_refuses_the_fake_twilio_unless_allowed(tmp_path):
    prod = _config(tmp_path, ENV_NAME="production", SECRET_KEY="x" * 64, TWILIO_FAKE=True)
    with pytest.raises(UnsafeConfiguration, match="fake Twilio"):
        create_app(prod)
    app = create_app({**prod, "ALLOW_FAKE_TWILIO_IN_PRODUCTION": True})
    assert app.config["TWILIO_FAKE"] is True


def test_production_starts_with_real_settings(tmp_path):
    app = create_app(
        _config(tmp_path, ENV_NAME="production", SECRET_KEY="x" * 64, TWILIO_FAKE=False)
    )
    assert "dev" not in app.blueprints  # the phone simulator exists only with the fake


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

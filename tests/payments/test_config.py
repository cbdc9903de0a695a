"""The Stripe settings: fake by default in development, refused in production unless
allowed, and a key never without its webhook secret."""

from __future__ import annotations

import secrets

import pytest

from app import create_app
from app.config import UnsafeConfiguration, load_config


def _prod(tmp_path, **overrides):
    return {
        "UPLOAD_FOLDER": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "ENV_NAME": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "TWILIO_FAKE": False,
        "WEB_PUSH_FAKE": False,
        "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_AUTH_TOKEN": "a-real-looking-token",
        "SMTP_HOST": "smtp.example.com",
        **overrides,
    }


def test_development_without_a_key_uses_the_fake(monkeypatch, tmp_path):
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_FAKE", "APP_ENV"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(str(tmp_path))
    assert config["STRIPE_FAKE"] is True
    assert config["STRIPE_SECRET_KEY"].startswith("sk_test_fake")
    assert config["STRIPE_WEBHOOK_SECRET"].startswith("whsec_fake")


def test_a_key_turns_the_fake_off(monkeypatch, tmp_path):
    monkeypatch.delenv("STRIPE_FAKE", raising=False)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_real")
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRET", "whsec_real")
    monkeypatch.setenv("STRIPE_PLATFORM_FEE_BPS", "150")
    config = load_config(str(tmp_path))
    assert config["STRIPE_FAKE"] is False
    assert (config["STRIPE_SECRET_KEY"], config["STRIPE_WEBHOOK_SECRET"]) == (
        "sk_test_real",
        "whsec_real",
    )
    assert config["STRIPE_PLATFORM_FEE_BPS"] == 150


def test_production_without_a_key_has_payments_off(monkeypatch, tmp_path):
    for name in ("STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "STRIPE_FAKE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    config = load_config(str(tmp_path))
    assert config["STRIPE_FAKE"] is False and config["STRIPE_SECRET_KEY"] == ""


def test_production_refuses_the_fake_stripe_unless_allowed(tmp_path):
    fake = _prod(
        tmp_path, STRIPE_FAKE=True, STRIPE_SECRET_KEY="sk_test_fake", STRIPE_WEBHOOK_SECRET="w"
    )
    with pytest.raises(UnsafeConfiguration, match="fake Stripe"):
        create_app(fake)
    app = create_app({**fake, "ALLOW_FAKE_STRIPE_IN_PRODUCTION": True})
    assert "dev_payments" in app.blueprints


def test_production_refuses_a_key_without_its_webhook_secret(tmp_path):
    with pytest.raises(UnsafeConfiguration, match="STRIPE_WEBHOOK_SECRET"):
        create_app(
            _prod(
                tmp_path, STRIPE_FAKE=False, STRIPE_SECRET_KEY="sk_live_x", STRIPE_WEBHOOK_SECRET=""
            )
        )
    app = create_app(
        _prod(
            tmp_path,
            STRIPE_FAKE=False,
            STRIPE_SECRET_KEY="sk_live_x",
            STRIPE_WEBHOOK_SECRET="whsec_x",
        )
    )
    assert "dev_payments" not in app.blueprints  # no fake checkout page with real Stripe

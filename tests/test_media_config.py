"""MEDIA_STORE and the S3_* settings: read from the environment, and a store that cannot
work refuses to start (an unknown MEDIA_STORE in any environment; `s3` without its bucket
or key), naming what to set."""

from __future__ import annotations

import secrets

import pytest

from app import create_app
from app.config import UnsafeConfiguration, load_config
from app.services import media_backends

S3_SETTINGS = {
    "S3_BUCKET": "prosms-media",
    "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    "S3_REGION": "us-east-1",
    "S3_ACCESS_KEY_ID": "minio-user",
    "S3_SECRET_ACCESS_KEY": "minio-secret",
}
PRODUCTION = {
    "ENV_NAME": "production",
    "SECRET_KEY": secrets.token_hex(32),
    "TWILIO_FAKE": False,
    "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
    "TWILIO_AUTH_TOKEN": "a-real-looking-token",
    "SMTP_HOST": "smtp.example.com",
}


def _config(tmp_path, **overrides):
    return {
        "UPLOAD_FOLDER": str(tmp_path),
        "SQLALCHEMY_DATABASE_URI": "sqlite://",
        "STRIPE_FAKE": False,
        "WEB_PUSH_FAKE": False,
        **overrides,
    }


def test_the_settings_come_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDIA_STORE", " S3 ")
    for name, value in S3_SETTINGS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("S3_PREFIX", "prosms/")
    config = load_config(str(tmp_path))
    assert config["MEDIA_STORE"] == "s3"
    assert {name: config[name] for name in S3_SETTINGS} == S3_SETTINGS
    assert config["S3_PREFIX"] == "prosms/"


def test_local_is_the_default(monkeypatch, tmp_path):
    monkeypatch.delenv("MEDIA_STORE", raising=False)
    assert load_config(str(tmp_path))["MEDIA_STORE"] == "local"
    app = create_app(_config(tmp_path))
    with app.app_context():
        assert isinstance(media_backends.current_backend(), media_backends.LocalBackend)


@pytest.mark.parametrize("env", ["development", "production"])
def test_an_unknown_media_store_refuses_to_start_anywhere(tmp_path, env):
    extra = PRODUCTION if env == "production" else {"ENV_NAME": env}
    with pytest.raises(UnsafeConfiguration, match=r"MEDIA_STORE='gcs' is not one of local, s3"):
        create_app(_config(tmp_path, MEDIA_STORE="gcs", **extra))


@pytest.mark.parametrize("missing", ["S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"])
def test_production_s3_without_bucket_or_key_refuses_to_start(tmp_path, missing):
    settings = {**S3_SETTINGS, missing: ""}
    with pytest.raises(UnsafeConfiguration, match=f"MEDIA_STORE=s3 needs {missing}"):
        create_app(_config(tmp_path, MEDIA_STORE="s3", **settings, **PRODUCTION))


def test_production_starts_with_s3_configured(tmp_path):
    app = create_app(_config(tmp_path, MEDIA_STORE="s3", **S3_SETTINGS, **PRODUCTION))
    with app.app_context():
        backend = media_backends.current_backend()
    assert isinstance(backend, media_backends.S3Backend)
    assert backend.bucket == "prosms-media"
    assert backend.client.meta.endpoint_url == "http://127.0.0.1:9000"


def test_an_endpoint_that_is_not_a_url_refuses_to_start(tmp_path):
    settings = {**S3_SETTINGS, "S3_ENDPOINT_URL": "minio.local:9000"}
    with pytest.raises(UnsafeConfiguration, match=r"S3_ENDPOINT_URL='minio\.local:9000'"):
        create_app(_config(tmp_path, MEDIA_STORE="s3", **settings))

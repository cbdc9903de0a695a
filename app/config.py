"""Configuration read from the environment.

Every variable is documented in README.md ("Configuration"). Defaults are chosen so that
`make run` works on a fresh machine: SQLite under `instance/`, the built-in fake Twilio,
and the outbox dispatcher running as a thread inside the development server.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

DEV_SECRET_KEY = "dev-only-secret-key-change-me"

# Documented development credentials the fake Twilio signs its webhooks with when no real
# credentials are configured. They are not secrets: they only work against the fake.
FAKE_TWILIO_ACCOUNT_SID = "AC00000000000000000000000000000000"
FAKE_TWILIO_AUTH_TOKEN = "fake-twilio-auth-token-for-development"


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _sqlite_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path) / "prosms.sqlite3")


def load_config(instance_path: str) -> dict[str, object]:
    """Build the Flask config mapping from environment variables."""
    account_sid = os.environ.get("TWILIO_ACCOUNT_SID", "")
    auth_token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    # Without real credentials the product talks to the built-in fake Twilio.
    twilio_fake = _flag("TWILIO_FAKE", default=not (account_sid and auth_token))
    database_url = os.environ.get("DATABASE_URL") or _sqlite_url(instance_path)
    if database_url.startswith("postgres://"):
        # Heroku-style URLs; SQLAlchemy wants the driver spelled out.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    public_base_url = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/")
    return {
        "ENV_NAME": os.environ.get("APP_ENV", "development"),
        "SECRET_KEY": os.environ.get("SECRET_KEY", DEV_SECRET_KEY),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # No ping before every checkout: it was a third of the SMS webhook's cost under
        # load (a round trip and two context switches per request). A connection the
        # database dropped fails its request once and the pool discards all older ones;
        # the SMS webhook's receipt insert is tried once more on a fresh connection
        # (app/services/uniqueness.py). Recycling stays under
        # common idle timeouts of proxies and firewalls.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": False, "pool_recycle": 1800},
        "PUBLIC_BASE_URL": public_base_url,
        "TWILIO_ACCOUNT_SID": account_sid or FAKE_TWILIO_ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": auth_token or FAKE_TWILIO_AUTH_TOKEN,
        "TWILIO_FAKE": twilio_fake,
        "ALLOW_FAKE_TWILIO_IN_PRODUCTION": _flag("ALLOW_FAKE_TWILIO_IN_PRODUCTION"),
        # Run the outbox dispatcher as a thread of the web process (development only).
        "OUTBOX_THREAD": _flag("OUTBOX_THREAD", default=False),
        "OUTBOX_CONCURRENCY": int(os.environ.get("OUTBOX_CONCURRENCY", "8")),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        # Unknown estimate/invoice links tried from one address (guessing tokens).
        "DOCUMENT_MISS_LIMIT": os.environ.get("DOCUMENT_MISS_LIMIT", "20 per 10 minutes"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_base_url.startswith("https://"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": public_base_url.startswith("https://"),
        "TRUST_PROXY": _flag("TRUST_PROXY"),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER", str(Path(instance_path) / "uploads")),
        "MAX_CONTENT_LENGTH": 8 * 1024 * 1024,
        "WTF_CSRF_TIME_LIMIT": None,
        # werkzeug's password hash method. Tests set a cheap one; never change it in production.
        "PASSWORD_HASH_METHOD": "scrypt",
    }


class UnsafeConfiguration(RuntimeError):
    """The configuration would be unsafe in production; the app refuses to start."""


def check_production_config(config: dict[str, object] | object) -> None:
    """In production (APP_ENV=production) refuse the development SECRET_KEY, and the fake
    Twilio unless ALLOW_FAKE_TWILIO_IN_PRODUCTION is set (a demo or staging install)."""
    get = config.get  # type: ignore[union-attr]
    if get("ENV_NAME") != "production":
        return
    if get("SECRET_KEY") in (None, "", DEV_SECRET_KEY):
        raise UnsafeConfiguration(
            "APP_ENV=production needs SECRET_KEY set to a long random value "
            '(python -c "import secrets; print(secrets.token_hex(32))").'
        )
    if get("TWILIO_FAKE") and not get("ALLOW_FAKE_TWILIO_IN_PRODUCTION"):
        raise UnsafeConfiguration(
            "APP_ENV=production would use the built-in fake Twilio: set TWILIO_ACCOUNT_SID "
            "and TWILIO_AUTH_TOKEN, or ALLOW_FAKE_TWILIO_IN_PRODUCTION=1 for a demo install."
        )
    if str(get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        logging.getLogger(__name__).warning(
            "APP_ENV=production with SQLite: use PostgreSQL (DATABASE_URL) for several workers."
        )

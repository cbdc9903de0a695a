"""Configuration read from the environment.

Every variable is documented in README.md ("Configuration"). Defaults are chosen so that
`make run` works on a fresh machine: SQLite under `instance/`, the built-in fake Twilio,
and the outbox dispatcher running as a thread inside the development server.
"""

from __future__ import annotations

import logging
import math
import os
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

DEV_SECRET_KEY = "dev-only-secret-key-change-me"

# Documented development credentials the fake Twilio signs its webhooks with when no real
# credentials are configured. They are not secrets: they only work against the fake.
FAKE_TWILIO_ACCOUNT_SID = "AC00000000000000000000000000000000"
FAKE_TWILIO_AUTH_TOKEN = "fake-twilio-auth-token-for-development"
# The same for the built-in fake Stripe: its webhook events are signed with this secret.
FAKE_STRIPE_SECRET_KEY = "sk_test_fake_stripe_for_development"
FAKE_STRIPE_WEBHOOK_SECRET = "whsec_fake_stripe_for_development"

# APP_ENV's values. Anything else refuses to start: "Production" or "prod" silently
# running as development (no guard rails) is worse than not starting.
APP_ENVS = ("development", "production")

# A production SECRET_KEY is at least this long and looks random (see secret_key_problem).
MIN_SECRET_KEY_CHARS = 32
MIN_SECRET_KEY_BITS = 128

# MEDIA_STORE values (app/services/media_backends.py).
MEDIA_STORES = ("local", "s3")


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _sqlite_url(instance_path: str) -> str:
    return "sqlite:///" + str(Path(instance_path) / "prosms.sqlite3")


def _local_base_url() -> str:
    """Without PUBLIC_BASE_URL: where this machine serves the app (`HOST`/`PORT`, as
    `make run` and gunicorn read them), so `PORT=5201 make run` texts links on :5201."""
    host = os.environ.get("HOST", "").strip()
    if host in ("", "0.0.0.0", "::"):  # every interface: this machine is reached locally
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    port = os.environ.get("PORT", "").strip() or "5000"
    return f"http://{host}:{port}"


def load_config(instance_path: str) -> dict[str, object]:
    """Build the Flask config mapping from environment variables."""
    env_name = os.environ.get("APP_ENV") or "development"
    account_sid = os.environ.get("TWILIO_ACCOUNT_SID", "")
    auth_token = os.environ.get("TWILIO_AUTH_TOKEN", "")
    # Without real credentials the product talks to the built-in fake Twilio.
    twilio_fake = _flag("TWILIO_FAKE", default=not (account_sid and auth_token))
    if twilio_fake or env_name != "production":
        # The fake's published credentials sign its webhooks. In production they are never
        # used with the fake off: anyone could sign a forged webhook with them (the
        # production check refuses to start without real ones instead).
        account_sid = account_sid or FAKE_TWILIO_ACCOUNT_SID
        auth_token = auth_token or FAKE_TWILIO_AUTH_TOKEN
    database_url = os.environ.get("DATABASE_URL") or _sqlite_url(instance_path)
    if database_url.startswith("postgres://"):
        # Heroku-style URLs; SQLAlchemy wants the driver spelled out.
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgres://")
    elif database_url.startswith("postgresql://"):
        database_url = "postgresql+psycopg://" + database_url.removeprefix("postgresql://")

    stripe_key = os.environ.get("STRIPE_SECRET_KEY", "")
    # Without a Stripe key, development uses the built-in fake Stripe; production has no
    # online payments at all unless STRIPE_FAKE is asked for explicitly (a demo install).
    stripe_fake = _flag("STRIPE_FAKE", default=not stripe_key and env_name != "production")
    public_base_url = (os.environ.get("PUBLIC_BASE_URL") or _local_base_url()).rstrip("/")
    return {
        "ENV_NAME": env_name,
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
        "TWILIO_ACCOUNT_SID": account_sid,
        "TWILIO_AUTH_TOKEN": auth_token,
        "TWILIO_FAKE": twilio_fake,
        # Twilio Lookup's Line Type Intelligence tells landlines from mobiles (billed per
        # lookup, one per number per 90 days). Off: the number type and past 21614 refusals
        # decide, as before (docs/calls.md).
        "TWILIO_LOOKUP": _flag("TWILIO_LOOKUP", default=True),
        "ALLOW_FAKE_TWILIO_IN_PRODUCTION": _flag("ALLOW_FAKE_TWILIO_IN_PRODUCTION"),
        "STRIPE_SECRET_KEY": stripe_key or (FAKE_STRIPE_SECRET_KEY if stripe_fake else ""),
        "STRIPE_WEBHOOK_SECRET": os.environ.get("STRIPE_WEBHOOK_SECRET", "")
        or (FAKE_STRIPE_WEBHOOK_SECRET if stripe_fake else ""),
        "STRIPE_FAKE": stripe_fake,
        "ALLOW_FAKE_STRIPE_IN_PRODUCTION": _flag("ALLOW_FAKE_STRIPE_IN_PRODUCTION"),
        # The platform's cut of each online payment, in basis points (100 = 1 %).
        "STRIPE_PLATFORM_FEE_BPS": int(os.environ.get("STRIPE_PLATFORM_FEE_BPS", "0") or 0),
        # Where the fake Stripe is served over HTTP (tests); empty = in-process.
        "STRIPE_API_BASE_URL": os.environ.get("STRIPE_API_BASE_URL", ""),
        # The fake Stripe's connected accounts, kept across restarts (not used in tests).
        "FAKE_STRIPE_ACCOUNTS_FILE": str(Path(instance_path) / "fake_stripe_accounts.json"),
        # Texting registration (docs/texting-registration.md). The ISV's own primary customer
        # profile in Trust Hub (BU...), made once per deployment in Twilio's console; every
        # company's secondary profile is attached to it. The fake Twilio has one built in.
        "TWILIO_PRIMARY_CUSTOMER_PROFILE_SID": os.environ.get(
            "TWILIO_PRIMARY_CUSTOMER_PROFILE_SID", ""
        ),
        # Where Twilio's review mails go (default: the authorized representative's email).
        "REGISTRATION_NOTIFICATION_EMAIL": os.environ.get("REGISTRATION_NOTIFICATION_EMAIL", ""),
        # The fake Twilio's outcome for new registrations: approve, approve_after:<seconds>,
        # pending, or fail:<code>[:campaign|:profile] (the fake only; tests set it per case).
        "FAKE_TWILIO_REGISTRATION": os.environ.get("FAKE_TWILIO_REGISTRATION", "approve_after:20"),
        # Web Push (docs/push.md). Outside production every push goes to the built-in fake
        # push service (/dev/push) unless WEB_PUSH_FAKE=0.
        "WEB_PUSH_FAKE": _flag("WEB_PUSH_FAKE", default=env_name != "production"),
        # The VAPID key pair (base64url, raw P-256); empty = made once and kept in the
        # database. The public half is derived when only the private one is given.
        "VAPID_PRIVATE_KEY": os.environ.get("VAPID_PRIVATE_KEY", "").strip(),
        "VAPID_PUBLIC_KEY": os.environ.get("VAPID_PUBLIC_KEY", "").strip(),
        # The contact push services may write to (mailto: or https:); default: MAIL_FROM.
        "VAPID_SUBJECT": os.environ.get("VAPID_SUBJECT", "").strip(),
        # Run the outbox dispatcher as a thread of the web process (development only).
        "OUTBOX_THREAD": _flag("OUTBOX_THREAD", default=False),
        "OUTBOX_CONCURRENCY": int(os.environ.get("OUTBOX_CONCURRENCY", "8")),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": os.environ.get("LOGIN_RATE_LIMIT", "10 per minute;50 per hour"),
        # "Forgot password?" requests per client address.
        "PASSWORD_RESET_RATE_LIMIT": os.environ.get(
            "PASSWORD_RESET_RATE_LIMIT", "5 per 15 minutes;20 per day"
        ),
        # Email (app/mail.py): SMTP when SMTP_HOST is set, else the /dev/mail mailbox.
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": int(os.environ.get("SMTP_PORT", "587")),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_SECURITY": os.environ.get("SMTP_SECURITY", "starttls").strip().lower(),
        "SMTP_TIMEOUT": float(os.environ.get("SMTP_TIMEOUT", "10")),
        "MAIL_FROM": os.environ.get("MAIL_FROM", "ProSMS <no-reply@localhost>"),
        # Unknown estimate/invoice links tried from one address (guessing tokens).
        "DOCUMENT_MISS_LIMIT": os.environ.get("DOCUMENT_MISS_LIMIT", "20 per 10 minutes"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": public_base_url.startswith("https://"),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": public_base_url.startswith("https://"),
        # "Keep me logged in" lasts at most 30 days (the server-side session ends then too,
        # app/services/sessions.py).
        "REMEMBER_COOKIE_DURATION": timedelta(days=30),
        "PERMANENT_SESSION_LIFETIME": timedelta(days=30),
        "TRUST_PROXY": _flag("TRUST_PROXY"),
        "UPLOAD_FOLDER": os.environ.get("UPLOAD_FOLDER", str(Path(instance_path) / "uploads")),
        # Where kept media (MMS pictures, files) lives: `local` (under UPLOAD_FOLDER) or `s3`
        # (a private S3-compatible bucket; app/services/media_backends.py, docs/media.md).
        "MEDIA_STORE": os.environ.get("MEDIA_STORE", "local").strip().lower(),
        "S3_BUCKET": os.environ.get("S3_BUCKET", ""),
        # Empty: AWS itself. MinIO, Cloudflare R2, Backblaze B2, Wasabi: their endpoint URL.
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL", ""),
        "S3_REGION": os.environ.get("S3_REGION", ""),
        "S3_ACCESS_KEY_ID": os.environ.get("S3_ACCESS_KEY_ID", ""),
        "S3_SECRET_ACCESS_KEY": os.environ.get("S3_SECRET_ACCESS_KEY", ""),
        "S3_PREFIX": os.environ.get("S3_PREFIX", ""),
        # Ask Twilio to transcribe voicemails (a paid add-on at Twilio; the office sees the
        # text beside the audio, marked "may contain mistakes").
        "VOICEMAIL_TRANSCRIPTION": _flag("VOICEMAIL_TRANSCRIPTION", default=True),
        # Webhooks and forms are a few KB; views that take a file raise their own limit
        # (app/request_limits.py). Over the limit is a 413 naming it.
        "MAX_CONTENT_LENGTH": 1024 * 1024,
        # A customer import of up to this many rows runs in the request; a larger one in
        # the worker, with a progress bar.
        "IMPORT_INLINE_ROWS": int(os.environ.get("IMPORT_INLINE_ROWS", "2000")),
        "WTF_CSRF_TIME_LIMIT": None,
        # werkzeug's password hash method. Tests set a cheap one; never change it in production.
        "PASSWORD_HASH_METHOD": "scrypt",
    }


def media_config_problem(config: Any) -> str | None:
    """Why MEDIA_STORE and the S3_* settings cannot work, or None."""
    store = config.get("MEDIA_STORE", "local")
    if store not in MEDIA_STORES:
        return f"MEDIA_STORE={store!r} is not one of {', '.join(MEDIA_STORES)}."
    if store == "s3":
        missing = [
            name
            for name in ("S3_BUCKET", "S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY")
            if not config.get(name)
        ]
        if missing:
            return (
                f"MEDIA_STORE=s3 needs {', '.join(missing)} (and S3_ENDPOINT_URL for MinIO, "
                "R2, Backblaze or Wasabi; S3_REGION for AWS)."
            )
        endpoint = str(config.get("S3_ENDPOINT_URL") or "")
        if endpoint and not endpoint.startswith(("http://", "https://")):
            return (
                f"S3_ENDPOINT_URL={endpoint!r} is not an http:// or https:// address "
                "(leave it empty for AWS)."
            )
    return None


class UnsafeConfiguration(RuntimeError):
    """The configuration would be unsafe in production; the app refuses to start."""


def secret_key_problem(key: object) -> str | None:
    """Why `key` is too weak for production, or None. At least 32 characters whose
    spread of characters (Shannon entropy) adds up to 128 bits or more: secrets.token_hex(32)
    and token_urlsafe(32) pass, "x" * 64 or a short word do not."""
    if not isinstance(key, str | bytes) or not key:
        return "is not set"
    if key == DEV_SECRET_KEY:
        return "is the development key"
    if len(key) < MIN_SECRET_KEY_CHARS:
        return f"is {len(key)} characters long; use at least {MIN_SECRET_KEY_CHARS}"
    counts = Counter(key)
    per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    if per_char * len(key) < MIN_SECRET_KEY_BITS:
        return "does not look random (too few different characters)"
    return None


def check_production_config(config: dict[str, object] | object) -> None:
    """Refuse an unknown APP_ENV; in production (APP_ENV=production) refuse a weak
    SECRET_KEY, the fake Twilio unless ALLOW_FAKE_TWILIO_IN_PRODUCTION is set (a demo or
    staging install), the fake off without real Twilio credentials, and no SMTP server
    (except on a demo install)."""
    get = config.get  # type: ignore[union-attr]
    env_name = get("ENV_NAME")
    if env_name not in APP_ENVS:
        raise UnsafeConfiguration(
            f"APP_ENV={env_name!r} is not one of {', '.join(APP_ENVS)} (lower case): "
            "refusing to guess whether this is production."
        )
    if get("SMTP_SECURITY", "starttls") not in ("starttls", "ssl", "none"):
        raise UnsafeConfiguration(
            f"SMTP_SECURITY={get('SMTP_SECURITY')!r} is not one of starttls, ssl, none."
        )
    # A media store that cannot work is refused in every environment: otherwise the first
    # picture a customer texts would be the first to find out.
    media_problem = media_config_problem(config)  # type: ignore[arg-type]
    if media_problem:
        raise UnsafeConfiguration(media_problem)
    if env_name != "production":
        return
    problem = secret_key_problem(get("SECRET_KEY"))
    if problem:
        raise UnsafeConfiguration(
            f"APP_ENV=production needs a long random SECRET_KEY; this one {problem} "
            '(python -c "import secrets; print(secrets.token_hex(32))").'
        )
    demo = bool(get("ALLOW_FAKE_TWILIO_IN_PRODUCTION"))
    if get("TWILIO_FAKE") and not demo:
        raise UnsafeConfiguration(
            "APP_ENV=production would use the built-in fake Twilio: set TWILIO_ACCOUNT_SID "
            "and TWILIO_AUTH_TOKEN, or ALLOW_FAKE_TWILIO_IN_PRODUCTION=1 for a demo install."
        )
    if not get("TWILIO_FAKE") and (
        not get("TWILIO_ACCOUNT_SID")
        or not get("TWILIO_AUTH_TOKEN")
        or get("TWILIO_AUTH_TOKEN") == FAKE_TWILIO_AUTH_TOKEN
        or get("TWILIO_ACCOUNT_SID") == FAKE_TWILIO_ACCOUNT_SID
    ):
        raise UnsafeConfiguration(
            "APP_ENV=production with TWILIO_FAKE=0 needs the account's real "
            "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN: webhook signatures are checked with "
            "the auth token, and the fake's published one would let anyone forge them."
        )
    if not get("SMTP_HOST") and not demo:
        raise UnsafeConfiguration(
            "APP_ENV=production needs SMTP_HOST (and usually SMTP_USERNAME, SMTP_PASSWORD, "
            "MAIL_FROM) to email password reset links; the development mailbox is not for "
            "production."
        )
    if get("STRIPE_FAKE") and not get("ALLOW_FAKE_STRIPE_IN_PRODUCTION"):
        raise UnsafeConfiguration(
            "APP_ENV=production would use the built-in fake Stripe: set STRIPE_SECRET_KEY "
            "and STRIPE_WEBHOOK_SECRET, or ALLOW_FAKE_STRIPE_IN_PRODUCTION=1 for a demo install."
        )
    if get("WEB_PUSH_FAKE") and not demo:
        raise UnsafeConfiguration(
            "APP_ENV=production with WEB_PUSH_FAKE=1 would hand every Web Push to the built-in "
            "fake push service, so no phone would ever be notified: unset WEB_PUSH_FAKE (or "
            "ALLOW_FAKE_TWILIO_IN_PRODUCTION=1 for a demo install)."
        )
    if get("STRIPE_SECRET_KEY") and not get("STRIPE_WEBHOOK_SECRET"):
        raise UnsafeConfiguration(
            "STRIPE_SECRET_KEY is set without STRIPE_WEBHOOK_SECRET: payments would be taken "
            "but never recorded. Set the signing secret of the /webhooks/stripe endpoint."
        )
    if str(get("SQLALCHEMY_DATABASE_URI", "")).startswith("sqlite"):
        logging.getLogger(__name__).warning(
            "APP_ENV=production with SQLite: use PostgreSQL (DATABASE_URL) for several workers."
        )

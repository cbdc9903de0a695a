"""RATELIMIT_STORAGE_URI=database://: rate-limit counters in the application's database,
shared by every process (app/models/rate_limit.py). The gunicorn test in
tests/test_production.py shows two workers sharing one login limit this way."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from app import create_app
from app.extensions import db, limiter
from app.models import RateLimitCounter, utcnow
from app.models.rate_limit import DatabaseStorage


def test_database_uri_gives_the_database_storage():
    assert isinstance(storage_from_string("database://"), DatabaseStorage)


def test_two_processes_share_one_count():
    # Each gunicorn worker builds its own storage object from the URI; the count is in
    # the database, so both see every hit.
    first, second = storage_from_string("database://"), storage_from_string("database://")
    assert first.incr("login/203.0.113.9", 60) == 1
    assert second.incr("login/203.0.113.9", 60) == 2
    assert first.get("login/203.0.113.9") == 2
    assert second.get("login/198.51.100.1") == 0
    expiry = second.get_expiry("login/203.0.113.9")
    assert 55 <= expiry - utcnow().timestamp() <= 61
    first.clear("login/203.0.113.9")
    assert second.get("login/203.0.113.9") == 0
    assert first.check()


def test_a_window_that_has_passed_starts_again():
    storage = storage_from_string("database://")
    for _ in range(3):
        storage.incr("key", 60)
    db.session.execute(
        sa.update(RateLimitCounter).values(expires_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()
    assert storage.get("key") == 0
    assert storage.incr("key", 60) == 1
    assert storage.get_expiry("key") > utcnow().timestamp() + 50


def test_fixed_window_limiter_on_the_database_storage():
    limiter_ = FixedWindowRateLimiter(storage_from_string("database://"))
    three = parse("3 per minute")
    assert [limiter_.hit(three, "198.51.100.7") for _ in range(4)] == [True, True, True, False]
    assert limiter_.hit(three, "198.51.100.8")  # another client has its own count
    assert storage_from_string("database://").reset() == 2


@pytest.fixture
def database_limited_app(app):
    """A second app on the same database with `database://` limits; the shared limiter
    object is put back as it was afterwards."""
    saved = dict(vars(limiter))
    limited = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
            "SECRET_KEY": "test-secret",
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_STORAGE_URI": "database://",
            "LOGIN_RATE_LIMIT": "3 per minute",
            "TWILIO_FAKE": True,
        }
    )
    try:
        with limited.app_context():
            yield limited
            db.session.remove()
            db.engine.dispose()
    finally:
        vars(limiter).clear()
        vars(limiter).update(saved)


def test_login_attempts_are_counted_in_the_database(database_limited_app):
    client = database_limited_app.test_client()
    answers = [
        client.post("/login", data={"email": "x@example.com", "password": "wrong"}).status_code
        for _ in range(4)
    ]
    assert answers == [200, 200, 200, 429]
    [counter] = db.session.scalars(sa.select(RateLimitCounter)).all()
    assert counter.count == 4  # the refused attempt is counted too
    assert "login" in counter.key

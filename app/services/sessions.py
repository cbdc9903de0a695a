"""Server-side login sessions: one row per logged-in browser (see UserSession).

The cookie carries only a random token. Logging out deletes the row, so a copied session
or remember-me cookie stops working; a password change or reset deletes every other row.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import User, UserSession, utcnow

# "Keep me logged in" lasts at most this long, however often the browser comes back.
REMEMBER_LIFETIME = timedelta(days=30)
# A session without "keep me logged in" ends after this long unused (a shared computer),
# and in any case after REMEMBER_LIFETIME.
IDLE_LIFETIME = timedelta(hours=12)
# How stale last_seen_at may get before a request refreshes it: one UPDATE an hour per
# browser instead of one per request.
TOUCH_EVERY = timedelta(hours=1)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(*, user: User, remember: bool) -> str:
    """Record a new session for `user`; returns the raw token for the cookie (and sets
    it on `user`, whose `get_id` Flask-Login stores)."""
    now = utcnow()
    # Housekeeping: this user's expired rows go when they log in again.
    db.session.execute(
        sa.delete(UserSession).where(UserSession.user_id == user.id, UserSession.expires_at <= now)
    )
    token = secrets.token_urlsafe(32)
    db.session.add(
        UserSession(
            user_id=user.id,
            token_hash=_hash(token),
            remember=remember,
            session_version=user.session_version,
            created_at=now,
            last_seen_at=now,
            expires_at=now + REMEMBER_LIFETIME,
        )
    )
    db.session.flush()
    user.session_token = token
    return token


def find_session(token: str) -> tuple[UserSession, User] | None:
    """The live session with this token and its user, or None (unknown, ended, expired,
    idle too long, the user deactivated or their sessions revoked)."""
    if not token:
        return None
    row = db.session.execute(
        sa.select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == _hash(token))
    ).first()
    if row is None:
        return None
    session, user = row
    now = utcnow()
    if (
        session.expires_at <= now
        or (not session.remember and now - session.last_seen_at > IDLE_LIFETIME)
        or not user.active
        or session.session_version != user.session_version
    ):
        return None
    user.session_token = token
    return session, user


def touch_if_stale(session: UserSession) -> bool:
    """Whether `session` was last seen long enough ago to be worth recording again."""
    return utcnow() - session.last_seen_at > TOUCH_EVERY


def end_session(*, token: str | None) -> None:
    """Log out this browser: its token stops working everywhere it was copied."""
    if token:
        db.session.execute(sa.delete(UserSession).where(UserSession.token_hash == _hash(token)))


def end_all_sessions(*, user: User, except_token: str | None = None) -> int:
    """End every session of `user` (but the one with `except_token`); how many ended."""
    query = sa.delete(UserSession).where(UserSession.user_id == user.id)
    if except_token:
        query = query.where(UserSession.token_hash != _hash(except_token))
    return db.session.execute(query).rowcount


def open_session_count(user: User) -> int:
    """Sessions of `user` that still work (what find_session would accept)."""
    now = utcnow()
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(UserSession)
        .where(
            UserSession.user_id == user.id,
            UserSession.expires_at > now,
            UserSession.session_version == user.session_version,
            sa.or_(UserSession.remember, UserSession.last_seen_at >= now - IDLE_LIFETIME),
        )
    )

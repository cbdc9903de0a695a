"""Passwords: checking one at login, changing it, and single-use reset links.

A changed or reset password ends the user's other sessions (app/services/sessions.py).
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import PasswordReset, User, utcnow
from app.services.accounts import check_can_manage, check_password_strength, hash_token
from app.services.errors import DomainError, NotAllowed
from app.services.sessions import end_all_sessions

RESET_LIFETIME = timedelta(minutes=30)
# Reset emails one address may receive per hour, however many addresses ask for them:
# asking from many places must not flood someone's inbox.
RESETS_PER_ADDRESS_PER_HOUR = 3

# One dummy hash per hash method (PASSWORD_HASH_METHOD, which User.set_password reads).
_dummy_hashes: dict[str, str] = {}


def _dummy_password_hash() -> str:
    """A hash of a random password, made the way real ones are (User.set_password), so
    checking a password against it costs what checking a real account's costs."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _dummy_hashes:
        probe = User()
        probe.set_password(secrets.token_urlsafe(16))
        _dummy_hashes[method] = probe.password_hash
    return _dummy_hashes[method]


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(
        sa.select(User).where(sa.func.lower(User.email) == email.strip().lower())
    )


def authenticate(*, email: str, password: str) -> User | None:
    """The user whose email and password these are, else None. Takes as long for an
    unknown address as for a known one (a dummy hash is checked): the answer time must
    not tell whether an address has an account."""
    user = find_user_by_email(email)
    if user is None:
        User(password_hash=_dummy_password_hash()).check_password(password)
        return None
    return user if user.check_password(password) else None


def change_password(
    *, user: User, current_password: str, new_password: str, keep_session_token: str | None
) -> int:
    """Change `user`'s password after checking the current one; every other session of
    theirs ends (returns how many). `keep_session_token` is the browser doing it."""
    if not user.check_password(current_password):
        raise DomainError("That isn't your current password.", field="current_password")
    check_password_strength(new_password)
    if user.check_password(new_password):
        raise DomainError("Choose a password different from the current one.", field="password")
    user.set_password(new_password)
    db.session.flush()
    return end_all_sessions(user=user, except_token=keep_session_token)


def _new_reset(user: User, requested_by: User | None) -> tuple[PasswordReset, str]:
    now = utcnow()
    # Only the newest link works: asking again withdraws the earlier ones.
    db.session.execute(
        sa.update(PasswordReset)
        .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    raw_token = secrets.token_urlsafe(32)
    reset = PasswordReset(
        user_id=user.id,
        token_hash=hash_token(raw_token),
        requested_by_id=requested_by.id if requested_by else None,
        created_at=now,
        expires_at=now + RESET_LIFETIME,
    )
    db.session.add(reset)
    db.session.flush()
    return reset, raw_token


def request_password_reset(*, email: str) -> tuple[PasswordReset, str] | None:
    """A reset link for the account with this email, or None (no such active account,
    or it already got RESETS_PER_ADDRESS_PER_HOUR links this hour). The caller answers
    the same either way."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        return None
    recent = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(PasswordReset)
        .where(
            PasswordReset.user_id == user.id,
            PasswordReset.created_at > utcnow() - timedelta(hours=1),
        )
    )
    if recent >= RESETS_PER_ADDRESS_PER_HOUR:
        return None
    return _new_reset(user, None)


def send_reset_to_member(*, actor: User, user: User) -> tuple[PasswordReset, str]:
    """An owner or admin sends a teammate a reset link (they forgot it and can't
    reach their email's "Forgot password?")."""
    check_can_manage(actor=actor, user=user)
    if actor.id == user.id:
        raise NotAllowed("Change your own password on your profile page.")
    if not user.active:
        raise NotAllowed(f"{user.name} is deactivated: reactivate them first.")
    return _new_reset(user, actor)


class ResetLinkUnusable(DomainError):
    status_code = 410


def find_password_reset(raw_token: str) -> PasswordReset:
    """The reset this link is for, if it can still be used; else ResetLinkUnusable."""
    reset = (
        db.session.scalar(
            sa.select(PasswordReset).where(PasswordReset.token_hash == hash_token(raw_token))
        )
        if raw_token
        else None
    )
    if reset is None or reset.used_at is not None or not reset.user.active:
        raise ResetLinkUnusable(
            "This reset link has already been used or was replaced by a newer one. "
            "Ask for a new one."
        )
    if reset.expires_at <= utcnow():
        raise ResetLinkUnusable("This reset link has expired (they last 30 minutes). Ask again.")
    return reset


def reset_password(*, reset: PasswordReset, new_password: str) -> User:
    """Set the new password and use up the link; every session of the user ends."""
    check_password_strength(new_password)
    now = utcnow()
    # One conditional UPDATE claims the link, so two submissions cannot both use it.
    claimed = db.session.execute(
        sa.update(PasswordReset)
        .where(
            PasswordReset.id == reset.id,
            PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > now,
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        raise ResetLinkUnusable("This reset link has already been used. Ask for a new one.")
    user = reset.user
    user.set_password(new_password)
    db.session.flush()
    end_all_sessions(user=user)
    return user

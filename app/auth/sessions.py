"""How a session cookie becomes a user."""

from __future__ import annotations

from app.extensions import db
from app.models import User


def load_user(session_id: str) -> User | None:
    """Flask-Login's user loader.

    The session id is "<user id>:<session version>". Deactivating a user or resetting
    their password bumps the version, so every session issued before stops matching.
    """
    user_id, _, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return user

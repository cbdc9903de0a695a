"""How a session cookie becomes a user."""

from __future__ import annotations

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from app.extensions import db
from app.models import User


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a request carrying no session cookie
    (every Twilio webhook) gets its empty session without Flask first building the
    cookie's signing serializer: that was a twentieth of the SMS webhook's cost."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)


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

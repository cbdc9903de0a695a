"""How a session cookie becomes a user, and how a browser logs in and out."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import current_user, login_user, logout_user

from app.extensions import db
from app.models import User, UserSession, utcnow
from app.services.sessions import end_session, find_session, start_session, touch_if_stale


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a request carrying no session cookie
    (every Twilio webhook) gets its empty session without Flask first building the
    cookie's signing serializer: that was a twentieth of the SMS webhook's cost."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if self.get_cookie_name(app) not in request.cookies and app.secret_key:
            return self.session_class()
        return super().open_session(app, request)


def load_user(session_token: str) -> User | None:
    """Flask-Login's user loader: the id in the session and remember-me cookies is the
    token of a server-side session (app/services/sessions.py), never the user id."""
    found = find_session(session_token)
    if found is None:
        return None
    session, user = found
    if touch_if_stale(session):
        # Its own short transaction: the request may only read, and never commits then.
        with db.engine.begin() as connection:
            connection.execute(
                sa.update(UserSession)
                .where(UserSession.id == session.id)
                .values(last_seen_at=utcnow())
            )
    return user


def log_in(user: User, *, remember: bool = False) -> None:
    """Start a server-side session for `user` and put its token in this browser's cookies.
    The caller commits."""
    start_session(user=user, remember=remember)
    login_user(user, remember=remember)


def log_out() -> None:
    """End this browser's session on the server too: a copied cookie stops working."""
    if current_user.is_authenticated:
        end_session(token=current_user.session_token)
    logout_user()

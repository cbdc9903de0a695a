from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask import current_app
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db
from app.models.company import Company
from app.models.types import UTCDateTime, utcnow


class Role:
    OWNER = "owner"
    ADMIN = "admin"
    OFFICE = "office"
    TECH = "tech"
    ALL = (OWNER, ADMIN, OFFICE, TECH)
    # Roles that manage the account: team, settings, the custom number.
    MANAGERS = (OWNER, ADMIN)
    # Roles that use the office UI.
    OFFICE_ROLES = (OWNER, ADMIN, OFFICE)
    LABELS = {OWNER: "Owner", ADMIN: "Admin", OFFICE: "Office", TECH: "Technician"}


def new_public_token() -> str:
    """An unguessable URL token (256 bits from `secrets`)."""
    return secrets.token_urlsafe(32)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    # Logins are by email, so an email is unique across the whole installation.
    email: so.Mapped[str] = so.mapped_column(sa.String(255), unique=True)
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(255))
    role: so.Mapped[str] = so.mapped_column(sa.String(16), default=Role.TECH)
    mobile_phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    photo_filename: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    # The photo's public URL uses this token, never the user id, so it cannot be guessed.
    photo_token: so.Mapped[str] = so.mapped_column(
        sa.String(64), unique=True, default=new_public_token
    )
    active: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())
    # Part of the session identity: bumping it ends every open session of this user.
    session_version: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    # Also receive texts routed to me as SMS on my mobile (off by default).
    forward_texts: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    company: so.Mapped[Company] = so.relationship(foreign_keys=[company_id])

    def set_password(self, password: str) -> None:
        # The method is configurable so the test suite can use a cheap hash; production
        # keeps werkzeug's default (scrypt).
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    # The raw token of the server-side session this object was loaded or logged in
    # with (app/auth/sessions.py); Flask-Login stores it as the user's id in the cookies.
    session_token = None  # str | None; not a column

    def get_id(self) -> str:
        if not self.session_token:
            # A login without a server-side session could never be ended by logging out.
            raise RuntimeError("log in through app.auth.sessions.log_in, not login_user")
        return self.session_token

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name

    @property
    def role_label(self) -> str:
        return Role.LABELS.get(self.role, self.role)

    @property
    def is_manager(self) -> bool:
        return self.role in Role.MANAGERS

    @property
    def is_office(self) -> bool:
        return self.role in Role.OFFICE_ROLES

    @property
    def is_tech(self) -> bool:
        return self.role == Role.TECH

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email!r} {self.role}>"


class Invitation(db.Model):
    """A one-time link that lets a person join a company with a given role."""

    __tablename__ = "invitations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    email: so.Mapped[str] = so.mapped_column(sa.String(255))
    name: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    role: so.Mapped[str] = so.mapped_column(sa.String(16))
    # Only a SHA-256 of the token is stored; the token itself is in the link.
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    invited_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    accepted_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    revoked_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    company: so.Mapped[Company] = so.relationship()


class UserSession(db.Model):
    """One logged-in browser. The cookie holds a random token; only its SHA-256 is kept
    here, so logging out (deleting the row) ends the session wherever the cookie was
    copied, and a password change can end all the others."""

    __tablename__ = "user_sessions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    # "Keep me logged in": the session outlives the browser (up to its expiry).
    remember: so.Mapped[bool] = so.mapped_column(default=False)
    # The user's session_version when it began: deactivating the user bumps the version.
    session_version: so.Mapped[int] = so.mapped_column()
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())

    user: so.Mapped[User] = so.relationship()


class PasswordReset(db.Model):
    """A single-use link that lets a person choose a new password."""

    __tablename__ = "password_resets"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # Only a SHA-256 of the token is stored; the token itself is in the emailed link.
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    # The owner/admin who sent it from the team page; None when the person asked.
    requested_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    used_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    user: so.Mapped[User] = so.relationship(foreign_keys=[user_id])

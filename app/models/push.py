"""Web Push: the browsers (phones) that asked for notifications, the deliveries the worker
owes them, and the deployment's VAPID key pair.

A `PushSubscription` is what `PushManager.subscribe()` gave one browser of one user: the
push service's endpoint URL and the browser's keys (p256dh, auth) that encrypt the payload.
A `PushDelivery` is one push owed to one subscription for one routed text, written in the
routing's transaction and sent by the worker (app/services/push.py), unique per
(subscription, message) so a text routed twice never pushes twice.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class PushSubscription(db.Model):
    __tablename__ = "push_subscriptions"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # One row per browser: the push service's URL names it. Endpoints are long (FCM's are
    # about 190 characters, Apple's about 150); 1000 leaves room for any service.
    endpoint: so.Mapped[str] = so.mapped_column(sa.String(1000), unique=True)
    p256dh: so.Mapped[str] = so.mapped_column(sa.String(200))
    auth: so.Mapped[str] = so.mapped_column(sa.String(100))
    # Show the text itself on the lock screen; off by default (a customer's words are not
    # for whoever picks up the phone).
    previews: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # "Chrome on Android", for the profile's list of devices.
    device: so.Mapped[str] = so.mapped_column(sa.String(120), default="", server_default="")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    last_success_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())


class PushStatus:
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"  # refused for good (a bad request, a day of retries)


class PushDelivery(db.Model):
    __tablename__ = "push_deliveries"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "message_id", name="uq_push_delivery_once"),
        sa.Index("ix_push_deliveries_due", "status", "next_attempt_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    # A removed subscription (expired, turned off) takes what it was still owed with it.
    subscription_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("push_subscriptions.id", ondelete="CASCADE")
    )
    message_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"))
    status: so.Mapped[str] = so.mapped_column(sa.String(12), default=PushStatus.PENDING)
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_error: so.Mapped[str | None] = so.mapped_column(sa.String(500))

    subscription: so.Mapped[PushSubscription] = so.relationship()


class VapidKey(db.Model):
    """The deployment's VAPID key pair, made once (unless VAPID_PRIVATE_KEY is set). Every
    subscription is bound to the public key, so changing it silently ends them all: it is
    kept here rather than made per process."""

    __tablename__ = "vapid_keys"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # The raw P-256 private number, base64url (what VAPID_PRIVATE_KEY takes too).
    private_key: so.Mapped[str] = so.mapped_column(sa.String(100))
    # The uncompressed point, base64url: the browser's applicationServerKey.
    public_key: so.Mapped[str] = so.mapped_column(sa.String(100))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

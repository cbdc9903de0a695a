"""Web Push notifications of routed texts (docs/push.md).

- The browser subscribes from the profile page (app/static/push.js): `subscribe` keeps its
  endpoint and keys for the user, `unsubscribe` forgets them, `set_previews` says whether
  the text itself may show on the lock screen.
- When routing makes users recipients of a customer's text (the `text_routed` signal), one
  `PushDelivery` per subscription of each such user is written in the same transaction
  (`queue_pushes`): never for the user's own text (sent from their own mobile), never twice
  for the same text and browser.
- The worker claims due deliveries (`claim_due_pushes`), sends them through the gateway
  outside any transaction, and records the answer: 201 sent; 404/410 the subscription is
  gone and is removed; 429/5xx/no answer retried with backoff; other refusals failed.

The payload is built at claim time, so turning previews off stops the next push carrying
the text even if it was queued before.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parseaddr
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app

from app.extensions import db
from app.models import (
    Conversation,
    Direction,
    Message,
    PushDelivery,
    PushStatus,
    PushSubscription,
    User,
    VapidKey,
    utcnow,
)
from app.push import gateway
from app.services.errors import DomainError, NotAllowed
from app.services.message_events import text_routed
from app.services.phones import format_phone
from app.services.thread_links import thread_url_for
from app.services.uniqueness import insert_once, insert_unless_present

log = logging.getLogger(__name__)

# A notification about a text older than this is noise, not news: the push service drops
# it if the phone stays offline that long, and the worker stops retrying then.
PUSH_TTL = timedelta(hours=4)
RETRY_FIRST = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=30)
LEASE = timedelta(minutes=2)
PREVIEW_CHARS = 180
NO_PREVIEW_BODY = "New text message. Open to read and reply."
_B64URL = re.compile(r"^[A-Za-z0-9_-]+={0,2}$")


# ----------------------------------------------------------------------------- VAPID keys


@dataclass(frozen=True)
class VapidKeys:
    private_key: str  # base64url of the raw 32-byte P-256 private number
    public_key: str  # base64url of the uncompressed point: the applicationServerKey
    subject: str  # mailto: or https: contact the push services may write to


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key_pair() -> tuple[str, str]:
    """A fresh P-256 pair as (private, public) base64url strings."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_numbers().private_value.to_bytes(32, "big")
    public = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return _b64url(private), _b64url(public)


def public_key_of(private_key: str) -> str:
    number = int.from_bytes(_unb64url(private_key), "big")
    key = ec.derive_private_key(number, ec.SECP256R1())
    return _b64url(
        key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    )


def vapid_subject(config) -> str:
    if config.get("VAPID_SUBJECT"):
        return config["VAPID_SUBJECT"]
    # Push services write to this contact about a misbehaving sender: the address mail
    # goes out from is the deployment's own.
    address = parseaddr(config.get("MAIL_FROM", ""))[1]
    return f"mailto:{address}" if "@" in address else "mailto:admin@localhost"


def vapid_keys() -> VapidKeys:
    """The deployment's VAPID keys: VAPID_PRIVATE_KEY (and its public half) from the
    environment when set, else the pair in the database, made on first use. Commits
    nothing itself; a pair made here is inserted in a savepoint, and a concurrent first
    use that lost the race reads the winner's pair."""
    config = current_app.config
    subject = vapid_subject(config)
    if config.get("VAPID_PRIVATE_KEY"):
        private = config["VAPID_PRIVATE_KEY"]
        return VapidKeys(private, config.get("VAPID_PUBLIC_KEY") or public_key_of(private), subject)
    row = db.session.get(VapidKey, 1)
    if row is None:
        private, public = new_key_pair()
        # Committed on its own at once (ON CONFLICT DO NOTHING): the page that showed the
        # public key to a browser may be a GET that commits nothing, and a key that was
        # rolled back would leave that browser subscribed to a key nobody holds.
        insert_unless_present(
            db.engine,
            VapidKey.__table__,
            {"id": 1, "private_key": private, "public_key": public, "created_at": utcnow()},
            unique_column="id",
        )
        row = db.session.get(VapidKey, 1)
        assert row is not None
    return VapidKeys(row.private_key, row.public_key, subject)


# ----------------------------------------------------------------------------- subscriptions


def _check_endpoint(endpoint: str, *, allow_http_loopback: bool) -> str:
    endpoint = (endpoint or "").strip()
    parts = urlsplit(endpoint)
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not parts.hostname or len(endpoint) > 1000:
        raise DomainError("This browser gave no usable push address.", field="endpoint")
    if parts.scheme != "https" and not (
        parts.scheme == "http" and loopback and allow_http_loopback
    ):
        # Every browser's push service is HTTPS; anything else would make the worker post
        # to an address of the subscriber's choosing.
        raise DomainError("A push address must be an https:// URL.", field="endpoint")
    return endpoint


def _check_key(value: str, *, length: int, field: str) -> str:
    value = (value or "").strip()
    try:
        raw = _unb64url(value) if _B64URL.match(value) else b""
    except ValueError:
        raw = b""
    if len(raw) != length or (length == 65 and raw[0] != 4):
        raise DomainError("This browser's push keys are not valid.", field=field)
    return value


def subscribe(
    *,
    user: User,
    endpoint: str,
    p256dh: str,
    auth: str,
    previews: bool,
    device: str = "",
    allow_http_loopback: bool = False,
) -> PushSubscription:
    """Keep this browser's subscription for `user` (flushes). The same browser again (its
    endpoint) updates the row: a shared phone on which another user logs in and turns
    notifications on gets that user's pushes from then on, not the previous user's."""
    endpoint = _check_endpoint(endpoint, allow_http_loopback=allow_http_loopback)
    p256dh = _check_key(p256dh, length=65, field="p256dh")
    auth = _check_key(auth, length=16, field="auth")
    existing = db.session.scalar(sa.select(PushSubscription).filter_by(endpoint=endpoint))
    if existing is None:
        existing = PushSubscription(endpoint=endpoint)
        db.session.add(existing)
    elif existing.user_id != user.id:
        # Pushes owed to the previous user are about their texts: not for this one.
        db.session.execute(
            sa.delete(PushDelivery).where(PushDelivery.subscription_id == existing.id)
        )
    existing.user_id = user.id
    existing.company_id = user.company_id
    existing.p256dh = p256dh
    existing.auth = auth
    existing.previews = previews
    existing.device = (device or "")[:120]
    db.session.flush()
    return existing


def subscriptions_of(user: User) -> list[PushSubscription]:
    return list(
        db.session.scalars(
            sa.select(PushSubscription)
            .filter_by(user_id=user.id, company_id=user.company_id)
            .order_by(PushSubscription.id)
        )
    )


def _own(subscription: PushSubscription, user: User) -> None:
    if subscription.user_id != user.id or subscription.company_id != user.company_id:
        raise NotAllowed("You can change only your own notifications.")


def _remove_subscription(subscription_id: int) -> None:
    # Its pending pushes go with it (explicitly: not every database enforces the cascade).
    db.session.execute(
        sa.delete(PushDelivery).where(PushDelivery.subscription_id == subscription_id)
    )
    db.session.execute(sa.delete(PushSubscription).where(PushSubscription.id == subscription_id))


def unsubscribe(*, user: User, subscription: PushSubscription) -> None:
    _own(subscription, user)
    _remove_subscription(subscription.id)
    db.session.expunge(subscription)
    db.session.flush()


def unsubscribe_endpoint(*, user: User, endpoint: str) -> bool:
    """Forget this browser (the page turned notifications off). False if it was not kept."""
    subscription = db.session.scalar(
        sa.select(PushSubscription).filter_by(endpoint=(endpoint or "").strip())
    )
    if subscription is None or subscription.user_id != user.id:
        return False
    unsubscribe(user=user, subscription=subscription)
    return True


def forget_devices(*, user: User) -> int:
    """Stop notifications on every device of `user` ("Log out everywhere": a lost phone
    must not keep showing customers' names). Returns how many were forgotten."""
    ids = [s.id for s in subscriptions_of(user)]
    for subscription_id in ids:
        _remove_subscription(subscription_id)
    return len(ids)


def set_previews(*, user: User, subscription: PushSubscription, previews: bool) -> None:
    _own(subscription, user)
    subscription.previews = previews
    db.session.flush()


# ----------------------------------------------------------------------------- queueing


def is_own_text(message: Message, user: User) -> bool:
    """The user sent this text themselves (from their own mobile, e.g. answering a
    forward): it is news to the others, not to them."""
    return bool(user.mobile_phone) and user.mobile_phone == message.from_phone


def queue_pushes(*, message: Message, users: list[User] | tuple[User, ...], now: datetime) -> int:
    """One pending push per subscription of each user (flushes); returns how many."""
    if message.direction != Direction.IN:
        return 0
    wanted = [u.id for u in users if u.active and not is_own_text(message, u)]
    if not wanted:
        return 0
    subscriptions = db.session.scalars(
        sa.select(PushSubscription).where(
            PushSubscription.user_id.in_(wanted),
            PushSubscription.company_id == message.company_id,
        )
    ).all()
    queued = 0
    for subscription in subscriptions:
        queued += insert_once(
            PushDelivery(
                company_id=message.company_id,
                subscription_id=subscription.id,
                message_id=message.id,
                user_id=subscription.user_id,
                status=PushStatus.PENDING,
                next_attempt_at=now,
                created_at=now,
            )
        )
    if queued:
        # The in-process worker picks them up at once rather than at its next poll.
        db.session.info["outbox_wake"] = True
    return queued


@text_routed.connect
def _on_text_routed(message: Message, users=(), **_: object) -> None:
    queue_pushes(message=message, users=list(users), now=utcnow())


# ----------------------------------------------------------------------------- sending


@dataclass(frozen=True)
class PushItem:
    """What one send needs, read at claim time: the send touches no database session."""

    id: int
    subscription_id: int
    attempts: int
    created_at: datetime
    target: gateway.Target
    payload: bytes
    topic: str


def payload_for(*, message: Message, user: User, previews: bool) -> dict[str, str]:
    conversation: Conversation = message.conversation
    customer = conversation.customer
    title = customer.name if customer is not None else format_phone(conversation.phone)
    if previews:
        text = message.body.strip()
        if message.media_urls:
            count = len(message.media_urls)
            photos = f"({count} photo{'s' if count != 1 else ''})"
            text = f"{text} {photos}" if text else photos
        if len(text) > PREVIEW_CHARS:
            text = text[: PREVIEW_CHARS - 1].rstrip() + "…"
        body = text or NO_PREVIEW_BODY
    else:
        body = NO_PREVIEW_BODY
    return {
        "title": title,
        "body": body,
        "url": thread_url_for(user=user, conversation=conversation),
        # One notification per conversation on the phone: a newer text replaces it.
        "tag": f"conversation-{conversation.id}",
    }


def claim_due_pushes(*, now: datetime, limit: int = 50) -> list[PushItem]:
    """Claim up to `limit` due pushes until `now + LEASE` and build their payloads. The
    caller commits before sending. On PostgreSQL concurrent workers skip each other's
    rows; on SQLite the conditional UPDATE gives each row to one worker only."""
    stmt = (
        sa.select(PushDelivery.id)
        .where(PushDelivery.status == PushStatus.PENDING, PushDelivery.next_attempt_at <= now)
        .order_by(PushDelivery.next_attempt_at, PushDelivery.id)
        .limit(limit)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(db.session.scalars(stmt))
    if not ids:
        return []
    claimed = db.session.scalars(
        sa.update(PushDelivery)
        .where(
            PushDelivery.id.in_(ids),
            PushDelivery.status == PushStatus.PENDING,
            PushDelivery.next_attempt_at <= now,
        )
        .values(next_attempt_at=now + LEASE, attempts=PushDelivery.attempts + 1)
        .returning(PushDelivery.id),
        execution_options={"synchronize_session": False},
    ).all()
    items = []
    for delivery in db.session.scalars(
        sa.select(PushDelivery).where(PushDelivery.id.in_(claimed)).order_by(PushDelivery.id)
    ):
        db.session.refresh(delivery)
        subscription = delivery.subscription
        message = db.session.get(Message, delivery.message_id)
        user = db.session.get(User, delivery.user_id)
        assert message is not None and user is not None
        payload = payload_for(message=message, user=user, previews=subscription.previews)
        items.append(
            PushItem(
                id=delivery.id,
                subscription_id=subscription.id,
                attempts=delivery.attempts,
                created_at=delivery.created_at,
                target=gateway.Target(
                    subscription.endpoint, subscription.p256dh, subscription.auth
                ),
                payload=json.dumps(payload).encode(),
                topic=f"c{message.conversation_id}",
            )
        )
    return items


def send_claimed(*, item: PushItem, keys: VapidKeys, now: datetime) -> None:
    """Send one claimed push (no database work: call outside a transaction) and record
    the answer (flushes; the caller commits)."""
    ttl = max(0, int((item.created_at + PUSH_TTL - now).total_seconds()))
    try:
        gateway.send_push(
            target=item.target,
            payload=item.payload,
            vapid_private_key=keys.private_key,
            vapid_subject=keys.subject,
            ttl=ttl,
            topic=item.topic,
        )
    except gateway.SubscriptionGone as gone:
        log.info("push: subscription %s is gone (%s); removed", item.subscription_id, gone)
        _remove_subscription(item.subscription_id)
        return
    except gateway.PushRejected as rejected:
        _record(item, status=PushStatus.FAILED, error=rejected.message, now=now)
        return
    except gateway.PushRetryLater as later:
        if now >= item.created_at + PUSH_TTL:
            _record(item, status=PushStatus.FAILED, error=f"Gave up: {later.message}", now=now)
            return
        delay = min(RETRY_FIRST * 2 ** max(item.attempts - 1, 0), RETRY_MAX)
        if later.retry_after is not None:
            delay = max(delay, timedelta(seconds=later.retry_after))
        _record(item, status=PushStatus.PENDING, error=later.message, now=now, retry_at=now + delay)
        return
    _record(item, status=PushStatus.SENT, error=None, now=now)
    db.session.execute(
        sa.update(PushSubscription)
        .where(PushSubscription.id == item.subscription_id)
        .values(last_success_at=now)
    )


def _record(
    item: PushItem,
    *,
    status: str,
    error: str | None,
    now: datetime,
    retry_at: datetime | None = None,
) -> None:
    values: dict[str, object] = {"status": status, "last_error": (error or None) and error[:500]}
    if status == PushStatus.SENT:
        values["sent_at"] = now
    if retry_at is not None:
        values["next_attempt_at"] = retry_at
    db.session.execute(sa.update(PushDelivery).where(PushDelivery.id == item.id).values(**values))


def deliver_due_pushes(*, now: datetime, limit: int = 50) -> int:
    """Claim, send and record every due push, one after another (the tests and `flask
    outbox work --once`; the dispatcher sends them on its thread pool instead)."""
    # Before the claim writes: on SQLite a first key pair is inserted on another connection.
    keys = vapid_keys()
    items = claim_due_pushes(now=now, limit=limit)
    db.session.commit()
    for item in items:
        send_claimed(item=item, keys=keys, now=now)
        db.session.commit()
    return len(items)

"""The outbox's bookkeeping: claiming due texts, recording what Twilio said, retry timing,
and delivery status updates. The dispatcher (app/worker/dispatcher.py) calls these in short
transactions of its own; nothing here talks to Twilio.

A message's `attempts` doubles as a fencing token: a dispatcher records the outcome of its
attempt only while the row still carries the attempt number it claimed, so a dispatcher
whose lease ran out cannot overwrite the work of the one that took over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Direction, Message, MessageStatus
from app.sms.error_codes import OPTED_OUT, error_explanation
from app.tenancy import parse_id
from app.urls import public_url_for

BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=5)
RETRY_AFTER_CAP = timedelta(hours=1)
# A text Twilio keeps refusing with 429/5xx for this long is given up, with the reason.
GIVE_UP_AFTER = timedelta(hours=24)

# Forward-only delivery status: a status may only replace one of lower rank, and the final
# ones (rank 4) never change.
STATUS_RANK = {
    MessageStatus.PENDING: 0,
    MessageStatus.SENDING: 1,
    MessageStatus.QUEUED: 2,
    MessageStatus.SENT: 3,
    MessageStatus.DELIVERED: 4,
    MessageStatus.UNDELIVERED: 4,
    MessageStatus.FAILED: 4,
    MessageStatus.CANCELED: 4,
}
# Twilio's status words -> ours. Twilio's "sending" is still on Twilio's side.
TWILIO_STATUS = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.CANCELED,
}
STATUS_MARKER = "mid"  # query parameter of our StatusCallback URL: the message id


@dataclass(frozen=True)
class OutboxItem:
    """What a dispatcher needs to send one claimed text, read in the claiming transaction
    so the send itself touches no database session."""

    id: int
    company_id: int
    from_phone: str
    to_phone: str
    body: str
    media_urls: tuple[str, ...]
    attempts: int
    created_at: datetime
    reconcile_since: datetime | None
    twilio_sid: str | None
    kind: str = ""


def _claimable(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Message.direction == Direction.OUT,
        sa.or_(
            sa.and_(Message.status == MessageStatus.PENDING, Message.next_attempt_at <= now),
            # A claim whose lease ran out: its dispatcher died or hung mid-send.
            sa.and_(Message.status == MessageStatus.SENDING, Message.claimed_until < now),
        ),
    )


def claim_due(*, now: datetime, limit: int, lease: timedelta) -> list[OutboxItem]:
    """Claim up to `limit` due texts for this dispatcher until `now + lease`.

    One WITH due AS (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE ... RETURNING: on PostgreSQL
    concurrent dispatchers skip each other's rows; on SQLite the statement runs under the
    database's single write lock. The caller commits at once, before sending anything.
    """
    if limit <= 0:
        return []
    postgres = db.session.get_bind().dialect.name == "postgresql"
    # Expired claims first (rare), then due pending texts. Two selects, each answered by
    # walking ix_messages_status_next_attempt in order and stopping after `limit` rows:
    # one select with an OR of the two had to fetch and sort the whole backlog on every
    # claim (20 ms with 10,000 texts waiting; bench/dispatch.py).
    expired = (
        sa.select(Message.id)
        .where(
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.SENDING,
            Message.claimed_until < now,
        )
        .order_by(Message.claimed_until, Message.id)
        .limit(limit)
    )
    pending = (
        sa.select(Message.id)
        .where(
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.PENDING,
            Message.next_attempt_at <= now,
        )
        .order_by(Message.next_attempt_at)
        .limit(limit)
    )
    if postgres:
        expired = expired.with_for_update(skip_locked=True)
        pending = pending.with_for_update(skip_locked=True)
    # CTEs, not a plain IN (subquery): PostgreSQL may re-run a subquery once per row it
    # checks, and with SKIP LOCKED each run can pick different rows, claiming more than
    # `limit`. A CTE that locks rows is evaluated exactly once.
    expired_cte, pending_cte = expired.cte("expired"), pending.cte("pending")
    picked = (
        sa.union_all(sa.select(expired_cte.c.id), sa.select(pending_cte.c.id))
        .limit(limit)
        .cte("due")
    )
    if postgres:
        # The picked rows are locked and were checked as they were locked; by primary key,
        # so the planner cannot choose to scan every claimable row (its statistics rarely
        # know about a backlog).
        target = [Message.id == sa.any_(sa.func.array(sa.select(picked.c.id).scalar_subquery()))]
    else:
        target = [Message.id.in_(sa.select(picked.c.id)), _claimable(now)]
    stmt = (
        sa.update(Message)
        .where(*target)
        .values(
            status=MessageStatus.SENDING,
            claimed_until=now + lease,
            attempts=Message.attempts + 1,
            last_attempt_at=now,
            # Reclaiming an expired claim: the earlier attempt may have reached Twilio.
            reconcile_since=sa.case(
                (
                    Message.status == MessageStatus.SENDING,
                    sa.func.coalesce(Message.reconcile_since, Message.last_attempt_at, now),
                ),
                else_=Message.reconcile_since,
            ),
            updated_at=now,
        )
        .returning(
            Message.id,
            Message.company_id,
            Message.from_phone,
            Message.to_phone,
            Message.body,
            Message.media_urls,
            Message.attempts,
            Message.created_at,
            Message.reconcile_since,
            Message.twilio_sid,
            Message.kind,
        )
    )
    rows = db.session.execute(stmt, execution_options={"synchronize_session": False}).all()
    items = [
        OutboxItem(
            id=row.id,
            company_id=row.company_id,
            from_phone=row.from_phone,
            to_phone=row.to_phone,
            body=row.body,
            media_urls=tuple(row.media_urls or ()),
            attempts=row.attempts,
            created_at=row.created_at,
            reconcile_since=row.reconcile_since,
            twilio_sid=row.twilio_sid,
            kind=row.kind,
        )
        for row in rows
    ]
    return sorted(items, key=lambda item: item.id)


def status_callback_url(message_id: int) -> str:
    """Where Twilio reports delivery status for this text. The marker lets the status
    webhook find the message even before the dispatcher has recorded its SID."""
    return public_url_for("webhooks.twilio_status", **{STATUS_MARKER: message_id})


def retry_delay(*, attempts: int, retry_after: float | None, message_id: int) -> timedelta:
    """Capped exponential backoff (2 s, 4 s, 8 s ... 5 min), or Twilio's Retry-After."""
    if retry_after is not None and retry_after > 0:
        return min(timedelta(seconds=retry_after), RETRY_AFTER_CAP)
    delay = min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)
    # A little spread so a hundred texts that failed together don't retry in lockstep.
    return delay * (1 + (message_id % 10) / 50)


def _mine(item: OutboxItem):
    return sa.and_(Message.id == item.id, Message.attempts == item.attempts)


def record_accepted(*, item: OutboxItem, sid: str, twilio_status: str, now: datetime) -> bool:
    """Twilio accepted the text (or reconciliation found it there). False when this
    dispatcher no longer holds the claim."""
    status = TWILIO_STATUS.get(twilio_status, MessageStatus.QUEUED)
    done = db.session.execute(
        sa.update(Message)
        .where(_mine(item), Message.status == MessageStatus.SENDING)
        .values(
            twilio_sid=sid,
            status=status,
            claimed_until=None,
            reconcile_since=None,
            sent_at=now,
            error_code=None,
            error_message=None,
            updated_at=now,
        ),
        execution_options={"synchronize_session": False},
    ).rowcount
    if done:
        return True
    # A status callback got here first and already moved the message forward.
    return bool(
        db.session.execute(
            sa.update(Message)
            .where(_mine(item))
            .values(
                twilio_sid=sa.func.coalesce(Message.twilio_sid, sid),
                claimed_until=None,
                reconcile_since=None,
                sent_at=sa.func.coalesce(Message.sent_at, now),
                updated_at=now,
            ),
            execution_options={"synchronize_session": False},
        ).rowcount
    )


def record_retry(
    *,
    item: OutboxItem,
    now: datetime,
    delay: timedelta,
    reason: str,
    outcome_unknown: bool = False,
) -> None:
    """Put the text back in the outbox, due after `delay`. With `outcome_unknown` it is
    looked up at Twilio before any new attempt."""
    values: dict[str, object] = {
        "status": MessageStatus.PENDING,
        "claimed_until": None,
        "next_attempt_at": now + delay,
        "error_message": reason,
        "updated_at": now,
    }
    if outcome_unknown:
        values["reconcile_since"] = sa.func.coalesce(Message.reconcile_since, now)
    db.session.execute(
        sa.update(Message)
        .where(_mine(item), Message.status == MessageStatus.SENDING)
        .values(**values),
        execution_options={"synchronize_session": False},
    )


def record_failure(
    *,
    item: OutboxItem,
    now: datetime,
    code: int | None,
    reason: str,
    status: str = MessageStatus.FAILED,
) -> None:
    """The text will never go: keep the code and the reason in words for the office."""
    db.session.execute(
        sa.update(Message)
        .where(_mine(item), Message.status == MessageStatus.SENDING)
        .values(
            status=status,
            claimed_until=None,
            error_code=code,
            error_message=reason,
            updated_at=now,
        ),
        execution_options={"synchronize_session": False},
    )
    if code == OPTED_OUT:
        record_carrier_opt_out(company_id=item.company_id, phone=item.to_phone)


def record_carrier_opt_out(*, company_id: int, phone: str) -> None:
    """Twilio says the number opted out (21610): no path may text it again until START."""
    from app.services.opt_outs import opt_out

    opt_out(company_id=company_id, phone=phone, keyword="carrier 21610", source="carrier")


def apply_status(
    *, message: Message, twilio_status: str, error_code: int | None, now: datetime
) -> bool:
    """Move `message` forward to Twilio's `twilio_status`. Never backwards (a late 'sent'
    after 'delivered' changes nothing) and never out of a final state. True if changed."""
    status = TWILIO_STATUS.get(twilio_status.lower())
    if status is None or message.status in MessageStatus.FINAL:
        return False
    if STATUS_RANK[status] <= STATUS_RANK.get(message.status, 0):
        return False
    message.status = status
    message.claimed_until = None
    message.reconcile_since = None  # Twilio has it: nothing left to look up
    message.updated_at = now
    if status in (MessageStatus.SENT, MessageStatus.DELIVERED) and message.sent_at is None:
        message.sent_at = now
    if status == MessageStatus.DELIVERED:
        message.delivered_at = now
    if error_code is not None:
        message.error_code = error_code
        message.error_message = error_explanation(error_code)
    return True


def find_for_status_callback(
    *, sid: str, marker: str | None, from_: str, to: str
) -> Message | None:
    """The outbound message a status callback is about: by SID, or by our marker when the
    dispatcher has not recorded the SID yet (the marker must agree with From/To)."""
    message = db.session.scalar(sa.select(Message).filter_by(twilio_sid=sid))
    message_id = parse_id(marker)
    if message is not None or message_id is None:
        return message
    candidate = db.session.get(Message, message_id)
    if (
        candidate is None
        or candidate.direction != Direction.OUT
        or candidate.twilio_sid not in (None, sid)
        or candidate.to_phone != to
        or candidate.from_phone != from_
    ):
        return None
    candidate.twilio_sid = sid
    return candidate


def record_status_callback(
    *,
    sid: str,
    twilio_status: str,
    error_code: int | None,
    marker: str | None,
    from_: str,
    to: str,
    now: datetime,
) -> Message | None:
    message = find_for_status_callback(sid=sid, marker=marker, from_=from_, to=to)
    if message is None:
        return None
    if (
        error_code is not None
        and message.error_code is None
        and message.status not in MessageStatus.FINAL
    ):
        message.error_code = error_code
        message.error_message = error_explanation(error_code)
    apply_status(message=message, twilio_status=twilio_status, error_code=error_code, now=now)
    db.session.flush()
    return message


def give_up(item: OutboxItem, now: datetime) -> bool:
    return now - item.created_at > GIVE_UP_AFTER

"""The office inbox: conversations, their threads, replies, read state and hand assignment.

Read side: `list_conversations` (one query: each conversation with its last message and
its unread count, as plain rows), `thread_messages`. Write side: `send_reply`,
`mark_read`, `reassign`, `create_customer_from_conversation`.

"Unread" is per message (`Message.read_at`): an inbound text counts as unread until
someone of the company opens its conversation. Each recipient also has their own read
state (`MessageRecipient.read_at`) that the tech page and escalation use.

FORWARD texts (copies of inbound texts sent to a user's own mobile) live in the
conversation with that user's mobile; they are not part of any customer thread, so the
inbox leaves them out everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models import (
    Company,
    Conversation,
    Customer,
    Direction,
    Job,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    User,
    utcnow,
)
from app.models.types import ilike_contains
from app.services.conversations import add_notice
from app.services.customers import create_customer
from app.services.errors import DomainError, NotAllowed
from app.services.message_media import (
    attach_outbound_photos,
    media_fingerprint,
    outbound_refs,
    prepare_outbound_photos,
)
from app.services.routing import (
    add_recipients,
    forward_to_mobiles,
    in_progress_job,
    routed_to_user_clause,
)
from app.services.tech_day import visible_messages
from app.services.texting import queue_text, texting_blocker
from app.sms.error_codes import error_explanation

# Ten segments of plain text: long enough for any real reply, short enough that a paste
# accident doesn't send a novel (and a bill) to a customer.
MAX_REPLY_CHARS = 1600

NOT_FORWARD = Message.kind != MessageKind.FORWARD
# The conversation list's last message; made once (an alias proxies every column).
_LAST_MESSAGE = so.aliased(Message, name="last_message")


@dataclass(frozen=True)
class LastMessage:
    id: int
    created_at: datetime
    kind: str
    direction: str
    status: str
    body: str
    has_media: bool


@dataclass(frozen=True)
class ConversationRow:
    """One line of the conversation list: the columns it shows, not whole rows. Building
    ORM objects for 100 conversations, their customers and last messages (every column of
    a message, JSON included) cost three times the query itself."""

    id: int
    phone: str
    customer_id: int | None
    customer_name: str | None
    last: LastMessage
    unread: int


@dataclass(frozen=True)
class DeliveryState:
    """How an outbound text's status looks next to it: ticks, a word, and any problem."""

    ticks: str
    label: str
    problem: str | None = None


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _unread_for(user: User) -> sa.ColumnElement[bool]:
    """Correlated to `Conversation`: it has a text routed to `user` that they have not read."""
    return (
        sa.select(MessageRecipient.id)
        .join(Message, Message.id == MessageRecipient.message_id)
        .where(
            Message.conversation_id == Conversation.id,
            MessageRecipient.user_id == user.id,
            MessageRecipient.read_at.is_(None),
            NOT_FORWARD,
        )
        .exists()
    )


def _last_inbound_to(user: User) -> sa.ColumnElement[bool]:
    """Correlated to `Conversation`: the customer's latest text was routed to `user`."""
    last_inbound = (
        sa.select(Message.id)
        .where(
            Message.conversation_id == Conversation.id,
            Message.direction == Direction.IN,
            Message.kind == MessageKind.INBOUND,
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    return (
        sa.select(MessageRecipient.id)
        .where(MessageRecipient.message_id == last_inbound, MessageRecipient.user_id == user.id)
        .exists()
    )


def routed_conversations_clause(*, company: Company, user: User) -> sa.ColumnElement[bool]:
    """What a technician's messages list: the conversations routed to them now (see
    `routed_to_user_clause`) and those with a text routed to them they have not read yet
    (routed during a job that has since finished: nothing routed to a tech goes unseen)."""
    return sa.or_(routed_to_user_clause(company=company, user=user), _unread_for(user))


def conversation_open_to(*, conversation: Conversation, user: User) -> bool:
    """Whether `user` may read and answer `conversation`. The office reads every
    conversation of its company. A technician reads the ones listed on their messages,
    and also keeps the one whose latest customer text was routed to them, so a thread
    they are answering does not vanish because the job was just finished."""
    if user.company_id != conversation.company_id or not user.active:
        return False
    if user.is_office:
        return True
    company = conversation.company
    stmt = sa.select(Conversation.id).where(
        Conversation.id == conversation.id,
        sa.or_(routed_conversations_clause(company=company, user=user), _last_inbound_to(user)),
    )
    return db.session.scalar(stmt) is not None


def unread_total(*, company: Company, user: User) -> int:
    """How many texts routed to `user` they have not read (the tech's "Messages" badge)."""
    return (
        db.session.scalar(
            sa.select(sa.func.count(MessageRecipient.id))
            .join(Message, Message.id == MessageRecipient.message_id)
            .where(
                MessageRecipient.user_id == user.id,
                MessageRecipient.read_at.is_(None),
                Message.company_id == company.id,
                NOT_FORWARD,
            )
        )
        or 0
    )


def list_conversations(
    *,
    company: Company,
    query: str = "",
    only_user: User | None = None,
    routed_to: User | None = None,
    limit: int = 100,
) -> list[ConversationRow]:
    """The company's conversations, newest first, each with its last message and the
    number of unread inbound messages, in ONE query.

    `query` matches the customer's name or any run of digits of the number;
    `only_user` keeps the conversations with a message routed to that user.
    `routed_to` is a technician's messages instead: see `list_routed_conversations`.
    """
    if routed_to is not None:
        return list_routed_conversations(company=company, user=routed_to, limit=limit)
    unread = (
        sa.select(sa.func.count(Message.id))
        .where(
            Message.conversation_id == Conversation.id,
            Message.direction == Direction.IN,
            Message.read_at.is_(None),
            NOT_FORWARD,
        )
        .correlate(Conversation)
        .scalar_subquery()
    )
    stmt = _list_statement(company=company, unread=unread, limit=limit)
    text = query.strip()
    if text:
        conditions = [ilike_contains(Customer.name, text)]
        digits = _digits(text)
        if len(digits) >= 3:
            conditions.append(Conversation.phone.contains(digits))
        stmt = stmt.where(sa.or_(*conditions))
    if only_user is not None:
        # A scalar subquery, not EXISTS: PostgreSQL turns an EXISTS under OR into one
        # hashed set of every conversation the user ever got a text in, reading the whole
        # messages table to build it (bench/pages.py); this is checked per conversation,
        # newest first, until the page is full.
        routed_to_user = (
            sa.select(MessageRecipient.id)
            .join(Message, Message.id == MessageRecipient.message_id)
            .where(
                Message.conversation_id == Conversation.id,
                MessageRecipient.user_id == only_user.id,
            )
            .limit(1)
            .correlate(Conversation)
            .scalar_subquery()
        )
        stmt = stmt.where(
            sa.or_(routed_to_user.is_not(None), Conversation.assigned_user_id == only_user.id)
        )
    return _conversation_rows(stmt)


def list_routed_conversations(
    *, company: Company, user: User, limit: int = 100
) -> list[ConversationRow]:
    """A technician's messages: the conversations routed to `user` (see
    `routed_conversations_clause`), those with their unread texts first, each newest first;
    the count is the user's own unread copies (the office opening the thread does not
    make the tech's texts read; escalation relies on the same distinction).

    Two reads, each stopping at `limit`: the conversations with the user's unread copies
    (found from those few rows), then the others routed to them now, whose count is 0 by
    construction. One query ordered by "has unread" made the database work out routing
    and counts for every conversation of the company: 2.6 s for a tech who is the Point of
    Contact of 10,000 conversations, against ~5 ms now (PostgreSQL, bench/seed.py --scale .5).
    """
    mine_unread = sa.and_(
        MessageRecipient.user_id == user.id,
        MessageRecipient.read_at.is_(None),
        NOT_FORWARD,
    )
    unread_ids = (
        sa.select(Message.conversation_id)
        .join(MessageRecipient, MessageRecipient.message_id == Message.id)
        .where(mine_unread, Message.company_id == company.id)
    )
    unread = (
        sa.select(sa.func.count(MessageRecipient.id))
        .join(Message, Message.id == MessageRecipient.message_id)
        .where(Message.conversation_id == Conversation.id, mine_unread)
        .correlate(Conversation)
        .scalar_subquery()
    )
    # The preview is the last text the user may see (issue 7: a tech never sees a
    # customer text that went to someone else, not even as a preview).
    visible = visible_messages(user) if user.is_tech else None
    first = _conversation_rows(
        _list_statement(company=company, unread=unread, limit=limit, visible=visible).where(
            Conversation.id.in_(unread_ids)
        )
    )
    if len(first) >= limit:
        return first
    rest = _list_statement(
        company=company, unread=sa.literal(0), limit=limit - len(first), visible=visible
    )
    rest = rest.where(
        Conversation.id.not_in(unread_ids), routed_to_user_clause(company=company, user=user)
    )
    return first + _conversation_rows(rest)


def _list_statement(
    *,
    company: Company,
    unread: sa.ColumnElement,
    limit: int,
    visible: sa.ColumnElement[bool] | None = None,
) -> sa.Select:
    """The conversation list's columns (with `unread` as the count), newest first; the
    last message shown is the last one `visible` allows (what a tech may see)."""
    last_id = (
        sa.select(Message.id)
        .where(
            Message.conversation_id == Conversation.id,
            NOT_FORWARD,
            visible if visible is not None else sa.true(),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    last = _LAST_MESSAGE
    return (
        sa.select(
            Conversation.id,
            Conversation.phone,
            Conversation.customer_id,
            Customer.name,
            last.id,
            last.created_at,
            last.kind,
            last.direction,
            last.status,
            last.body,
            # Whether it has photos, without decoding every message's JSON in Python.
            sa.func.json_array_length(last.media_urls) > 0,
            unread,
        )
        .select_from(Conversation)
        .join(last, last.id == last_id)
        .outerjoin(Customer, Customer.id == Conversation.customer_id)
        .where(Conversation.company_id == company.id)
        # Conversation.last_message_at (indexed with company_id) so the database reads only
        # the newest `limit` conversations; apply_routing and queue_text keep it current.
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(limit)
    )


def _conversation_rows(stmt: sa.Select) -> list[ConversationRow]:
    return [
        ConversationRow(
            id=conversation_id,
            phone=phone,
            customer_id=customer_id,
            customer_name=name,
            last=LastMessage(message_id, at, kind, direction, status, body, bool(has_media)),
            unread=count or 0,
        )
        for (
            conversation_id,
            phone,
            customer_id,
            name,
            message_id,
            at,
            kind,
            direction,
            status,
            body,
            has_media,
            count,
        ) in db.session.execute(stmt)
    ]


def list_version(rows: list[ConversationRow]) -> str:
    """A short fingerprint of what the list shows: polling answers "nothing new" when equal."""
    parts = [f"{r.id}:{r.last.id}:{r.last.status}:{r.unread}:{r.customer_id or 0}" for r in rows]
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def thread_messages(*, conversation: Conversation, viewer: User | None = None) -> list[Message]:
    """Every message of the conversation in both directions, oldest first (no forwards).

    A technician `viewer` sees what the tech page shows them (issue 7: what the company
    sent, the customer's texts routed to them) and the conversation's notes ("Bob assigned
    this conversation to Maria"), never customer texts that went to someone else."""
    visible = sa.true()
    if viewer is not None and viewer.is_tech:
        visible = sa.or_(visible_messages(viewer), Message.kind == MessageKind.NOTICE)
    return list(
        db.session.scalars(
            sa.select(Message)
            .where(Message.conversation_id == conversation.id, NOT_FORWARD, visible)
            .options(
                so.selectinload(Message.recipients).joinedload(MessageRecipient.user),
                # Selected apart, not joined: most texts have neither, and a join makes
                # every row carry (and the ORM read) a job's and a user's empty columns.
                so.selectinload(Message.job),
                so.selectinload(Message.author),
            )
            .order_by(Message.created_at, Message.id)
        )
    )


def thread_version(messages: list[Message], *also: object) -> str:
    """A fingerprint of the thread (and of `also`, what else the page shows about it)."""
    parts = [str(part) for part in also] + [
        f"{m.id}:{m.status}:{m.error_code or ''}:{m.routing_reason or ''}:"
        f"{sum(1 for r in m.recipients if r.read_at)}/{len(m.recipients)}"
        # A call's entry changes in place (its voicemail saved, its transcript arrived).
        + (f":{m.updated_at.timestamp()}" if m.kind == MessageKind.CALL else "")
        for m in messages
    ]
    # A picture fetched (or given up on) since the last look redraws its text.
    parts.append(media_fingerprint([m.id for m in messages if m.media_urls]))
    return hashlib.sha1("|".join(parts).encode()).hexdigest()[:16]


def delivery_state(message: Message) -> DeliveryState:
    status = message.status
    if status in (MessageStatus.PENDING, MessageStatus.SENDING) and message.attempts:
        return DeliveryState("…", "Retrying", "Twilio didn't answer yet; it will retry.")
    label = MessageStatus.label_for(status)
    if status in (MessageStatus.PENDING, MessageStatus.SENDING):
        held = (message.extra or {}).get("held")
        if status == MessageStatus.PENDING and held and message.next_attempt_at is None:
            return DeliveryState(
                "…", "Held", "Waiting for someone to decide whether the customer opted out."
            )
        if status == MessageStatus.PENDING and (message.extra or {}).get("quiet_hours"):
            return DeliveryState("…", "Scheduled", "Waiting for the customer's texting hours.")
        if (
            status == MessageStatus.PENDING
            and (message.extra or {}).get("trigger") == "changed"
            and message.next_attempt_at is not None
            and message.next_attempt_at > utcnow()
        ):
            # app/services/notifications.py COALESCE_WINDOW
            return DeliveryState("…", "Waiting", "Further changes in 2 minutes join this text.")
        return DeliveryState("…", label)
    if status in (MessageStatus.QUEUED, MessageStatus.SENT):
        return DeliveryState("✓", label)
    if status == MessageStatus.DELIVERED:
        return DeliveryState("✓✓", label)
    if status == MessageStatus.CANCELED:
        return DeliveryState("✕", label, message.error_message or "It was withdrawn.")
    if status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        return DeliveryState(
            "!", label, error_explanation(message.error_code, message.error_message)
        )
    return DeliveryState("", label)


def mark_read(*, conversation: Conversation, user: User) -> int:
    """Opening a conversation reads it: its inbound messages for everyone (for a tech,
    those their thread shows), and this user's own copies. Returns how many messages
    became read."""
    now = utcnow()
    shown = sa.true()
    if user.is_tech:
        # A tech's thread shows only the customer texts routed to them (thread_messages):
        # the office's own unread texts stay unread for the office.
        shown = Message.id.in_(
            sa.select(MessageRecipient.message_id).where(MessageRecipient.user_id == user.id)
        )
    result = db.session.execute(
        sa.update(Message)
        .where(
            Message.conversation_id == conversation.id,
            Message.direction == Direction.IN,
            Message.read_at.is_(None),
            shown,
        )
        .values(read_at=now)
        .execution_options(synchronize_session="fetch")
    )
    mine = sa.select(Message.id).where(Message.conversation_id == conversation.id)
    db.session.execute(
        sa.update(MessageRecipient)
        .where(
            MessageRecipient.user_id == user.id,
            MessageRecipient.read_at.is_(None),
            MessageRecipient.message_id.in_(mine),
        )
        .values(read_at=now)
        .execution_options(synchronize_session="fetch")
    )
    db.session.flush()
    return result.rowcount or 0


def send_reply(
    *,
    conversation: Conversation,
    author: User,
    body: str,
    idempotency_key: str | None = None,
    photos: Sequence[bytes] = (),
) -> Message:
    """Reply from the company's custom number, through the outbox, with up to five photos
    (sent as MMS; app/services/message_media.py checks and shrinks them).

    Raises TextingUnavailable (no number, customer opted out), InvalidPhoto and
    DomainError (empty or too long). `idempotency_key` (from the form) makes a
    double-submitted reply one text.
    """
    if author.company_id != conversation.company_id:
        raise NotAllowed("This conversation belongs to another company.")
    if not conversation_open_to(conversation=conversation, user=author):
        raise NotAllowed("This conversation is not routed to you.")
    text = (body or "").strip()
    if not text and not any(photos):
        raise DomainError("Write a message before sending.", field="body")
    if len(text) > MAX_REPLY_CHARS:
        raise DomainError(
            f"That message is {len(text)} characters; keep it under {MAX_REPLY_CHARS}.",
            field="body",
        )
    company = conversation.company
    customer = conversation.customer
    job = in_progress_job(company=company, customer=customer) if customer else None
    key = None
    if idempotency_key:
        key = f"reply:{conversation.id}:{idempotency_key[:64]}"
    _may_text(company=company, phone=conversation.phone)
    rows = prepare_outbound_photos(company=company, files=list(photos))
    message = queue_text(
        company=company,
        to_phone=conversation.phone,
        body=text,
        kind=MessageKind.MANUAL,
        customer=customer,
        job=job,
        author=author,
        media_urls=outbound_refs(rows),
        dedupe_key=key,
    )
    attach_outbound_photos(message=message, rows=rows)
    # Replying means the person read what they replied to.
    mark_read(conversation=conversation, user=author)
    return message


def _may_text(*, company: Company, phone: str) -> None:
    """Refuse before any photo is stored (queue_text asks the same question again)."""
    blocker = texting_blocker(company=company, phone=phone, kind=MessageKind.MANUAL)
    if blocker is not None:
        raise blocker


def send_job_reply(
    *, job: Job, author: User, body: str, reply_key: str, photos: Sequence[bytes] = ()
) -> Message:
    """A tech's reply from the job page, to the job's customer, through the outbox, with
    up to five photos (job photos: they show on the office's job page too).

    `reply_key` comes with the reply box (one per box): a retried or double-tapped send of
    the same box queues one text. The form has already checked the body (a text or a
    photo, length). Raises TextingUnavailable (no number, customer opted out), InvalidPhoto.
    """
    if author.company_id != job.company_id:
        raise NotAllowed("This job belongs to another company.")
    _may_text(company=job.company, phone=job.customer.mobile_phone)
    rows = prepare_outbound_photos(company=job.company, files=list(photos))
    message = queue_text(
        company=job.company,
        to_phone=job.customer.mobile_phone,
        body=(body or "").strip(),
        kind=MessageKind.MANUAL,
        customer=job.customer,
        job=job,
        author=author,
        media_urls=outbound_refs(rows),
        dedupe_key=f"tech-reply:{author.id}:{reply_key}",
    )
    attach_outbound_photos(message=message, rows=rows)
    return message


def _system_event(*, conversation: Conversation, body: str, event: str, actor: User) -> Message:
    """A NOTICE row in the thread (already read: it's the office's own action)."""
    return add_notice(
        conversation=conversation, body=body, extra={"event": event}, author=actor, read=True
    )


def reassign(*, conversation: Conversation, to_user: User | None, actor: User) -> Conversation:
    """Give the conversation to `to_user` (or back to the Point of Contact chain with None).

    The assigned user replaces the Point of Contact for this conversation; an In Progress
    job's techs still come first (see app/services/routing.py). The texts nobody has read
    yet are routed to the new user too, so nothing waits in the wrong place.
    """
    if actor.company_id != conversation.company_id or not actor.is_office:
        raise NotAllowed("Only the office can reassign a conversation.")
    if to_user is not None and (
        to_user.company_id != conversation.company_id or not to_user.active
    ):
        raise DomainError("Pick an active user of your company.", field="user_id")
    before = conversation.assigned_user_id
    new_id = to_user.id if to_user is not None else None
    if before == new_id:
        return conversation
    conversation.assigned_user_id = new_id
    if to_user is None:
        body = f"{actor.name} handed this conversation back to the Point of Contact."
    else:
        body = f"{actor.name} assigned this conversation to {to_user.name}."
        waiting = list(
            db.session.scalars(
                sa.select(Message).where(
                    Message.conversation_id == conversation.id,
                    Message.direction == Direction.IN,
                    Message.kind == MessageKind.INBOUND,
                    Message.read_at.is_(None),
                )
            )
        )
        for message in waiting:
            if add_recipients(message=message, users=[to_user]):
                forward_to_mobiles(message=message, users=[to_user])
    _system_event(conversation=conversation, body=body, event="assigned", actor=actor)
    return conversation


def create_customer_from_conversation(
    *,
    conversation: Conversation,
    name: str,
    actor: User,
    email: str | None = None,
    address: str | None = None,
) -> Customer:
    """Turn an unknown number into a customer of this company and link the conversation."""
    if actor.company_id != conversation.company_id or not actor.is_office:
        raise NotAllowed("Only the office can add customers.")
    if conversation.customer_id is not None:
        raise DomainError("This number is already a customer.", field="name")
    if not (name or "").strip():
        raise DomainError("Enter the customer's name.", field="name")
    existing = db.session.scalar(
        sa.select(Customer).filter_by(
            company_id=conversation.company_id, mobile_phone=conversation.phone
        )
    )
    # Someone may have added the customer from the Customers page meanwhile: link that one.
    customer = existing or create_customer(
        company=conversation.company,
        name=name,
        mobile_phone=conversation.phone,
        email=email,
        address=address,
    )
    conversation.customer_id = customer.id
    conversation.customer = customer
    db.session.flush()
    return customer


def related_job(messages: list[Message]) -> Job | None:
    """The job the thread is about now: the latest message's job."""
    for message in reversed(messages):
        if message.job is not None:
            return message.job
    return None

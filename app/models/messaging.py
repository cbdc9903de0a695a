"""The custom number, conversations, messages (the outbox is the `messages` table), opt-outs
and the editable templates of automated texts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.company import Company
from app.models.customer import Customer
from app.models.enums import LabelledStrEnum
from app.models.job import Job
from app.models.media import MessageMedia
from app.models.types import UTCDateTime, utcnow
from app.models.user import User


class PhoneNumber(db.Model):
    """The company's custom SMS number. At most one per company, and never changed from the
    web (rule 1 of the seed); only the operator's CLI can reassign it."""

    __tablename__ = "phone_numbers"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    e164: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    twilio_sid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    locality: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    region: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    # Who chose it in the setup page (None when the operator's CLI assigned it).
    provisioned_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    company: so.Mapped[Company] = so.relationship(backref=so.backref("phone_number", uselist=False))
    provisioned_by: so.Mapped[User | None] = so.relationship()


class NumberSetup(db.Model):
    """A claim on buying a company's number, committed BEFORE Twilio is asked to buy it.

    One row per company at most (unique `company_id`): a second click, a reload or a second
    admin cannot insert another, so no second purchase is ever attempted. The row is deleted
    in the same transaction that records the bought `PhoneNumber`, or when the purchase fails.
    A row that outlives its request (the process died mid-purchase) is reconciled against
    Twilio before anyone may try again (app/services/numbers.py).
    """

    __tablename__ = "number_setups"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    # Unique too: two companies racing for the same available number, one is told at once.
    e164: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    locality: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    region: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    started_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    company: so.Mapped[Company] = so.relationship()
    started_by: so.Mapped[User | None] = so.relationship()


class Direction:
    IN = "in"
    OUT = "out"


class MessageStatus(LabelledStrEnum):
    # Outbound lifecycle. "pending" rows are the outbox: written with their cause, not yet
    # handed to Twilio. The rest mirror Twilio's own statuses.
    PENDING = "pending", "Waiting to send"
    SENDING = "sending", "Sending"  # claimed by a dispatcher; the HTTP call may be in flight
    QUEUED = "queued", "Sent to carrier"  # Twilio accepted it and returned a SID
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    UNDELIVERED = "undelivered", "Not delivered"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Not sent"  # withdrawn before sending (e.g. a stale reminder)
    # Inbound.
    RECEIVED = "received", "Received"


MessageStatus.FINAL = (
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.FAILED,
    MessageStatus.CANCELED,
    MessageStatus.RECEIVED,
)
# Not yet handed to the carrier, or handed but not yet confirmed.
MessageStatus.WAITING = (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.QUEUED)


class MessageKind(LabelledStrEnum):
    """`label` names the text on the job timeline; `origin` is what a thread (office inbox,
    tech page) shows under an automated text instead of its author."""

    origin: str | None

    def __new__(cls, value: str, label: str, origin: str | None = None):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        member.origin = origin
        return member

    MANUAL = "manual", "Text"  # typed by a person in the inbox or on the tech page
    JOB_SCHEDULED = "job_scheduled", "Job scheduled text", "Automatic: job booked"
    ON_MY_WAY = "on_my_way", "On my way text", "Automatic: On My Way"
    JOB_FINISHED = "job_finished", "Job finished text", "Automatic: job finished"
    REMINDER = "reminder", "Reminder text", "Automatic: reminder"
    ESTIMATE = "estimate", "Estimate text", "Estimate"
    INVOICE = "invoice", "Invoice text", "Invoice"
    PAYMENT_RECEIPT = "payment_receipt", "Payment receipt text", "Automatic: payment receipt"
    PAYMENT_REMINDER = "payment_reminder", "Payment reminder text", "Automatic: payment reminder"
    DEPOSIT_RECEIPT = "deposit_receipt", "Deposit receipt text", "Automatic: deposit receipt"
    # A copy of an inbound text forwarded to a user's own mobile.
    FORWARD = "forward", "Forwarded copy"
    INBOUND = "inbound", "Reply from customer"
    # A system event shown in the conversation (e.g. "Estimate #12 approved by J. Smith").
    NOTICE = "notice", "Note"
    JOB_CANCELED = "job_canceled", "Job canceled text", "Automatic: job canceled"
    # Compliance replies (app/services/opt_outs.py): the one confirmation CTIA expects after
    # an opt-out or opt-in, and the answer to HELP/INFO.
    OPT_OUT_CONFIRMATION = (
        "opt_out_confirmation",
        "Opt-out confirmation",
        "Automatic: opt-out confirmation",
    )
    OPT_IN_CONFIRMATION = (
        "opt_in_confirmation",
        "Opt-in confirmation",
        "Automatic: opt-in confirmation",
    )
    HELP_REPLY = "help_reply", "HELP reply", "Automatic: HELP reply"
    # A call to the custom number, as the inbox thread and the job timeline show it
    # (app/models/calls.py); never a text, never sent.
    CALL = "call", "Call"
    MISSED_CALL_TEXT = "missed_call_text", "Missed-call text", "Automatic: missed call"
    AFTER_HOURS_REPLY = "after_hours_reply", "After-hours reply", "Automatic: after hours"

    @classmethod
    def thread_labels(cls) -> dict[str, str]:
        """How a message's origin is labelled under it in a thread."""
        return {kind.value: kind.origin for kind in cls if kind.origin}


class Conversation(db.Model):
    """All texts between the company's custom number and one outside phone number."""

    __tablename__ = "conversations"
    __table_args__ = (
        sa.UniqueConstraint("company_id", "phone"),
        sa.Index("ix_conversations_company_last", "company_id", "last_message_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"))
    # None while the number is not a customer ("unknown number").
    customer_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    phone: so.Mapped[str] = so.mapped_column(sa.String(20))  # E.164 of the other party
    # Set when the office reassigns the conversation by hand.
    assigned_user_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    last_message_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    company: so.Mapped[Company] = so.relationship()
    customer: so.Mapped[Customer | None] = so.relationship()
    assigned_user: so.Mapped[User | None] = so.relationship()

    @property
    def is_unknown_number(self) -> bool:
        return self.customer_id is None


class Message(db.Model):
    __tablename__ = "messages"
    __table_args__ = (
        sa.Index("ix_messages_conversation_created", "conversation_id", "created_at"),
        # The dispatcher's claim query: due outbox rows.
        sa.Index("ix_messages_status_next_attempt", "status", "next_attempt_at"),
        # Unread inbound texts, a small part of the table: the workers' escalation looks
        # for old ones every minute (without it, a scan of every message).
        sa.Index(
            "ix_messages_unread_inbound",
            "created_at",
            postgresql_where=sa.text("direction = 'in' AND read_at IS NULL"),
            sqlite_where=sa.text("direction = 'in' AND read_at IS NULL"),
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    conversation_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE")
    )
    direction: so.Mapped[str] = so.mapped_column(sa.String(3))
    kind: so.Mapped[str] = so.mapped_column(sa.String(24), default=MessageKind.MANUAL)
    from_phone: so.Mapped[str] = so.mapped_column(sa.String(20))
    to_phone: so.Mapped[str] = so.mapped_column(sa.String(20))
    body: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    media_urls: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    status: so.Mapped[str] = so.mapped_column(sa.String(16))
    twilio_sid: so.Mapped[str | None] = so.mapped_column(sa.String(64), unique=True)
    error_code: so.Mapped[int | None] = so.mapped_column()
    error_message: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # At most one message per key: "job 42 on my way" is sent once, however often it is asked.
    dedupe_key: so.Mapped[str | None] = so.mapped_column(sa.String(120), unique=True)
    job_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    author_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # Outbox bookkeeping.
    attempts: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    claimed_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    last_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # Set while an earlier attempt's outcome is unknown (timeout, crashed sender): the
    # dispatcher looks the text up at Twilio before it would send it again.
    reconcile_since: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # Inbound routing (rule 4): who it went to and why, in words.
    routing_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    extra: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    read_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    delivered_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )

    company: so.Mapped[Company] = so.relationship()
    conversation: so.Mapped[Conversation] = so.relationship()
    job: so.Mapped[Job | None] = so.relationship()
    author: so.Mapped[User | None] = so.relationship()
    recipients: so.Mapped[list[MessageRecipient]] = so.relationship(
        back_populates="message", cascade="all, delete-orphan"
    )
    # Pictures and files (app/models/media.py). Loaded only for a text that has some
    # (`media_urls` is not empty), so a thread of plain texts costs no extra query.
    media: so.Mapped[list[MessageMedia]] = so.relationship(
        back_populates="message", order_by="MessageMedia.position", cascade="all, delete-orphan"
    )


class MessageRecipient(db.Model):
    """A user an inbound text was routed to (rule 4), with their own read state."""

    __tablename__ = "message_recipients"
    __table_args__ = (sa.UniqueConstraint("message_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    message_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("messages.id", ondelete="CASCADE"))
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    read_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())

    message: so.Mapped[Message] = so.relationship(back_populates="recipients")
    user: so.Mapped[User] = so.relationship()


class OptOutSource:
    """How an opt-out came about; every source is shown on the customer's page."""

    KEYWORD = "keyword"  # the customer texted STOP (or OPT OUT, UNSUBSCRIBE, ...)
    CARRIER = "carrier"  # Twilio refused a send with 21610
    OFFICE = "office"  # the customer asked by phone or in person; the office recorded it
    # The customer wrote "stop texting me" (or similar) and the office confirmed it.
    REVOCATION = "revocation"
    LABELS = {
        KEYWORD: "Texted an opt-out keyword",
        CARRIER: "Reported by the carrier (Twilio error 21610)",
        OFFICE: "Customer asked by phone (recorded by the office)",
        REVOCATION: "Asked in their own words (confirmed by the office)",
    }


class OptOut(db.Model):
    """A phone number that texted STOP (or similar) to a company. While the row exists no
    text of any kind goes from that company to that number (except the one confirmation)."""

    __tablename__ = "opt_outs"
    __table_args__ = (sa.UniqueConstraint("company_id", "phone"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"))
    phone: so.Mapped[str] = so.mapped_column(sa.String(20))
    keyword: so.Mapped[str] = so.mapped_column(sa.String(16))
    # An OptOutSource value.
    source: so.Mapped[str] = so.mapped_column(sa.String(16), default="keyword")
    # Who recorded it, for the office and revocation sources.
    actor_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    actor: so.Mapped[User | None] = so.relationship()

    @property
    def source_label(self) -> str:
        return OptOutSource.LABELS.get(self.source, self.source)

    @classmethod
    def covers(cls, *, company_id: int, phone: str) -> bool:
        """Has `phone` opted out of the company's texts? The one check, asked when a text is
        queued, when the dispatcher is about to send it, and before recording a new opt-out."""
        found = db.session.scalar(
            sa.select(cls.id).filter_by(company_id=company_id, phone=phone).limit(1)
        )
        return found is not None


class RevocationDecision:
    OPTED_OUT = "opted_out"
    NOT_OPT_OUT = "not_opt_out"


class RevocationFlag(db.Model):
    """An inbound text that reads like "stop texting me" without being a keyword.

    The FCC's 2025 rule (47 CFR 64.1200(a)(10)) makes any reasonable way of saying "stop" a
    revocation, to be honoured within 10 business days. A person decides (Opt this number
    out / Not an opt-out); until then automated texts to the number are held, not sent.
    """

    __tablename__ = "revocation_flags"
    __table_args__ = (sa.Index("ix_revocation_flags_open", "company_id", "phone", "decided_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"))
    phone: so.Mapped[str] = so.mapped_column(sa.String(20))
    message_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    phrase: so.Mapped[str] = so.mapped_column(sa.String(40))  # what matched, for the office
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    decided_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    decision: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    decided_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    message: so.Mapped[Message] = so.relationship()
    decided_by: so.Mapped[User | None] = so.relationship()


class MessageTemplate(db.Model):
    """A company's editable text for one kind of automated message."""

    __tablename__ = "message_templates"
    __table_args__ = (sa.UniqueConstraint("company_id", "kind"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"))
    kind: so.Mapped[str] = so.mapped_column(sa.String(24))
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    enabled: so.Mapped[bool] = so.mapped_column(default=True)
    # For reminders: how long before the job's start it goes out.
    lead_minutes: so.Mapped[int | None] = so.mapped_column()
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )


class UnroutedInbound(db.Model):
    """A text or call to a number no company owns, or a post that cannot be stored as a text,
    kept for the operator (quarantine: `flask numbers quarantine`)."""

    __tablename__ = "unrouted_inbound"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    channel: so.Mapped[str] = so.mapped_column(sa.String(8))  # "sms" or "voice"
    twilio_sid: so.Mapped[str | None] = so.mapped_column(sa.String(64), unique=True)
    from_phone: so.Mapped[str] = so.mapped_column(sa.String(20))
    to_phone: so.Mapped[str] = so.mapped_column(sa.String(20))
    body: so.Mapped[str | None] = so.mapped_column(sa.Text)
    payload: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)
    # Why it is here when it is not "no company owns the number": a post that could not be
    # stored as a text (a field too long for its column, a receipt that kept failing).
    reason: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class InboundReceipt(db.Model):
    """An inbound text exactly as Twilio posted it, waiting for the worker.

    The SMS webhook only checks the signature and writes this row (one per MessageSid), so
    Twilio gets its answer in a few milliseconds whatever storing and routing cost. The
    outbox worker turns it into a `Message` (app.services.inbound.route_receipts), routes
    it and deletes the receipt in the same transaction. A receipt that fails is kept and
    retried later, never dropped: the table holds only texts not yet in the inbox.
    """

    __tablename__ = "inbound_receipts"
    __table_args__ = (
        # The worker takes the oldest due receipts: an index walk that stops at its batch.
        sa.Index("ix_inbound_receipts_due", "next_attempt_at", "id"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    twilio_sid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    payload: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    received_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    next_attempt_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    attempts: so.Mapped[int] = so.mapped_column(default=0)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)

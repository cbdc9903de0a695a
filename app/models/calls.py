"""Calls to the custom number, their voicemails, and the company's business hours.

A `Call` is one inbound call (one Twilio CallSid). What the office sees of it in the inbox
thread and on the job timeline is a `Message` of kind CALL (linked by `message_id`): that
message is routed exactly as a text is (rule 4) and carries the read state (for the office
and per person it was routed to), so a missed call counts as unread wherever an unread text
does.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.company import Company
from app.models.enums import LabelledStrEnum
from app.models.messaging import Conversation, Message
from app.models.types import UTCDateTime, utcnow
from app.models.user import User


class CallOutcome(LabelledStrEnum):
    RINGING = "ringing", "Ringing"  # the business phone is being rung; no outcome yet
    ANSWERED = "answered", "Answered"
    MISSED = "missed", "Missed call"  # rang, nobody picked up (or the caller hung up)
    BUSY = "busy", "Missed call (line busy)"
    FAILED = "failed", "Missed call (could not ring)"
    VOICEMAIL = "voicemail", "Voicemail"
    AFTER_HOURS = "after_hours", "Missed call (after hours)"
    # Not forwarded: the business phone calling its own custom number (it would ring itself).
    BLOCKED = "blocked", "Not forwarded"


CallOutcome.UNANSWERED = (
    CallOutcome.MISSED,
    CallOutcome.BUSY,
    CallOutcome.FAILED,
    CallOutcome.VOICEMAIL,
    CallOutcome.AFTER_HOURS,
)


class Call(db.Model):
    __tablename__ = "calls"
    __table_args__ = (
        sa.Index("ix_calls_company_from_started", "company_id", "from_phone", "started_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"))
    conversation_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    customer_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("customers.id", ondelete="SET NULL")
    )
    # The thread entry (kind CALL) shown for this call, once its outcome is known.
    message_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("messages.id", ondelete="SET NULL"), unique=True
    )
    from_phone: so.Mapped[str] = so.mapped_column(sa.String(20))
    to_phone: so.Mapped[str] = so.mapped_column(sa.String(20))
    twilio_sid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    direction: so.Mapped[str] = so.mapped_column(sa.String(3), default="in")
    outcome: so.Mapped[str] = so.mapped_column(sa.String(16), default=CallOutcome.RINGING)
    duration_seconds: so.Mapped[int | None] = so.mapped_column()
    started_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    ended_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # Who the call was routed to (the first recipient of its thread entry), for the log.
    routed_to_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )

    company: so.Mapped[Company] = so.relationship()
    conversation: so.Mapped[Conversation] = so.relationship()
    # The thread entry carries the read state: read for the office (`Message.read_at`) and
    # per person it was routed to (`MessageRecipient.read_at`), as for a text.
    message: so.Mapped[Message | None] = so.relationship()
    routed_to: so.Mapped[User | None] = so.relationship()
    voicemail: so.Mapped[Voicemail | None] = so.relationship(back_populates="call", uselist=False)

    @property
    def outcome_label(self) -> str:
        return CallOutcome.label_for(self.outcome)

    @property
    def is_unread(self) -> bool:
        return self.message is not None and self.message.read_at is None


class VoicemailState(LabelledStrEnum):
    FETCHING = "fetching", "Being saved"  # Twilio has it; the worker has not fetched it yet
    STORED = "stored", "Saved"
    FAILED = "failed", "Could not be saved"


class Voicemail(db.Model):
    """A recording a caller left. The audio is fetched by the worker from Twilio (with the
    account's credentials, from Twilio's own hosts only) and kept under the upload folder;
    browsers get it only through a company-checked route, never from Twilio's URL."""

    __tablename__ = "voicemails"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    call_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("calls.id", ondelete="CASCADE"), unique=True
    )
    recording_sid: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    # Twilio's address of the audio: fetched by the worker, never shown to a browser.
    recording_url: so.Mapped[str | None] = so.mapped_column(sa.String(500))
    duration_seconds: so.Mapped[int | None] = so.mapped_column()
    storage_key: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    content_type: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    transcript: so.Mapped[str | None] = so.mapped_column(sa.Text)
    state: so.Mapped[str] = so.mapped_column(sa.String(16), default=VoicemailState.FETCHING)
    attempts: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime(), index=True)
    last_error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    deleted_at_twilio_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    call: so.Mapped[Call | None] = so.relationship(back_populates="voicemail")


class BusinessHours(db.Model):
    """When the company answers calls, per weekday (0 = Monday), in the company's time zone.
    A weekday without a row, or with `closed`, is closed all day. A company with no rows at
    all has not set hours: every call rings through."""

    __tablename__ = "business_hours"
    __table_args__ = (sa.UniqueConstraint("company_id", "weekday"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"))
    weekday: so.Mapped[int] = so.mapped_column()
    closed: so.Mapped[bool] = so.mapped_column(default=False)
    opens_minute: so.Mapped[int] = so.mapped_column(default=8 * 60)  # minutes after midnight
    closes_minute: so.Mapped[int] = so.mapped_column(default=17 * 60)


class Holiday(db.Model):
    """A day the company is closed all day, whatever its weekday hours say."""

    __tablename__ = "holidays"
    __table_args__ = (sa.UniqueConstraint("company_id", "day"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"))
    day: so.Mapped[date] = so.mapped_column(sa.Date)
    name: so.Mapped[str] = so.mapped_column(sa.String(80), default="")


class CallSettings(db.Model):
    """What a caller hears and what happens after a call; one row per company, created with
    the defaults the first time it is read (app/services/call_settings.py)."""

    __tablename__ = "call_settings"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    # Read out (text-to-speech) before the caller leaves a message; None: the default.
    voicemail_greeting: so.Mapped[str | None] = so.mapped_column(sa.Text)
    after_hours_greeting: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # An uploaded recording played instead of the voicemail greeting's text (a key in the
    # media store, app/services/media_store.py); its unguessable file name is the
    # public address Twilio's <Play> fetches.
    greeting_audio_key: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    # After hours, "press 1 for an emergency" rings this phone (E.164); None: no option.
    emergency_phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    # Record the whole forwarded call (the caller hears the notice first). Off by default.
    record_calls: so.Mapped[bool] = so.mapped_column(default=False, server_default=sa.false())
    # Privacy: delete the recording at Twilio once the app has its own copy.
    delete_recordings_at_twilio: so.Mapped[bool] = so.mapped_column(
        default=True, server_default=sa.true()
    )
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )

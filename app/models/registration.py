"""A company's texting registration: what US carriers require before a business number may
text (an A2P 10DLC brand and campaign, or a verified toll-free number), and the company's
Twilio Messaging Service.

One row per company. Every SID Twilio hands back is stored (and committed by the worker)
before the next call, so a crash or a retry resumes where it stopped and never creates a
second brand. See app/services/registration.py and docs/texting-registration.md.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.company import Company
from app.models.types import UTCDateTime, utcnow


class RegistrationKind(StrEnum):
    STANDARD = "10dlc_standard"  # Low-Volume Standard brand: a business with an EIN
    SOLE_PROP = "10dlc_sole_prop"  # Sole Proprietor brand: no EIN, OTP to the owner's mobile
    TOLL_FREE = "toll_free"  # toll-free verification of a toll-free custom number
    ATTACHED = "attached"  # an existing Messaging Service registered in Twilio's console

    @property
    def label(self) -> str:
        return {
            "10dlc_standard": "Local number, business with an EIN (A2P 10DLC)",
            "10dlc_sole_prop": "Local number, sole proprietor (A2P 10DLC)",
            "toll_free": "Toll-free verification",
            "attached": "Existing Messaging Service",
        }[self.value]


class RegistrationStatus(StrEnum):
    NOT_STARTED = "not_started"  # nothing submitted yet
    IN_PROGRESS = "in_progress"  # submitted; the worker is making the Twilio calls
    PENDING = "pending"  # everything is at Twilio/the carriers, waiting for review
    APPROVED = "approved"
    REJECTED = "rejected"
    ATTACHED = "attached"

    @property
    def label(self) -> str:
        return {
            "not_started": "Not started",
            "in_progress": "Submitting",
            "pending": "Waiting for approval",
            "approved": "Approved",
            "rejected": "Needs changes",
            "attached": "Attached",
        }[self.value]


# A company whose registration is in one of these may text.
MAY_TEXT = frozenset({RegistrationStatus.APPROVED, RegistrationStatus.ATTACHED})


def _token() -> str:
    return secrets.token_urlsafe(12)


class MessagingRegistration(db.Model):
    __tablename__ = "messaging_registrations"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    kind: so.Mapped[str] = so.mapped_column(sa.String(20), default=RegistrationKind.STANDARD)
    status: so.Mapped[str] = so.mapped_column(
        sa.String(16), default=RegistrationStatus.NOT_STARTED, index=True
    )
    # The public page /c/<token>/sms-terms (the terms a customer agrees to).
    public_token: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True, default=_token)
    # What the wizard collected (legal name, EIN, address, representative, opt-in, links,
    # campaign description, message flow, samples). Kept as submitted, for "fix and resubmit".
    details: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON, default=dict)

    # Trust Hub: the secondary customer profile and what is attached to it.
    customer_profile_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    customer_profile_status: so.Mapped[str | None] = so.mapped_column(sa.String(24))
    business_end_user_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    representative_end_user_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    address_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    supporting_document_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    # Trust Hub: the A2P messaging profile (trust product) and its end user.
    trust_product_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    trust_product_status: so.Mapped[str | None] = so.mapped_column(sa.String(24))
    a2p_end_user_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    # Messaging: brand, Messaging Service, campaign, toll-free verification.
    brand_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    brand_status: so.Mapped[str | None] = so.mapped_column(sa.String(24))
    brand_otp_sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    messaging_service_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    campaign_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    campaign_status: so.Mapped[str | None] = so.mapped_column(sa.String(24))
    campaign_use_case: so.Mapped[str | None] = so.mapped_column(sa.String(32))
    tollfree_verification_sid: so.Mapped[str | None] = so.mapped_column(sa.String(34))
    tollfree_status: so.Mapped[str | None] = so.mapped_column(sa.String(24))
    # Steps that return no SID of their own (entity assignments, evaluations, submissions,
    # adding the number to the service), by name, in the order they were done.
    done_steps: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # Corrections still to send after "fix and resubmit" (update the end users and address,
    # resubmit the brand, replace the campaign, edit the toll-free verification).
    todo_steps: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)

    # The last rejection or error, in Twilio's words (code) and ours (reason).
    failure_code: so.Mapped[int | None] = so.mapped_column()
    failure_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    failed_step: so.Mapped[str | None] = so.mapped_column(sa.String(40))

    submitted_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    approved_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # When the worker next looks at this registration (a call to make, or a status to poll).
    next_poll_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime(), index=True)
    poll_interval_seconds: so.Mapped[int | None] = so.mapped_column()
    # Transient Twilio errors in a row (429/5xx/no answer), for the retry backoff.
    attempts: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )

    company: so.Mapped[Company] = so.relationship(
        backref=so.backref("registration", uselist=False, passive_deletes=True)
    )

    @property
    def may_text(self) -> bool:
        return self.status in MAY_TEXT

    def has_done(self, step: str) -> bool:
        return step in (self.done_steps or [])

    def mark_done(self, step: str) -> None:
        # A new list: SQLAlchemy notices a reassigned JSON value, not an in-place append.
        if not self.has_done(step):
            self.done_steps = [*(self.done_steps or []), step]

    def add_todo(self, *steps: str) -> None:
        current = list(self.todo_steps or [])
        self.todo_steps = current + [s for s in steps if s not in current]

    def finish_todo(self, step: str) -> None:
        self.todo_steps = [s for s in (self.todo_steps or []) if s != step]

    def __repr__(self) -> str:
        return f"<MessagingRegistration company={self.company_id} {self.kind} {self.status}>"

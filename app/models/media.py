"""Pictures and files that came with a text (MMS) or went out with one.

One row per item. An inbound item starts `pending` with the URL Twilio posted; the worker
fetches it (app/services/message_media.py) and keeps our own copy, because Twilio serves
media only with the account's credentials and may delete it. An outbound photo is stored
at once and sent by a short-lived signed link.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.enums import LabelledStrEnum
from app.models.types import UTCDateTime, utcnow


class MediaState(LabelledStrEnum):
    PENDING = "pending", "Fetching picture…"
    STORED = "stored", "Stored"
    FAILED = "failed", "Picture could not be fetched"
    # Kept as a URL only: an item beyond the 10 we fetch, or a legacy text.
    LINK_ONLY = "link_only", "Not kept"


class MediaFailure(LabelledStrEnum):
    """Why a failed item was not kept: what the person reading the thread is told. A file
    we fetched and refused is not a network failure, and says so."""

    NOT_SHOWABLE = "not_showable", "the file was not a picture we can show"
    TOO_LARGE = "too_large", "too large"
    UNREADABLE = "unreadable", "the file is damaged and could not be read"
    NOT_TWILIO = "not_twilio", "the text pointed somewhere other than Twilio"
    UNAVAILABLE = "unavailable", "could not be fetched from Twilio"


class MessageMedia(db.Model):
    __tablename__ = "message_media"
    __table_args__ = (
        sa.UniqueConstraint("message_id", "position"),
        # The worker's look for items due a fetch.
        sa.Index("ix_message_media_state_next_attempt", "state", "next_attempt_at"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    message_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    position: so.Mapped[int] = so.mapped_column()
    # Where Twilio holds it (inbound), as posted; None for what we sent.
    source_url: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # Declared by Twilio until fetched, then what the bytes are.
    content_type: so.Mapped[str] = so.mapped_column(sa.String(100), default="")
    size_bytes: so.Mapped[int | None] = so.mapped_column()
    width: so.Mapped[int | None] = so.mapped_column()
    height: so.Mapped[int | None] = so.mapped_column()
    # Keys in the media store (app/services/media_store.py), relative to its root.
    storage_key: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    thumbnail_key: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    state: so.Mapped[str] = so.mapped_column(sa.String(16), default=MediaState.PENDING)
    attempts: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    next_attempt_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # For the operator (the log's detail); people read `notice`.
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # Why a FAILED item was not kept (MediaFailure) and a short detail for people ("SVG",
    # "over 5 MB", "12000 by 12000 pixels"). None on rows from before they were recorded.
    failure: so.Mapped[str | None] = so.mapped_column(sa.String(16))
    failure_detail: so.Mapped[str | None] = so.mapped_column(sa.String(80))
    # When Twilio's copy was deleted (the company's privacy setting).
    deleted_at_twilio_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    message = so.relationship("Message", back_populates="media")

    @property
    def is_image(self) -> bool:
        return self.state == MediaState.STORED and self.thumbnail_key is not None

    @property
    def state_label(self) -> str:
        return MediaState.label_for(self.state)

    @property
    def notice(self) -> str:
        """What a thread shows in place of an item it cannot show: visible text (a
        tooltip does not exist on a phone) that tells a refused file from a fetch that
        failed, and a fetch that will be tried again from one given up on."""
        noun = self.kind_label if self.kind_label != "File" else "Picture"
        if self.state == MediaState.PENDING:
            if self.attempts:
                return f"{noun} could not be fetched from Twilio yet; we'll try again."
            return "Fetching picture…"
        if self.state == MediaState.LINK_ONLY:
            return f"{noun} not kept."
        detail = f" ({self.failure_detail})" if self.failure_detail else ""
        if self.failure in (MediaFailure.NOT_SHOWABLE, MediaFailure.TOO_LARGE):
            return f"{noun} not shown: {MediaFailure.label_for(self.failure)}{detail}."
        if self.failure == MediaFailure.UNREADABLE:
            return f"{noun} not shown: {MediaFailure.UNREADABLE.label}."
        if self.failure == MediaFailure.NOT_TWILIO:
            return f"{noun} not fetched: {MediaFailure.NOT_TWILIO.label}."
        if self.attempts > 1:
            return f"{noun} could not be fetched from Twilio (tried {self.attempts} times)."
        return f"{noun} could not be fetched from Twilio."

    @property
    def kind_label(self) -> str:
        """What a person calls the file ("PDF", "Audio"), from its checked type."""
        content_type = self.content_type or ""
        if content_type.startswith("image/"):
            return "Picture"
        if content_type == "application/pdf":
            return "PDF"
        if "vcard" in content_type:
            return "Contact card"
        if content_type.startswith(("audio/", "video/")):
            return content_type.split("/")[0].capitalize()
        return "File"

    @property
    def thumb_size(self) -> tuple[int, int] | None:
        """The thumbnail's size (at most 320 px a side), for the <img> to reserve space."""
        if not self.width or not self.height:
            return None
        scale = min(1.0, 320 / max(self.width, self.height))
        return max(1, round(self.width * scale)), max(1, round(self.height * scale))

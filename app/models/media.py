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
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)
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

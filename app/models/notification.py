"""Automated texts that could not be queued, kept so the office sees why.

`queue_text` refuses when the company has no custom number or the customer opted out;
an automated text is then skipped, not silently dropped: one row per skipped text (the
same dedupe key as the text would have had, so a double tap records it once), shown on
the job's timeline as "Not sent: <reason>".
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.types import UTCDateTime, utcnow


class SkippedText(db.Model):
    __tablename__ = "skipped_texts"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    job_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("jobs.id", ondelete="CASCADE"), index=True
    )
    kind: so.Mapped[str] = so.mapped_column(sa.String(24))  # a MessageKind
    reason: so.Mapped[str] = so.mapped_column(sa.String(24))  # TextingUnavailable.reason
    detail: so.Mapped[str] = so.mapped_column(sa.Text)  # the sentence shown to the office
    dedupe_key: so.Mapped[str | None] = so.mapped_column(sa.String(120), unique=True)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

"""A CSV import of customers (app.services.customer_imports) and what it changed, row by
row, so that it can be undone."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.company import Company
from app.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.user import User


class ImportStatus:
    UPLOADED = "uploaded"  # the file is read; its columns are being mapped
    REVIEWED = "reviewed"  # the dry run was shown; nothing written yet
    QUEUED = "queued"  # confirmed; waiting for the worker
    RUNNING = "running"  # the worker is writing it, batch by batch
    DONE = "done"
    FAILED = "failed"
    UNDONE = "undone"
    # Uploaded, never imported, and the file discarded after a day (it may hold 20 MB).
    EXPIRED = "expired"
    LABELS = {
        UPLOADED: "Columns to check",
        REVIEWED: "Checked, not imported",
        QUEUED: "Waiting to start",
        RUNNING: "Importing",
        DONE: "Imported",
        FAILED: "Failed",
        UNDONE: "Undone",
        EXPIRED: "Not imported",
    }
    # Not confirmed yet: the file may still be mapped again.
    DRAFTS = (UPLOADED, REVIEWED)
    # The worker's: queued, or running and maybe left behind by a worker that stopped.
    PENDING = (QUEUED, RUNNING)


class CustomerImport(db.Model):
    __tablename__ = "customer_imports"
    __table_args__ = (
        sa.Index("ix_customer_imports_company_created", "company_id", "created_at"),
        # The worker looks for confirmed imports only.
        sa.Index("ix_customer_imports_status", "status"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("companies.id", ondelete="CASCADE"))
    created_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    filename: so.Mapped[str] = so.mapped_column(sa.String(255))
    size_bytes: so.Mapped[int] = so.mapped_column(default=0)
    encoding: so.Mapped[str] = so.mapped_column(sa.String(20))  # a Python codec name
    delimiter: so.Mapped[str] = so.mapped_column(sa.String(1))
    header: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # One field name per column of the file ("" = not imported), in the file's order.
    mapping: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    row_count: so.Mapped[int] = so.mapped_column(default=0)
    # The file as uploaded, kept until the import has run (the worker reads it from here,
    # so it works with web and worker processes on different machines); then emptied.
    content: so.Mapped[bytes | None] = so.mapped_column(sa.LargeBinary, deferred=True)

    status: so.Mapped[str] = so.mapped_column(sa.String(16), default=ImportStatus.UPLOADED)
    # What the dry run said would happen.
    planned_new: so.Mapped[int] = so.mapped_column(default=0)
    planned_merged: so.Mapped[int] = so.mapped_column(default=0)
    planned_skipped: so.Mapped[int] = so.mapped_column(default=0)
    # The dry run's first rows and first problems as shown on the page (the whole list of
    # problems is downloadable, worked out again from the file).
    review: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)
    # What the import did; rows_done is the progress (data rows read so far).
    rows_done: so.Mapped[int] = so.mapped_column(default=0)
    created_count: so.Mapped[int] = so.mapped_column(default=0)
    merged_count: so.Mapped[int] = so.mapped_column(default=0)
    skipped_count: so.Mapped[int] = so.mapped_column(default=0)
    error: so.Mapped[str | None] = so.mapped_column(sa.Text)

    confirmed_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    confirmed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    # A worker holds a running import until then; past it another worker carries on
    # from rows_done (every batch commits with its progress).
    lease_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    finished_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    undo_until: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    undone_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    undone_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    # What the undo did and what it could not: counts and a few examples, in words.
    undo_report: so.Mapped[dict[str, Any] | None] = so.mapped_column(sa.JSON)

    company: so.Mapped[Company] = so.relationship()
    created_by: so.Mapped[User | None] = so.relationship(foreign_keys=[created_by_id])
    confirmed_by: so.Mapped[User | None] = so.relationship(foreign_keys=[confirmed_by_id])
    undone_by: so.Mapped[User | None] = so.relationship(foreign_keys=[undone_by_id])

    @property
    def status_label(self) -> str:
        return ImportStatus.LABELS.get(self.status, self.status)

    @property
    def percent(self) -> int:
        return 100 * self.rows_done // self.row_count if self.row_count else 100

    def __repr__(self) -> str:
        return f"<CustomerImport {self.id} {self.filename!r} {self.status}>"


class CustomerImportChange(db.Model):
    """One customer an import created or merged into. For a merge, `previous` holds each
    changed field as [value before, value the import wrote], so an undo restores a field
    only if nobody changed it since."""

    __tablename__ = "customer_import_changes"
    __table_args__ = (sa.UniqueConstraint("import_id", "customer_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    import_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("customer_imports.id", ondelete="CASCADE")
    )
    customer_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    row_number: so.Mapped[int] = so.mapped_column()  # the data row of the file, from 1
    created: so.Mapped[bool] = so.mapped_column()
    previous: so.Mapped[dict[str, list[str | None]] | None] = so.mapped_column(sa.JSON)

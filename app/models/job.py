from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.company import Company
from app.models.customer import Customer
from app.models.enums import LabelledStrEnum
from app.models.types import UTCDateTime, utcnow
from app.models.user import User


class JobStatus(LabelledStrEnum):
    SCHEDULED = "scheduled", "Scheduled"
    ON_MY_WAY = "on_my_way", "On my way"
    STARTED = "started", "Started"
    FINISHED = "finished", "Finished"
    CANCELED = "canceled", "Canceled"


JobStatus.ALL = tuple(JobStatus)
# The seed's "In Progress": On My Way tapped, not yet Finished.
JobStatus.IN_PROGRESS = (JobStatus.ON_MY_WAY, JobStatus.STARTED)
JobStatus.OPEN = (JobStatus.SCHEDULED, JobStatus.ON_MY_WAY, JobStatus.STARTED)
# History: the visit happened or was called off.
JobStatus.CLOSED = (JobStatus.FINISHED, JobStatus.CANCELED)
# Kept for callers that look a label up by value; the labels live on the members.
JobStatus.LABELS = JobStatus.labels()


class Job(db.Model):
    __tablename__ = "jobs"
    __table_args__ = (
        sa.UniqueConstraint("company_id", "number"),
        sa.Index("ix_jobs_company_start", "company_id", "scheduled_start"),
        sa.Index("ix_jobs_customer_status", "customer_id", "status"),
        # The jobs board: each tab is a few ranges of (status, start), read in board order
        # and counted from the index alone (app/services/job_queries.py).
        sa.Index("ix_jobs_company_status_start", "company_id", "status", "scheduled_start", "id"),
        # The board's search matches any part of the description (ILIKE '%...%'): a GIN
        # index of (company id, trigrams) on PostgreSQL; SQLite makes a plain index of it.
        sa.Index(
            "ix_jobs_description_trgm",
            "company_id",
            "description",
            postgresql_using="gin",
            postgresql_ops={"description": "gin_trgm_ops"},
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    customer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("customers.id"))
    # Shown to people ("Job #1042"); sequential per company.
    number: so.Mapped[int] = so.mapped_column()
    description: so.Mapped[str] = so.mapped_column(sa.String(255))
    notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    address: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    scheduled_start: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    scheduled_end: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    status: so.Mapped[str] = so.mapped_column(
        sa.String(16), default=JobStatus.SCHEDULED, server_default=JobStatus.SCHEDULED
    )
    on_my_way_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    on_my_way_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    eta_minutes: so.Mapped[int | None] = so.mapped_column()
    started_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    finished_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    canceled_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )

    company: so.Mapped[Company] = so.relationship()
    customer: so.Mapped[Customer] = so.relationship()
    on_my_way_by: so.Mapped[User | None] = so.relationship(foreign_keys=[on_my_way_by_id])
    assignments: so.Mapped[list[JobAssignment]] = so.relationship(
        back_populates="job", cascade="all, delete-orphan", order_by="JobAssignment.id"
    )

    @property
    def techs(self) -> list[User]:
        return [a.user for a in self.assignments]

    @property
    def in_progress(self) -> bool:
        return self.status in JobStatus.IN_PROGRESS

    @property
    def is_closed(self) -> bool:
        """Finished or canceled: history. Its time and its people can't be changed (that
        would rewrite what the customer was told); reopen a canceled job first."""
        return self.status in JobStatus.CLOSED

    @property
    def status_label(self) -> str:
        return JobStatus.label_for(self.status)

    def __repr__(self) -> str:
        return f"<Job {self.id} #{self.number} {self.status}>"


class JobAssignment(db.Model):
    __tablename__ = "job_assignments"
    __table_args__ = (sa.UniqueConstraint("job_id", "user_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    job_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("jobs.id", ondelete="CASCADE"))
    user_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    job: so.Mapped[Job] = so.relationship(back_populates="assignments")
    user: so.Mapped[User] = so.relationship()

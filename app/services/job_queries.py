"""Read side of jobs: the office board, a job's timeline, who can be assigned.

The board's "today" is the company's calendar day in its own time zone, not UTC's: a
7 pm Central job is "today" in Texas even though it is tomorrow in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_sqlalchemy.pagination import Pagination

from app.extensions import db
from app.models import (
    Company,
    Customer,
    Direction,
    Job,
    JobAssignment,
    JobStatus,
    Message,
    MessageKind,
    MessageStatus,
    Role,
    SkippedText,
    User,
    utcnow,
)
from app.sms.error_codes import error_explanation

PER_PAGE = 25


@dataclass(frozen=True)
class BoardTab:
    key: str
    label: str


TABS: tuple[BoardTab, ...] = (
    BoardTab("today", "Today"),
    BoardTab("upcoming", "Upcoming"),
    BoardTab("in_progress", "In progress"),
    BoardTab("finished", "Finished"),
    BoardTab("canceled", "Canceled"),
)
TAB_KEYS = tuple(t.key for t in TABS)
DEFAULT_TAB = "today"


def local_day_bounds(tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the local calendar day containing `now`, as aware UTC datetimes.

    Built from local midnights, so a 23- or 25-hour DST day is still exactly one day.
    """
    today = now.astimezone(tz).date()
    start = datetime.combine(today, time.min, tzinfo=tz)
    end = datetime.combine(today + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def _tab_conditions(tz: ZoneInfo, now: datetime) -> dict[str, sa.ColumnElement[bool]]:
    day_start, day_end = local_day_bounds(tz, now)
    return {
        # Today's visits in any state but canceled, plus earlier visits nobody closed: an
        # overdue job must stay in sight until someone finishes or cancels it.
        "today": sa.or_(
            sa.and_(
                Job.scheduled_start >= day_start,
                Job.scheduled_start < day_end,
                Job.status != JobStatus.CANCELED,
            ),
            sa.and_(Job.scheduled_start < day_start, Job.status.in_(JobStatus.OPEN)),
        ),
        "upcoming": sa.and_(Job.scheduled_start >= day_end, Job.status == JobStatus.SCHEDULED),
        "in_progress": Job.status.in_(JobStatus.IN_PROGRESS),
        "finished": Job.status == JobStatus.FINISHED,
        "canceled": Job.status == JobStatus.CANCELED,
    }


def _tab_order(tab: str) -> tuple[sa.ColumnElement, ...]:
    # Past tabs read newest first; the rest in the order the day will happen.
    if tab in ("finished", "canceled"):
        return (Job.scheduled_start.desc(), Job.id.desc())
    return (Job.scheduled_start, Job.id)


def _search_condition(q: str) -> sa.ColumnElement[bool] | None:
    text = q.strip()
    if not text:
        return None
    conditions: list[sa.ColumnElement[bool]] = [
        Customer.name.icontains(text, autoescape=True),
        Job.description.icontains(text, autoescape=True),
    ]
    digits = re.sub(r"\D", "", text)
    number = text.lstrip("#").strip()
    if number.isdigit() and len(number) <= 9:
        conditions.append(Job.number == int(number))
    # Phones are stored as E.164; match the digits people type, however they format them.
    if len(digits) >= 3:
        conditions.append(Customer.mobile_phone.contains(digits, autoescape=True))
    return sa.or_(*conditions)


def _board_base(company: Company, q: str) -> sa.Select:
    stmt = sa.select(Job).join(Job.customer).where(Job.company_id == company.id)
    search = _search_condition(q)
    if search is not None:
        stmt = stmt.where(search)
    return stmt


def board_page(
    *, company: Company, tab: str, q: str = "", page: int = 1, now: datetime | None = None
) -> Pagination:
    """One page of the board. The rows come with their customer and techs loaded in a
    fixed number of queries, however many rows there are."""
    now = now or utcnow()
    tab = tab if tab in TAB_KEYS else DEFAULT_TAB
    stmt = (
        _board_base(company, q)
        .where(_tab_conditions(company.tz, now)[tab])
        .options(
            so.contains_eager(Job.customer),
            so.selectinload(Job.assignments).joinedload(JobAssignment.user),
        )
        .order_by(*_tab_order(tab))
    )
    return db.paginate(stmt, page=max(page, 1), per_page=PER_PAGE, error_out=False)


def board_counts(*, company: Company, q: str = "", now: datetime | None = None) -> dict[str, int]:
    """How many jobs each tab holds (with the search applied), in one query."""
    now = now or utcnow()
    conditions = _tab_conditions(company.tz, now)
    columns = [
        sa.func.coalesce(sa.func.sum(sa.case((cond, 1), else_=0)), 0).label(key)
        for key, cond in conditions.items()
    ]
    base = _board_base(company, q).with_only_columns(*columns)
    row = db.session.execute(base).one()
    return {key: int(row._mapping[key]) for key in conditions}


def is_overdue(job: Job, *, company: Company, now: datetime | None = None) -> bool:
    """Scheduled before today (local) and still not started."""
    day_start, _ = local_day_bounds(company.tz, now or utcnow())
    return job.status == JobStatus.SCHEDULED and job.scheduled_start < day_start


def customer_jobs(*, customer: Customer, limit: int = 100) -> list[Job]:
    """A customer's jobs, newest visit first, with techs loaded."""
    return list(
        db.session.scalars(
            sa.select(Job)
            .where(Job.company_id == customer.company_id, Job.customer_id == customer.id)
            .options(so.selectinload(Job.assignments).joinedload(JobAssignment.user))
            .order_by(Job.scheduled_start.desc(), Job.id.desc())
            .limit(limit)
        )
    )


def assignable_users(company: Company) -> list[User]:
    """Active people who can go on a job: technicians first, then office staff who also
    do field work (owners of small companies often do)."""
    users = db.session.scalars(
        sa.select(User)
        .where(User.company_id == company.id, User.active.is_(True))
        .where(User.role.in_((Role.TECH, *Role.OFFICE_ROLES)))
        .order_by(User.name, User.id)
    ).all()
    return sorted(users, key=lambda u: u.role != Role.TECH)


# --- The job timeline ---------------------------------------------------------------------

KIND_LABELS = {
    MessageKind.MANUAL: "Text",
    MessageKind.JOB_SCHEDULED: "Job scheduled text",
    MessageKind.ON_MY_WAY: "On my way text",
    MessageKind.JOB_FINISHED: "Job finished text",
    MessageKind.REMINDER: "Reminder text",
    MessageKind.ESTIMATE: "Estimate text",
    MessageKind.INVOICE: "Invoice text",
    MessageKind.FORWARD: "Forwarded copy",
    MessageKind.INBOUND: "Reply from customer",
    MessageKind.NOTICE: "Note",
}

STATUS_LABELS = {
    MessageStatus.PENDING: "Waiting to send",
    MessageStatus.SENDING: "Sending",
    MessageStatus.QUEUED: "Sent to carrier",
    MessageStatus.SENT: "Sent",
    MessageStatus.DELIVERED: "Delivered",
    MessageStatus.UNDELIVERED: "Not delivered",
    MessageStatus.FAILED: "Failed",
    MessageStatus.CANCELED: "Not sent",
    MessageStatus.RECEIVED: "Received",
}

WAITING_STATUSES = (MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.QUEUED)


def delivery_problem(message: Message) -> str | None:
    """Why an outbound text did not arrive, in words a person understands; None if it did
    not fail."""
    if message.status not in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
        return None
    return error_explanation(message.error_code, message.error_message)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # "event", "message" or "skipped" (an automated text that could not be queued)
    title: str
    detail: str | None = None
    status: str | None = None  # a job status for events, a MessageStatus for messages
    message: Message | None = None

    @property
    def status_label(self) -> str | None:
        if self.status is None:
            return None
        if self.kind == "skipped":
            return "Not sent"
        if self.kind == "message":
            return STATUS_LABELS.get(self.status, self.status)
        return JobStatus.LABELS.get(self.status, self.status)

    @property
    def problem(self) -> str | None:
        if self.kind == "skipped":
            return self.detail
        return delivery_problem(self.message) if self.message is not None else None

    @property
    def waiting(self) -> bool:
        """A text not yet handed to the carrier, or handed but not yet confirmed."""
        return self.message is not None and self.message.status in WAITING_STATUSES

    @property
    def outbound(self) -> bool:
        return self.message is not None and self.message.direction == Direction.OUT


def _status_events(job: Job) -> list[TimelineEntry]:
    events = [TimelineEntry(job.created_at, "event", "Job created", status=JobStatus.SCHEDULED)]
    if job.on_my_way_at:
        who = job.on_my_way_by.name if job.on_my_way_by else "Someone"
        detail = f"{who} is on the way"
        if job.eta_minutes:
            detail += f", ETA {job.eta_minutes} min"
        events.append(
            TimelineEntry(job.on_my_way_at, "event", "On my way", detail, JobStatus.ON_MY_WAY)
        )
    if job.started_at:
        events.append(TimelineEntry(job.started_at, "event", "Started", None, JobStatus.STARTED))
    if job.finished_at:
        events.append(TimelineEntry(job.finished_at, "event", "Finished", None, JobStatus.FINISHED))
    if job.canceled_at:
        events.append(TimelineEntry(job.canceled_at, "event", "Canceled", None, JobStatus.CANCELED))
    return events


def job_timeline(job: Job) -> list[TimelineEntry]:
    """The job's status events and every text tied to it, oldest first.

    Generic over `Message` rows: any text another part of the product links to the job
    (automated notices, replies, invoices) shows here with its delivery status.
    """
    messages = db.session.scalars(
        sa.select(Message)
        .where(Message.company_id == job.company_id, Message.job_id == job.id)
        .options(so.joinedload(Message.author))
        .order_by(Message.created_at, Message.id)
    ).all()
    entries = _status_events(job)
    for message in messages:
        title = KIND_LABELS.get(message.kind, message.kind.replace("_", " ").capitalize())
        if message.direction == Direction.OUT and message.author is not None:
            title += f" from {message.author.name}"
        entries.append(
            TimelineEntry(
                message.created_at,
                "message",
                title,
                message.body,
                status=message.status,
                message=message,
            )
        )
    skipped = db.session.scalars(
        sa.select(SkippedText)
        .where(SkippedText.company_id == job.company_id, SkippedText.job_id == job.id)
        .order_by(SkippedText.created_at, SkippedText.id)
    ).all()
    for skip in skipped:
        title = KIND_LABELS.get(skip.kind, skip.kind.replace("_", " ").capitalize())
        entries.append(
            TimelineEntry(skip.created_at, "skipped", title, skip.detail, status="canceled")
        )
    # Stable: events and messages at the same instant keep their natural order.
    return sorted(entries, key=lambda e: e.at)

"""The technician's day, read side: which jobs a tech sees, the texts with each job's
customer, and how many of the texts routed to the tech are still unread.

"Today" is the calendar day in the company's time zone, not in UTC: a plumber in Chicago
at 7 pm must not see tomorrow's jobs as today's because UTC already rolled over.

The one write here, `mark_job_messages_read`, records that the tech has seen the texts
shown on their screen (their own `MessageRecipient` rows only); the escalation rule of the
inbox relies on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models import (
    Company,
    Conversation,
    Direction,
    Job,
    JobAssignment,
    JobStatus,
    Message,
    MessageRecipient,
    MessageStatus,
    User,
    utcnow,
)
from app.sms.error_codes import error_explanation

UPCOMING_DAYS = 14
UPCOMING_LIMIT = 30
CONVERSATION_LIMIT = 50


@dataclass(frozen=True)
class JobCard:
    job: Job
    unread: int


@dataclass(frozen=True)
class TechDay:
    day: date
    today: list[JobCard]
    upcoming: list[JobCard]
    everyone: bool

    @property
    def done_today(self) -> int:
        return sum(1 for card in self.today if card.job.status == JobStatus.FINISHED)

    @property
    def total_today(self) -> int:
        """Canceled jobs are shown (so nobody drives there) but are not work to be done."""
        return sum(1 for card in self.today if card.job.status != JobStatus.CANCELED)

    @property
    def version(self) -> str:
        """Changes whenever anything shown on the list changes (polling answers 204 if not)."""
        parts = [self.day.isoformat(), "all" if self.everyone else "mine"]
        for card in (*self.today, *self.upcoming):
            job = card.job
            parts.append(f"{job.id}:{job.updated_at.timestamp():.0f}:{card.unread}")
        return _digest(parts)


def _digest(parts: Sequence[str]) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


def day_bounds(*, company: Company, day: date) -> tuple[datetime, datetime]:
    """The UTC instants where `day` starts and ends in the company's time zone (DST-safe)."""
    return company.day_bounds(day)


def local_today(*, company: Company, now: datetime | None = None) -> date:
    return company.today(now)


def can_see_all_jobs(user: User) -> bool:
    """Owners, admins and office staff see every job in the office anyway, so `?all=1` on
    the tech page shows them nothing new; a tech never sees other techs' jobs."""
    return user.is_office


def job_visible_to(*, job: Job, user: User) -> bool:
    """Whether `user` may open `job` on the tech page (company scoping is checked first
    by the caller with `get_or_404`)."""
    if job.company_id != user.company_id:
        return False
    if can_see_all_jobs(user):
        return True
    return (
        db.session.scalar(
            sa.select(JobAssignment.id).filter_by(job_id=job.id, user_id=user.id).limit(1)
        )
        is not None
    )


def _mine(*, company: Company, user: User, everyone: bool) -> list[sa.ColumnElement[bool]]:
    """The jobs the day may list: the company's, and only the user's own unless `everyone`."""
    conditions = [Job.company_id == company.id]
    if not everyone:
        conditions.append(
            sa.exists().where(JobAssignment.job_id == Job.id, JobAssignment.user_id == user.id)
        )
    return conditions


def _on_the_day(start: datetime, end: datetime) -> sa.ColumnElement[bool]:
    """Today's jobs: scheduled to start today, plus jobs from earlier days still in progress
    (On My Way or started and never finished: the tech must be able to finish them)."""
    return sa.or_(
        sa.and_(Job.scheduled_start >= start, Job.scheduled_start < end),
        sa.and_(Job.scheduled_start < start, Job.status.in_(JobStatus.IN_PROGRESS)),
    )


def tech_day(
    *, company: Company, user: User, now: datetime | None = None, everyone: bool = False
) -> TechDay:
    """Today's jobs in time order, then the upcoming ones.

    Today: jobs scheduled to start today (local), whatever their status (a canceled one
    is shown so nobody drives there), plus jobs from earlier days still in progress (On My
    Way or started and never finished: the tech must be able to finish them).
    Upcoming: open jobs of the next `UPCOMING_DAYS` days, the first `UPCOMING_LIMIT`.
    """
    now = now or utcnow()
    everyone = everyone and can_see_all_jobs(user)
    day = local_today(company=company, now=now)
    start, end = day_bounds(company=company, day=day)
    mine = _mine(company=company, user=user, everyone=everyone)
    today_ids = sa.select(Job.id).where(*mine, _on_the_day(start, end))
    upcoming_ids = (
        sa.select(Job.id)
        .where(
            *mine,
            Job.scheduled_start >= end,
            Job.scheduled_start < end + timedelta(days=UPCOMING_DAYS),
            Job.status.in_(JobStatus.OPEN),
        )
        .order_by(Job.scheduled_start, Job.id)
        .limit(UPCOMING_LIMIT)
        .subquery()
    )
    # Both lists in one read, with each job's customer and techs: a tech's phone on a
    # bad connection should not wait for a round trip per list and per relationship.
    jobs = list(
        db.session.scalars(
            sa.select(Job)
            .where(Job.id.in_(sa.union_all(today_ids, sa.select(upcoming_ids.c.id))))
            .options(
                so.joinedload(Job.customer),
                so.selectinload(Job.assignments).joinedload(JobAssignment.user),
            )
            .order_by(Job.scheduled_start, Job.id)
        )
    )
    # Disjoint: every upcoming job starts after today; every one of today's before that.
    today = [job for job in jobs if job.scheduled_start < end]
    upcoming = [job for job in jobs if job.scheduled_start >= end]
    counts = unread_counts(
        company=company, user=user, customer_ids={job.customer_id for job in jobs}
    )
    return TechDay(
        day=day,
        today=[JobCard(job, counts.get(job.customer_id, 0)) for job in today],
        upcoming=[JobCard(job, counts.get(job.customer_id, 0)) for job in upcoming],
        everyone=everyone,
    )


@dataclass(frozen=True)
class DayProgress:
    done: int
    total: int
    next_job: Job | None


def day_progress(
    *, company: Company, user: User, after: Job, now: datetime | None = None
) -> DayProgress:
    """How far the user's day is, and where to go after `after` (just finished): the first
    open job of today that starts after it, else an earlier one still open (a visit put
    off), else none. Only the user's own jobs, as on My day."""
    day = local_today(company=company, now=now)
    start, end = day_bounds(company=company, day=day)
    jobs = list(
        db.session.scalars(
            sa.select(Job)
            .where(*_mine(company=company, user=user, everyone=False), _on_the_day(start, end))
            .options(so.joinedload(Job.customer))
            .order_by(Job.scheduled_start, Job.id)
        )
    )
    open_jobs = [job for job in jobs if job.status in JobStatus.OPEN and job.id != after.id]
    place = (after.scheduled_start, after.id)
    later = [job for job in open_jobs if (job.scheduled_start, job.id) > place]
    return DayProgress(
        done=sum(1 for job in jobs if job.status == JobStatus.FINISHED),
        total=sum(1 for job in jobs if job.status != JobStatus.CANCELED),
        next_job=(later or open_jobs or [None])[0],
    )


def unread_counts(*, company: Company, user: User, customer_ids: Collection[int]) -> dict[int, int]:
    """Unread texts routed to `user`, per customer, in one query."""
    if not customer_ids:
        return {}
    rows = db.session.execute(
        sa.select(Conversation.customer_id, sa.func.count(MessageRecipient.id))
        .join(Message, Message.id == MessageRecipient.message_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(
            MessageRecipient.user_id == user.id,
            MessageRecipient.read_at.is_(None),
            Conversation.company_id == company.id,
            Conversation.customer_id.in_(list(customer_ids)),
        )
        .group_by(Conversation.customer_id)
    )
    return dict(rows.all())


def _conversation_filter(job: Job) -> sa.ColumnElement[bool]:
    # The conversation with the job's customer, found by customer (a customer whose number
    # changed keeps their history) and only inside the job's company.
    return sa.and_(
        Conversation.company_id == job.company_id, Conversation.customer_id == job.customer_id
    )


@dataclass(frozen=True)
class JobConversation:
    messages: list[Message]
    unread_ids: frozenset[int]  # messages routed to the viewer and not read before now
    version: str


def _visible_to(user: User) -> sa.ColumnElement[bool]:
    """A tech sees what the company sent the customer and the texts routed to them, never
    customer texts that went to someone else (e.g. to the office before the job began)."""
    if not user.is_tech:
        return sa.true()
    routed_to_user = (
        sa.select(MessageRecipient.id)
        .where(MessageRecipient.message_id == Message.id, MessageRecipient.user_id == user.id)
        .exists()
    )
    return sa.or_(Message.direction == Direction.OUT, routed_to_user)


def job_conversation(*, job: Job, user: User) -> JobConversation:
    """The latest texts with the job's customer that `user` may see, oldest first."""
    newest_first = list(
        db.session.scalars(
            sa.select(Message)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(_conversation_filter(job), _visible_to(user))
            .options(so.selectinload(Message.author))
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(CONVERSATION_LIMIT)
        )
    )
    ids = [m.id for m in newest_first]
    unread = (
        set(
            db.session.scalars(
                sa.select(MessageRecipient.message_id).where(
                    MessageRecipient.user_id == user.id,
                    MessageRecipient.read_at.is_(None),
                    MessageRecipient.message_id.in_(ids),
                )
            )
        )
        if ids
        else set()
    )
    return JobConversation(
        messages=list(reversed(newest_first)),
        unread_ids=frozenset(unread),
        version=conversation_version(job=job, user=user),
    )


def conversation_version(*, job: Job, user: User) -> str:
    """A fingerprint of what `user` sees of the conversation: a new text or a delivery
    status changes it."""
    count, last_id, last_update = db.session.execute(
        sa.select(
            sa.func.count(Message.id), sa.func.max(Message.id), sa.func.max(Message.updated_at)
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(_conversation_filter(job), _visible_to(user))
    ).one()
    return _digest([str(count), str(last_id), str(last_update)])


def mark_job_messages_read(*, job: Job, user: User, now: datetime | None = None) -> int:
    """Mark the texts with the job's customer that were routed to `user` as read by them.
    Other people's read state is untouched. Returns how many rows changed."""
    in_conversation = (
        sa.select(Message.id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(_conversation_filter(job))
    )
    result = db.session.execute(
        sa.update(MessageRecipient)
        .where(
            MessageRecipient.user_id == user.id,
            MessageRecipient.read_at.is_(None),
            MessageRecipient.message_id.in_(in_conversation),
        )
        .values(read_at=now or utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


@dataclass(frozen=True)
class DeliveryTick:
    symbol: str  # "…", "✓", "✓✓" or "✗"
    label: str  # said in words next to the symbol (and to screen readers)
    state: str  # css modifier: queued, sent, delivered, failed


def delivery_tick(message: Message) -> DeliveryTick | None:
    """How far an outbound text got, for the ticks next to it. None for inbound texts."""
    if message.direction != Direction.OUT:
        return None
    status = message.status
    label = MessageStatus.label_for(status)
    # A tick means the carrier has it, as in the office inbox: not yet handed over is "…".
    if status in (MessageStatus.PENDING, MessageStatus.SENDING):
        return DeliveryTick("…", label, "queued")
    if status == MessageStatus.QUEUED:
        return DeliveryTick("✓", label, "queued")
    if status == MessageStatus.SENT:
        return DeliveryTick("✓", label, "sent")
    if status == MessageStatus.DELIVERED:
        return DeliveryTick("✓✓", label, "delivered")
    if status == MessageStatus.CANCELED:
        return DeliveryTick("✗", f"{label} (withdrawn)", "failed")
    reason = error_explanation(message.error_code, message.error_message)
    return DeliveryTick("✗", f"Not delivered. {reason}", "failed")

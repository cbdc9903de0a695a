"""Read side of jobs: the office board, a job's timeline, who can be assigned.

The board's "today" is the company's calendar day in its own time zone, not UTC's: a
7 pm Central job is "today" in Texas even though it is tomorrow in UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

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
from app.models.company import day_bounds_in
from app.models.types import ilike_contains
from app.sms.error_codes import error_explanation

PER_PAGE = 25
# Tab counts stop here: past it a tab says "1,000+". An exact count of every finished job
# of a busy company on each view of the board costs more than the number is worth.
COUNT_CAP = 1000


@dataclass(frozen=True)
class BoardTab:
    key: str
    label: str
    # Past tabs read newest first; the rest in the order the day will happen.
    newest_first: bool = False


TABS: tuple[BoardTab, ...] = (
    BoardTab("today", "Today"),
    BoardTab("upcoming", "Upcoming"),
    BoardTab("in_progress", "In progress"),
    BoardTab("finished", "Finished", newest_first=True),
    BoardTab("canceled", "Canceled", newest_first=True),
)
TAB_KEYS = tuple(t.key for t in TABS)
TABS_BY_KEY = {t.key: t for t in TABS}
DEFAULT_TAB = "today"


def local_day_bounds(tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the local calendar day containing `now`, as aware UTC datetimes.

    Built from local midnights, so a 23- or 25-hour DST day is still exactly one day.
    """
    return day_bounds_in(tz, now.astimezone(tz).date())


@dataclass(frozen=True)
class Columns:
    """The columns the board sorts into tabs, orders and pages by: the jobs table's, or
    the same columns of a search's matches."""

    id: sa.ColumnElement[int]
    status: sa.ColumnElement[str]
    start: sa.ColumnElement[datetime]


JOB_COLUMNS = Columns(Job.id, Job.status, Job.scheduled_start)


@dataclass(frozen=True)
class Slice:
    """The jobs in one status whose start is in [since, before): one range of the index
    (company_id, status, scheduled_start, id), so it is read in board order and counted
    from the index alone."""

    status: str
    since: datetime | None = None
    before: datetime | None = None

    def condition(self, cols: Columns = JOB_COLUMNS) -> sa.ColumnElement[bool]:
        parts = [cols.status == self.status]
        if self.since is not None:
            parts.append(cols.start >= self.since)
        if self.before is not None:
            parts.append(cols.start < self.before)
        return sa.and_(*parts)


TabSlices = dict[str, tuple[Slice, ...]]


def _tab_slices(tz: ZoneInfo, now: datetime) -> TabSlices:
    day_start, day_end = local_day_bounds(tz, now)
    return {
        # Today's visits in any state but canceled, plus earlier visits nobody closed: an
        # overdue job must stay in sight until someone finishes or cancels it. That is:
        # every open job starting before tomorrow, and the jobs finished from today.
        "today": (
            *(Slice(status, before=day_end) for status in JobStatus.OPEN),
            Slice(JobStatus.FINISHED, since=day_start, before=day_end),
        ),
        "upcoming": (Slice(JobStatus.SCHEDULED, since=day_end),),
        "in_progress": tuple(Slice(status) for status in JobStatus.IN_PROGRESS),
        "finished": (Slice(JobStatus.FINISHED),),
        "canceled": (Slice(JobStatus.CANCELED),),
    }


def _in_tab(slices: tuple[Slice, ...], cols: Columns = JOB_COLUMNS) -> sa.ColumnElement[bool]:
    return sa.or_(*(s.condition(cols) for s in slices))


# --- Keyset paging ------------------------------------------------------------------------

_CURSOR = re.compile(r"(\d{8}T\d{6}\.\d{6})-(\d{1,12})")


@dataclass(frozen=True)
class BoardCursor:
    """Where a page of the board continues from: the (start, id) of a row. Unlike a page
    number it costs nothing however deep it is (no OFFSET), and a job booked meanwhile
    does not shift the next page by a row."""

    start: datetime
    job_id: int

    @classmethod
    def of(cls, job: Job) -> BoardCursor:
        return cls(job.scheduled_start, job.id)

    @classmethod
    def parse(cls, token: str | None) -> BoardCursor | None:
        """None for a missing or malformed token (a hand-edited or truncated link)."""
        match = _CURSOR.fullmatch(token or "")
        if match is None:
            return None
        try:
            start = datetime.strptime(match[1], "%Y%m%dT%H%M%S.%f").replace(tzinfo=UTC)
        except ValueError:
            return None
        return cls(start, int(match[2]))

    @property
    def token(self) -> str:
        return f"{self.start.astimezone(UTC):%Y%m%dT%H%M%S.%f}-{self.job_id}"


def _order(tab: BoardTab, cols: Columns = JOB_COLUMNS, *, reverse: bool = False) -> tuple:
    if tab.newest_first != reverse:
        return (cols.start.desc(), cols.id.desc())
    return (cols.start, cols.id)


def _beyond(
    cursor: BoardCursor, tab: BoardTab, cols: Columns = JOB_COLUMNS, *, reverse: bool = False
) -> sa.ColumnElement[bool]:
    """Rows past `cursor` in the tab's order (or before it, with `reverse`). The first
    comparison is a range on the index; the second only breaks ties on the start."""
    if tab.newest_first != reverse:
        return sa.and_(
            cols.start <= cursor.start,
            sa.or_(cols.start < cursor.start, cols.id < cursor.job_id),
        )
    return sa.and_(
        cols.start >= cursor.start,
        sa.or_(cols.start > cursor.start, cols.id > cursor.job_id),
    )


# --- Search -------------------------------------------------------------------------------


def _search_matches(company: Company, q: str) -> sa.Subquery | None:
    """(id, status, scheduled_start) of the company's jobs matching `q`: by customer name
    or phone digits, by description, or by job number. None without a search.

    One SELECT per way of matching, each served by its own index (GIN trigram indexes on
    PostgreSQL), joined by UNION. Under one OR, PostgreSQL would rather read every
    customer of the company and match each name: it misjudges what ILIKE costs (~1.5 us
    a name, 30 ms for 20,000; the indexes take 2 ms).
    """
    text = q.strip()
    if not text:
        return None
    of_company = Customer.company_id == company.id
    customer_ways = [sa.select(Customer.id).where(of_company, ilike_contains(Customer.name, text))]
    # Phones are stored as E.164; match the digits people type, however they format them.
    digits = re.sub(r"\D", "", text)
    if len(digits) >= 3:
        customer_ways.append(
            sa.select(Customer.id).where(of_company, Customer.mobile_phone.like(f"%{digits}%"))
        )
    columns = (Job.id, Job.status, Job.scheduled_start)
    ways = [
        # The customers are the company's, so are their jobs: looked up per customer, not
        # by reading all the company's jobs (which a company_id test here would invite).
        sa.select(*columns).where(Job.customer_id.in_(sa.union(*customer_ways))),
        sa.select(*columns).where(
            Job.company_id == company.id, ilike_contains(Job.description, text)
        ),
    ]
    number = text.lstrip("#").strip()
    if number.isascii() and number.isdigit() and len(number) <= 9:
        ways.append(
            sa.select(*columns).where(Job.company_id == company.id, Job.number == int(number))
        )
    return sa.union(*ways).subquery("matches")


# --- The board ----------------------------------------------------------------------------


@dataclass(frozen=True)
class JobBoard:
    jobs: list[Job]
    # Tokens for the links to the page before and after this one; None at either end.
    prev_token: str | None
    next_token: str | None
    # Jobs per tab (with the search applied); COUNT_CAP + 1 stands for "more than COUNT_CAP".
    counts: dict[str, int]

    def count_label(self, tab: str) -> str:
        count = self.counts[tab]
        return f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}"


def _page_jobs(ids: sa.Select | list[int], tab: BoardTab, *, reverse: bool) -> list[Job]:
    """The page's rows with their customer and techs, in a fixed number of queries."""
    return list(
        db.session.scalars(
            sa.select(Job)
            .join(Job.customer)
            .where(Job.id.in_(ids))
            .options(
                so.contains_eager(Job.customer),
                so.selectinload(Job.assignments).joinedload(JobAssignment.user),
            )
            .order_by(*_order(tab, reverse=reverse))
        )
    )


class _IndexPages:
    """The board without a search, from the index: a page is one ordered, limited read
    per slice (each an index range), merged; so it costs `limit` index entries per slice
    however deep it is and however many jobs the tab holds. The counts are capped counts
    of every slice, in one query of index-only reads."""

    def __init__(self, company: Company, tab: BoardTab, tab_slices: TabSlices) -> None:
        self.company, self.tab, self.tab_slices = company, tab, tab_slices

    def fetch(self, cursor: BoardCursor | None, reverse: bool, limit: int) -> list[Job]:
        tab = self.tab
        where = [Job.company_id == self.company.id]
        if cursor is not None:
            where.append(_beyond(cursor, tab, reverse=reverse))
        parts = [
            sa.select(Job.id, Job.status, Job.scheduled_start)
            .where(*where, s.condition())
            .order_by(*_order(tab, reverse=reverse))
            .limit(limit)
            .subquery()
            for s in self.tab_slices[tab.key]
        ]
        merged = (
            parts[0]
            if len(parts) == 1
            else sa.union_all(*(sa.select(*p.c) for p in parts)).subquery()
        )
        cols = Columns(merged.c.id, merged.c.status, merged.c.scheduled_start)
        ids = sa.select(merged.c.id).order_by(*_order(tab, cols, reverse=reverse)).limit(limit)
        return _page_jobs(ids, tab, reverse=reverse)

    def counts(self) -> dict[str, int]:
        def capped(condition: sa.ColumnElement[bool]) -> sa.ScalarSelect:
            rows = sa.select(Job.id).where(condition).limit(COUNT_CAP + 1).subquery()
            return sa.select(sa.func.count()).select_from(rows).scalar_subquery()

        company_id = self.company.id
        columns = [
            capped(sa.and_(Job.company_id == company_id, s.condition())).label(f"{key}_{n}")
            for key, slices in self.tab_slices.items()
            for n, s in enumerate(slices)
        ]
        row = db.session.execute(sa.select(*columns)).one()._mapping
        return {
            key: min(sum(row[f"{key}_{n}"] for n in range(len(slices))), COUNT_CAP + 1)
            for key, slices in self.tab_slices.items()
        }


class _SearchPages:
    """The board narrowed to a search's matches. Matching substrings is the expensive
    part, so each read runs the search once and gets, in the same statement, the page's
    ids and every tab's count of matches (window counts over all of them)."""

    def __init__(self, matches: sa.Subquery, tab: BoardTab, tab_slices: TabSlices) -> None:
        self.matches, self.tab, self.tab_slices = matches, tab, tab_slices
        self._counts = dict.fromkeys(tab_slices, 0)

    def fetch(self, cursor: BoardCursor | None, reverse: bool, limit: int) -> list[Job]:
        m = self.matches
        cols = Columns(m.c.id, m.c.status, m.c.scheduled_start)
        wanted = _in_tab(self.tab_slices[self.tab.key], cols)
        if cursor is not None:
            wanted = sa.and_(wanted, _beyond(cursor, self.tab, cols, reverse=reverse))
        on_page = sa.case((wanted, 1), else_=0)
        counts = [
            sa.func.count(sa.case((_in_tab(slices, cols), 1))).over().label(key)
            for key, slices in self.tab_slices.items()
        ]
        rows = db.session.execute(
            sa.select(m.c.id, on_page.label("on_page"), *counts)
            .order_by(on_page.desc(), *_order(self.tab, cols, reverse=reverse))
            .limit(limit)
        ).all()
        if rows:
            first = rows[0]._mapping
            self._counts = {key: min(first[key], COUNT_CAP + 1) for key in self.tab_slices}
        ids = [row.id for row in rows if row.on_page]
        return _page_jobs(ids, self.tab, reverse=reverse) if ids else []

    def counts(self) -> dict[str, int]:
        return self._counts


def _keyset_page(
    pages: _IndexPages | _SearchPages, *, after: BoardCursor | None, before: BoardCursor | None
) -> tuple[list[Job], str | None, str | None]:
    """(jobs, prev token, next token) of the first page, the page after `after` or the one
    before `before`. One row more than a page says whether there is a page beyond it."""
    if before is not None:
        rows = pages.fetch(before, True, PER_PAGE + 1)
        if len(rows) > PER_PAGE:
            jobs = list(reversed(rows[:PER_PAGE]))
            return jobs, BoardCursor.of(jobs[0]).token, BoardCursor.of(jobs[-1]).token
        if len(rows) == PER_PAGE:
            jobs = list(reversed(rows))
            return jobs, None, BoardCursor.of(jobs[-1]).token
        # Back at the start, but short (jobs moved meanwhile): show the first page.
    elif after is not None:
        rows = pages.fetch(after, False, PER_PAGE + 1)
        if rows:
            jobs = rows[:PER_PAGE]
            next_token = BoardCursor.of(jobs[-1]).token if len(rows) > PER_PAGE else None
            return jobs, BoardCursor.of(jobs[0]).token, next_token
        # Nothing after it (the jobs moved on, or an old link): show the first page.
    rows = pages.fetch(None, False, PER_PAGE + 1)
    jobs = rows[:PER_PAGE]
    return jobs, None, BoardCursor.of(jobs[-1]).token if len(rows) > PER_PAGE else None


def job_board(
    *,
    company: Company,
    tab: str,
    q: str = "",
    after: BoardCursor | None = None,
    before: BoardCursor | None = None,
    now: datetime | None = None,
) -> JobBoard:
    """One page of a tab of the board (the first page, the page after `after` or the one
    before `before`, in the tab's order) and how many jobs each tab holds, with the search
    `q` applied to both. The rows come with their customer and techs loaded, in a fixed
    number of queries however many rows there are."""
    now = now or utcnow()
    board_tab = TABS_BY_KEY.get(tab, TABS_BY_KEY[DEFAULT_TAB])
    tab_slices = _tab_slices(company.tz, now)
    matches = _search_matches(company, q)
    pages = (
        _IndexPages(company, board_tab, tab_slices)
        if matches is None
        else _SearchPages(matches, board_tab, tab_slices)
    )
    jobs, prev_token, next_token = _keyset_page(pages, after=after, before=before)
    return JobBoard(jobs, prev_token, next_token, pages.counts())


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
            extra = (self.message.extra or {}) if self.message is not None else {}
            if self.status == MessageStatus.PENDING and extra.get("held"):
                return "Held"  # a "stop texting me" waits for the office's decision
            if self.status == MessageStatus.PENDING and extra.get("quiet_hours"):
                return "Waiting for texting hours"
            return MessageStatus.label_for(self.status)
        return JobStatus.label_for(self.status)

    @property
    def problem(self) -> str | None:
        if self.kind == "skipped":
            return self.detail
        return delivery_problem(self.message) if self.message is not None else None

    @property
    def waiting(self) -> bool:
        """A text not yet handed to the carrier, or handed but not yet confirmed."""
        return self.message is not None and self.message.status in MessageStatus.WAITING

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
        title = MessageKind.label_for(message.kind)
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
        title = MessageKind.label_for(skip.kind)
        entries.append(
            TimelineEntry(skip.created_at, "skipped", title, skip.detail, status="canceled")
        )
    # Stable: events and messages at the same instant keep their natural order.
    return sorted(entries, key=lambda e: e.at)

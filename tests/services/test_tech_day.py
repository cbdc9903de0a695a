"""The tech's day (read side): today and upcoming in company time, unread counts,
marking read, and the delivery ticks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Direction,
    JobStatus,
    Message,
    MessageRecipient,
    MessageStatus,
    Role,
)
from app.services.job_status import job_set_status
from app.services.tech_day import (
    conversation_version,
    day_bounds,
    day_progress,
    delivery_tick,
    job_conversation,
    job_visible_to,
    mark_job_messages_read,
    tech_day,
    unread_counts,
)
from app.services.texting import queue_text

# 11:30 pm in Chicago on March 10 is already March 11 in UTC.
NOW = datetime(2026, 3, 11, 4, 30, tzinfo=UTC)


def chicago(day: int, hour: int, minute: int = 0) -> datetime:
    """A March 2026 Chicago wall-clock time, in UTC (CDT is UTC-5 from March 8)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC) + timedelta(hours=5)


@pytest.fixture
def crew(make):
    company = make.company(time_zone="America/Chicago")
    tech = make.user(company, role=Role.TECH)
    other = make.user(company, role=Role.TECH)
    return company, tech, other


def _names(cards) -> list[str]:
    return [card.job.description for card in cards]


def test_today_and_upcoming_follow_the_company_clock(make, crew):
    company, tech, other = crew
    job = make.job
    job(company, techs=[tech], start=chicago(10, 22), description="late tonight")
    job(company, techs=[tech], start=chicago(10, 8), description="this morning")
    job(company, techs=[tech], start=chicago(11, 8), description="tomorrow")
    job(company, techs=[tech], start=chicago(9, 8), description="yesterday, never touched")
    job(company, techs=[tech], start=chicago(30, 8), description="in three weeks")
    job(company, techs=[other], start=chicago(10, 9), description="someone else's")

    day = tech_day(company=company, user=tech, now=NOW)

    assert day.day == date(2026, 3, 10)
    assert _names(day.today) == ["this morning", "late tonight"]
    assert _names(day.upcoming) == ["tomorrow"]


def test_today_keeps_unfinished_work_and_shows_canceled_jobs(make, crew):
    company, tech, _ = crew
    yesterday = make.job(company, techs=[tech], start=chicago(9, 15), description="overran")
    job_set_status(job=yesterday, status=JobStatus.STARTED, actor=tech)
    canceled = make.job(company, techs=[tech], start=chicago(10, 9), description="canceled")
    job_set_status(job=canceled, status=JobStatus.CANCELED, actor=None)
    later = make.job(company, techs=[tech], start=chicago(12, 9), description="canceled later")
    job_set_status(job=later, status=JobStatus.CANCELED, actor=None)

    day = tech_day(company=company, user=tech, now=NOW)

    assert _names(day.today) == ["overran", "canceled"]
    assert day.upcoming == []


def test_upcoming_is_the_first_open_jobs_of_the_next_two_weeks(make, crew, monkeypatch):
    from app.services import tech_day as module

    monkeypatch.setattr(module, "UPCOMING_LIMIT", 3)
    company, tech, _ = crew
    for n in range(5):
        make.job(company, techs=[tech], start=chicago(12 + n, 9), description=f"day {12 + n}")
    closed = make.job(company, techs=[tech], start=chicago(11, 9), description="canceled")
    job_set_status(job=closed, status=JobStatus.CANCELED, actor=None)
    make.job(company, techs=[tech], start=chicago(25, 9), description="too far")
    make.job(company, techs=[tech], start=chicago(10, 9), description="today")

    day = tech_day(company=company, user=tech, now=NOW)

    assert _names(day.today) == ["today"]
    assert _names(day.upcoming) == ["day 12", "day 13", "day 14"]


def test_the_day_comes_with_customers_and_techs_loaded(make, crew, count_queries):
    company, tech, other = crew
    make.job(company, techs=[tech, other], start=chicago(10, 9))
    make.job(company, techs=[tech], start=chicago(11, 9))
    db.session.commit()
    db.session.expire_all()
    day = tech_day(company=company, user=tech, now=NOW)
    with count_queries() as statements:
        seen = [(c.job.customer.name, [t.name for t in c.job.techs]) for c in day.today]
        seen += [(c.job.customer.name, [t.name for t in c.job.techs]) for c in day.upcoming]
    assert len(seen) == 2 and seen[0][1] == [tech.name, other.name]
    assert statements == []


def test_everyone_is_for_office_roles_only(make, crew):
    company, tech, other = crew
    make.job(company, techs=[other], start=chicago(10, 9), description="other's")
    owner = company.owner

    assert tech_day(company=company, user=tech, now=NOW, everyone=True).today == []
    everyone = tech_day(company=company, user=owner, now=NOW, everyone=True)
    assert _names(everyone.today) == ["other's"] and everyone.everyone
    assert tech_day(company=company, user=owner, now=NOW).today == []


def test_day_bounds_are_dst_safe(make):
    company = make.company(time_zone="America/Chicago")

    start, end = day_bounds(company=company, day=date(2026, 3, 8))  # clocks go forward

    assert end - start == timedelta(hours=23)
    assert start == datetime(2026, 3, 8, 6, 0, tzinfo=UTC)


def test_visibility(make, crew):
    company, tech, other = crew
    job = make.job(company, techs=[tech])
    stranger = make.company()

    assert job_visible_to(job=job, user=tech)
    assert not job_visible_to(job=job, user=other)
    assert job_visible_to(job=job, user=make.user(company, role=Role.OFFICE))
    assert not job_visible_to(job=job, user=stranger.owner)


def _routed(inbound, company, customer, *users, body="hello", read=False):
    message = inbound(company, customer.mobile_phone, body)
    for user in users:
        db.session.add(
            MessageRecipient(message_id=message.id, user_id=user.id, read_at=NOW if read else None)
        )
    db.session.flush()
    return message


def test_unread_counts_are_per_customer_for_this_user_in_one_query(
    make, crew, inbound, count_queries
):
    company, tech, other = crew
    make.number(company)
    alice, bob, carol = (make.customer(company, name=n) for n in ("Alice A", "Bob B", "Carol C"))
    _routed(inbound, company, alice, tech)
    _routed(inbound, company, alice, tech)
    _routed(inbound, company, alice, tech, read=True)
    _routed(inbound, company, bob, other)
    _routed(inbound, company, carol, tech, other)
    stranger = make.company()
    make.number(stranger)
    lookalike = make.customer(stranger, phone=alice.mobile_phone)
    _routed(inbound, stranger, lookalike, tech)  # impossible in practice; must not count
    with count_queries() as statements:
        counts = unread_counts(
            company=company, user=tech, customer_ids={alice.id, bob.id, carol.id}
        )

    assert counts == {alice.id: 2, carol.id: 1}
    assert len(statements) == 1


def test_mark_read_touches_only_this_users_rows_in_this_conversation(make, crew, inbound):
    company, tech, other = crew
    make.number(company)
    job = make.job(company, techs=[tech])
    elsewhere = make.customer(company)
    mine = _routed(inbound, company, job.customer, tech, other)
    not_this_job = _routed(inbound, company, elsewhere, tech)

    seen = job_conversation(job=job, user=tech)
    changed = mark_job_messages_read(job=job, user=tech, now=NOW)

    assert seen.unread_ids == {mine.id}
    shown = [m.id for m in seen.messages]
    assert mine.id in shown and not_this_job.id not in shown
    assert changed == 1
    rows = {
        (r.message_id, r.user_id): r.read_at
        for r in db.session.scalars(
            sa.select(MessageRecipient).execution_options(populate_existing=True)
        )
    }
    assert rows[(mine.id, tech.id)] == NOW
    assert rows[(mine.id, other.id)] is None
    assert rows[(not_this_job.id, tech.id)] is None
    assert job_conversation(job=job, user=tech).unread_ids == frozenset()


def test_a_tech_sees_what_was_sent_and_what_was_routed_to_them_only(make, crew, inbound):
    """Issue 7: techs see in /tech only what is routed to them. The office's own exchange
    with the customer (routed to the owner before the job) stays in the office."""
    company, tech, _ = crew
    make.number(company)
    job = make.job(company, techs=[tech])
    to_office = _routed(inbound, company, job.customer, company.owner, body="about my bill")
    to_tech = _routed(inbound, company, job.customer, tech, body="gate code 1234")
    sent = queue_text(
        company=company, to_phone=job.customer.mobile_phone, body="On our way", kind="manual"
    )

    shown = {m.id for m in job_conversation(job=job, user=tech).messages}
    assert {to_tech.id, sent.id} <= shown
    assert to_office.id not in shown
    office_view = {m.id for m in job_conversation(job=job, user=company.owner).messages}
    assert to_office.id in office_view


def test_the_conversation_version_moves_with_new_texts_and_ticks(make, crew, inbound):
    company, tech, _ = crew
    make.number(company)
    job = make.job(company, techs=[tech])
    first = conversation_version(job=job, user=tech)
    message = _routed(inbound, company, job.customer, tech)
    second = conversation_version(job=job, user=tech)
    message.status = MessageStatus.FAILED
    message.updated_at = message.updated_at + timedelta(seconds=5)
    db.session.flush()

    assert len({first, second, conversation_version(job=job, user=tech)}) == 3


@pytest.mark.parametrize(
    ("status", "code", "symbol", "label"),
    [
        (MessageStatus.PENDING, None, "…", "Waiting to send"),
        (MessageStatus.SENDING, None, "…", "Sending"),
        (MessageStatus.QUEUED, None, "✓", "Sent to carrier"),
        (MessageStatus.SENT, None, "✓", "Sent"),
        (MessageStatus.DELIVERED, None, "✓✓", "Delivered"),
        (MessageStatus.UNDELIVERED, 30005, "✗", "Not delivered. This number does not exist"),
        (MessageStatus.FAILED, 21610, "✗", "Not delivered. The customer has opted out"),
        (MessageStatus.CANCELED, None, "✗", "Not sent (withdrawn)"),
    ],
)
def test_delivery_ticks(status, code, symbol, label):
    message = Message(direction=Direction.OUT, status=status, error_code=code)

    tick = delivery_tick(message)

    assert tick.symbol == symbol and tick.label.startswith(label)


def test_inbound_texts_have_no_ticks():
    assert delivery_tick(Message(direction=Direction.IN, status=MessageStatus.RECEIVED)) is None


def test_day_progress_counts_todays_work_and_picks_the_next_open_job(make, crew):
    company, tech, other = crew
    job = make.job
    early = job(company, techs=[tech], start=chicago(10, 7), description="put off")
    done = job(company, techs=[tech], start=chicago(10, 9), description="done")
    current = job(company, techs=[tech], start=chicago(10, 11), description="current")
    later = job(company, techs=[tech], start=chicago(10, 14), description="later")
    called_off = job(company, techs=[tech], start=chicago(10, 15), description="called off")
    job(company, techs=[other], start=chicago(10, 12), description="someone else's")
    job(company, techs=[tech], start=chicago(11, 8), description="tomorrow")
    for finished in (done, current):
        job_set_status(job=finished, status=JobStatus.STARTED, actor=tech)
        job_set_status(job=finished, status=JobStatus.FINISHED, actor=tech)
    job_set_status(job=called_off, status=JobStatus.CANCELED, actor=None)

    progress = day_progress(company=company, user=tech, after=current, now=NOW)

    # Canceled work is not counted; the next job is the one after, not the earlier one.
    assert (progress.done, progress.total, progress.next_job) == (2, 4, later)

    job_set_status(job=later, status=JobStatus.STARTED, actor=tech)
    job_set_status(job=later, status=JobStatus.FINISHED, actor=tech)
    after_last = day_progress(company=company, user=tech, after=later, now=NOW)
    assert (after_last.done, after_last.next_job) == (3, early)  # the visit put off

    job_set_status(job=early, status=JobStatus.CANCELED, actor=None)
    assert day_progress(company=company, user=tech, after=later, now=NOW).next_job is None

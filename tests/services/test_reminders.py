"""Appointment reminders: off by default, lead time, quiet hours, never stale.

Every test passes `now` explicitly (a frozen clock). The company is in Chicago (UTC-6 in
December), so 15:00 UTC is 9:00 AM local. Its texting hours are 8:00-21:00 and its jobs
are in Illinois (no state rule beyond the federal 8-21), so the window is 8:00-21:00
Chicago time; state windows have their own tests (tests/services/test_quiet_hours.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    JobStatus,
    Message,
    MessageKind,
    MessageStatus,
    OptOut,
    SkippedText,
    utcnow,
)
from app.services.job_status import job_set_status
from app.services.jobs import reschedule_job
from app.services.message_templates import get_template, set_reminder_lead, set_template_enabled
from app.services.quiet_hours import FEDERAL, DailyWindow, TextingWindows
from app.services.reminders import queue_due_reminders, reminder_send_time

CHICAGO = ZoneInfo("America/Chicago")
ILLINOIS = "200 E Randolph St, Chicago, IL 60601"
WINDOWS = TextingWindows(
    zones=(CHICAGO,), company=DailyWindow(time(8), time(21)), rule=FEDERAL, state="IL"
)


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A December 2026 Chicago wall-clock time, as aware UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=CHICAGO).astimezone(UTC)


def reminders(job) -> list[Message]:
    return list(
        db.session.scalars(sa.select(Message).filter_by(job_id=job.id, kind=MessageKind.REMINDER))
    )


@pytest.fixture
def company(make):
    company = make.company(name="Acme Plumbing", texting_window_end=21 * 60)
    make.number(company)
    return company


def booked(make, company, start: datetime, booked_at: datetime | None = None):
    job = make.job(company, start=start, address=ILLINOIS)
    # Booked well before the reminder is due, unless the test says otherwise.
    job.created_at = booked_at or start - timedelta(days=7)
    db.session.flush()
    return job


def turn_on(company, lead_minutes: int) -> None:
    template = get_template(company=company, kind=MessageKind.REMINDER)
    template.enabled = True
    set_reminder_lead(company=company, lead_minutes=lead_minutes)


def test_reminders_are_off_by_default(make, company):
    job = booked(make, company, local(2, 14))
    assert queue_due_reminders(now=local(2, 13)) == 0
    assert reminders(job) == []


def test_due_at_the_lead_time_and_not_before(make, company):
    turn_on(company, 120)
    job = booked(make, company, local(2, 14))
    assert queue_due_reminders(now=local(2, 11, 59)) == 0
    assert queue_due_reminders(now=local(2, 12, 0)) == 1
    (text,) = reminders(job)
    assert text.status == MessageStatus.PENDING
    assert text.body == (
        "Reminder: Acme Plumbing will see you on Wed, Dec 2, arriving 2:00-4:00 PM. "
        "Need to reschedule? Reply to this text."
    )
    assert queue_due_reminders(now=local(2, 12, 1)) == 0  # every tick after: no repeat
    assert len(reminders(job)) == 1


@pytest.mark.parametrize(
    ("start", "lead", "expected"),
    [
        (local(2, 14), 120, local(2, 12)),  # inside the window: as set
        (local(2, 9), 120, local(1, 21)),  # due 7:00 -> 21:00 the evening before
        (local(2, 7), 24 * 60, local(1, 7) - timedelta(hours=10)),  # due 7:00 -> 21:00 day before
        (local(2, 23, 30), 60, local(2, 21)),  # due 22:30 -> 21:00 same evening
        (local(2, 8), 0 + 60, local(1, 21)),  # due 7:00
        (local(2, 10), 120, local(2, 8)),  # due exactly 8:00: allowed
        (local(2, 23), 120, local(2, 21)),  # due exactly 21:00: allowed
    ],
)
def test_quiet_hours_move_the_reminder_earlier(start, lead, expected):
    assert reminder_send_time(start=start, lead_minutes=lead, windows=WINDOWS) == expected


def test_quiet_hours_with_a_frozen_clock(make, company):
    turn_on(company, 120)
    early = booked(make, company, local(3, 8, 30))  # due 6:30 -> sent 21:00 on Dec 2
    assert queue_due_reminders(now=local(2, 20, 59)) == 0
    assert queue_due_reminders(now=local(2, 21, 0)) == 1
    assert len(reminders(early)) == 1
    # The worker never sends inside quiet hours, even for a reminder that is due.
    late = booked(make, company, local(3, 9, 30))  # due 7:30 -> 21:00 on Dec 2
    assert queue_due_reminders(now=local(2, 21, 30)) == 0
    assert queue_due_reminders(now=local(3, 6, 0)) == 0
    assert queue_due_reminders(now=local(3, 8, 0)) == 1  # the window opens; job still ahead
    assert len(reminders(late)) == 1


def test_a_job_booked_after_the_reminder_moment_gets_none(make, company):
    turn_on(company, 24 * 60)
    job = booked(make, company, local(2, 14), booked_at=local(2, 10))
    assert queue_due_reminders(now=local(2, 10, 5)) == 0
    assert reminders(job) == []


def test_canceled_job_gets_no_reminder_and_a_pending_one_is_withdrawn(make, company):
    turn_on(company, 120)
    job = booked(make, company, local(2, 14))
    assert queue_due_reminders(now=local(2, 12)) == 1
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    (text,) = reminders(job)
    db.session.refresh(text)
    assert text.status == MessageStatus.CANCELED

    other = booked(make, company, local(2, 15))
    job_set_status(job=other, status=JobStatus.CANCELED, actor=None)
    assert queue_due_reminders(now=local(2, 13)) == 0
    assert reminders(other) == []


def test_rescheduled_job_gets_a_fresh_reminder_and_never_the_stale_one(make, company):
    turn_on(company, 120)
    job = booked(make, company, local(2, 14))
    assert queue_due_reminders(now=local(2, 12)) == 1
    reschedule_job(job=job, start=local(3, 14), end=local(3, 16))
    (stale,) = reminders(job)
    db.session.refresh(stale)
    assert stale.status == MessageStatus.CANCELED
    assert queue_due_reminders(now=local(2, 12, 30)) == 0  # not due for the new time yet
    assert queue_due_reminders(now=local(3, 12)) == 1
    fresh = [m for m in reminders(job) if m.status == MessageStatus.PENDING]
    assert len(fresh) == 1
    assert "Thu, Dec 3" in fresh[0].body


def test_a_sent_reminder_is_not_canceled_by_a_later_change(make, company):
    turn_on(company, 120)
    job = booked(make, company, local(2, 14))
    queue_due_reminders(now=local(2, 12))
    (text,) = reminders(job)
    text.status = MessageStatus.DELIVERED
    db.session.flush()
    reschedule_job(job=job, start=local(4, 14), end=local(4, 16))
    db.session.refresh(text)
    assert text.status == MessageStatus.DELIVERED


def test_opted_out_customer_is_skipped_once(make, company):
    turn_on(company, 120)
    job = booked(make, company, local(2, 14))
    db.session.add(OptOut(company_id=company.id, phone=job.customer.mobile_phone, keyword="STOP"))
    db.session.flush()
    assert queue_due_reminders(now=local(2, 12)) == 0
    assert queue_due_reminders(now=local(2, 12, 1)) == 0
    assert reminders(job) == []
    skips = db.session.scalars(
        sa.select(SkippedText).filter_by(job_id=job.id, kind=MessageKind.REMINDER)
    ).all()
    assert [s.reason for s in skips] == ["opted_out"]


def test_lead_time_must_be_one_of_the_choices(company):
    from app.services.errors import DomainError

    with pytest.raises(DomainError):
        set_reminder_lead(company=company, lead_minutes=7)


def test_the_outbox_worker_queues_and_sends_a_due_reminder(make, fake, dispatcher):
    from tests.fixtures.sms import FakeClock

    company = make.company(name="Acme Plumbing")
    make.number(company)
    set_template_enabled(company=company, kind=MessageKind.JOB_SCHEDULED, enabled=False)
    turn_on(company, 120)
    # 10:00 tomorrow in Chicago: inside the sending window whenever the test runs.
    tomorrow = (utcnow().astimezone(CHICAGO) + timedelta(days=1)).date()
    ten = datetime.combine(tomorrow, time(10, 0), tzinfo=CHICAGO).astimezone(UTC)
    job = booked(make, company, ten + timedelta(hours=2))
    db.session.commit()
    worker = dispatcher(clock=FakeClock(start=ten))
    # The first round queues the reminder (after its claim), the next one sends it.
    assert worker.run_once() + worker.run_once() == 1
    [remote] = fake.outbound()
    assert remote.body.startswith("Reminder: Acme Plumbing will see you on")
    assert worker.run_once() == 0  # the next round: nothing twice
    db.session.expire_all()
    (text,) = reminders(job)
    assert text.status == MessageStatus.QUEUED


def test_on_my_way_withdraws_an_unsent_reminder(make, company):
    turn_on(company, 120)
    tech = make.user(company)
    job = make.job(company, techs=[tech], start=local(2, 14))
    job.created_at = local(1, 9)
    db.session.flush()
    assert queue_due_reminders(now=local(2, 12)) == 1
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech)
    (text,) = reminders(job)
    db.session.refresh(text)
    assert text.status == MessageStatus.CANCELED


def test_a_reopened_job_gets_the_reminder_its_cancellation_withdrew(make, company):
    turn_on(company, 120)
    job = booked(make, company, local(2, 14))
    assert queue_due_reminders(now=local(2, 12)) == 1
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    assert queue_due_reminders(now=local(2, 12, 5)) == 0
    job_set_status(job=job, status=JobStatus.SCHEDULED, actor=None)
    assert queue_due_reminders(now=local(2, 12, 10)) == 1
    db.session.expire_all()
    assert sorted(m.status for m in reminders(job)) == [
        MessageStatus.CANCELED,
        MessageStatus.PENDING,
    ]
    assert queue_due_reminders(now=local(2, 12, 15)) == 0

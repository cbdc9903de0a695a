"""Fewer surprise texts: "Notify the customer", coalesced changes (frozen clock), the
job_canceled text, and telling the person who acted when a text could not go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    JobStatus,
    Message,
    MessageKind,
    MessageStatus,
    OptOut,
    RevocationFlag,
)
from app.services import notifications, texting
from app.services.job_status import job_set_status
from app.services.jobs import assign_tech, reschedule_job, update_job
from app.services.message_templates import set_template_enabled
from app.services.notifications import COALESCE_WINDOW, texts_not_sent

# Tuesday Dec 1 2026, 9:00 AM in Chicago.
START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
T0 = datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # the office edits at 10:00 AM Chicago


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    clock = Clock(T0)
    monkeypatch.setattr(notifications, "utcnow", clock)
    monkeypatch.setattr(texting, "utcnow", clock)
    return clock


@pytest.fixture
def shop(make, clock):
    company = make.company(name="Acme Plumbing")
    make.number(company)
    customer = make.customer(company, name="Ann Smith")
    sam = make.user(company, name="Sam Lee")
    kim = make.user(company, name="Kim Park")
    job = make.job(company, customer=customer, techs=[sam], start=START)
    return company, sam, kim, job


def texts(job, kind=None, status=None) -> list[Message]:
    query = sa.select(Message).filter_by(job_id=job.id).order_by(Message.id)
    if kind:
        query = query.filter_by(kind=kind)
    if status:
        query = query.filter_by(status=status)
    return list(db.session.scalars(query))


def changes(job) -> list[Message]:
    return [m for m in texts(job) if (m.dedupe_key or "").startswith(f"job:{job.id}:changed:")]


def _edit(job, actor, *, start, techs, notify=True):
    return update_job(
        job=job,
        actor=actor,
        description=job.description,
        scheduled_start=start,
        scheduled_end=start + timedelta(hours=2),
        techs=techs,
        notify=notify,
    )


def test_booking_without_notify_sends_nothing(make, clock):
    company = make.company()
    make.number(company)
    job = make.job(company, start=START, notify=False)
    assert texts(job) == []


def test_changes_within_two_minutes_make_one_text_with_the_final_state(shop, clock):
    company, sam, kim, job = shop
    _edit(job, company.owner, start=START + timedelta(hours=2), techs=[sam])
    clock.advance(50)
    _edit(job, company.owner, start=START + timedelta(hours=3), techs=[sam])
    clock.advance(50)
    assign_tech(job=job, tech=kim)
    [change] = changes(job)
    assert change.status == MessageStatus.PENDING
    assert change.next_attempt_at == T0 + COALESCE_WINDOW  # not pushed back by later edits
    assert "arriving 12:00-2:00 PM" in change.body  # the final time...
    assert "Your technicians are now Sam Lee and Kim Park." in change.body  # ...and techs
    assert change.extra["coalesced"] == 2


def test_a_change_undone_within_two_minutes_texts_nothing(shop, clock):
    job = shop[3]
    reschedule_job(job=job, start=START + timedelta(days=1), end=START + timedelta(days=1, hours=2))
    clock.advance(90)
    reschedule_job(job=job, start=START, end=START + timedelta(hours=2))
    [change] = changes(job)
    assert change.status == MessageStatus.CANCELED
    assert "undone" in change.error_message


def test_a_change_after_the_window_gets_its_own_text(shop, clock):
    job = shop[3]
    reschedule_job(job=job, start=START + timedelta(hours=1), end=START + timedelta(hours=3))
    clock.advance(COALESCE_WINDOW.total_seconds() + 1)
    reschedule_job(job=job, start=START + timedelta(hours=2), end=START + timedelta(hours=4))
    first, second = changes(job)
    assert "arriving 10:00 AM-12:00 PM" in first.body
    assert "arriving 11:00 AM-1:00 PM" in second.body
    assert second.next_attempt_at == clock.now + COALESCE_WINDOW


def test_edit_without_notify_texts_nothing_but_withdraws_the_old_reminder(shop, clock):
    company, sam, _, job = shop
    reminder = texting.queue_text(
        company=company,
        to_phone=job.customer.mobile_phone,
        body="Reminder",
        kind=MessageKind.REMINDER,
        job=job,
        dedupe_key=notifications.reminder_key(job),
    )
    _edit(job, company.owner, start=START + timedelta(days=1), techs=[sam], notify=False)
    assert changes(job) == []
    db.session.refresh(reminder)
    assert reminder.status == MessageStatus.CANCELED


def test_a_canceled_job_texts_the_customer(shop, clock):
    _, _, _, job = shop
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    [text] = texts(job, MessageKind.JOB_CANCELED)
    assert text.body.startswith("Hi Ann, your Acme Plumbing appointment on Tue, Dec 1")
    assert "is canceled" in text.body
    assert text.extra["after_on_my_way"] is False


def test_canceled_after_on_my_way_says_no_one_is_coming(shop, clock):
    _, sam, _, job = shop
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam)
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    [text] = texts(job, MessageKind.JOB_CANCELED)
    assert text.body.startswith("Update: our technician is no longer on the way. Hi Ann")
    # Reopened and canceled again: the customer hears about the second cancel too.
    job_set_status(job=job, status=JobStatus.SCHEDULED, actor=None)
    clock.advance(60)
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    assert len(texts(job, MessageKind.JOB_CANCELED)) == 2


def test_cancel_withdraws_a_waiting_change_text(shop, clock):
    _, _, _, job = shop
    reschedule_job(job=job, start=START + timedelta(hours=1), end=START + timedelta(hours=3))
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    [change] = changes(job)
    assert change.status == MessageStatus.CANCELED


def test_the_canceled_text_can_be_turned_off(shop, clock):
    company, _, _, job = shop
    set_template_enabled(company=company, kind=MessageKind.JOB_CANCELED, enabled=False)
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    assert texts(job, MessageKind.JOB_CANCELED) == []


def test_the_person_who_acted_is_told_why_the_customer_was_not_texted(shop, clock):
    company, sam, _, job = shop
    db.session.add(OptOut(company_id=company.id, phone=job.customer.mobile_phone, keyword="STOP"))
    db.session.flush()
    began = clock.now
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam)
    [note] = texts_not_sent(job=job, since=began)
    assert note.startswith("The customer was not texted: This customer replied STOP")


def test_a_held_text_is_reported_too(shop, clock, make):
    company, sam, _, job = shop
    inbound = texting.queue_text(
        company=company, to_phone=job.customer.mobile_phone, body="x", kind=MessageKind.MANUAL
    )
    db.session.add(
        RevocationFlag(
            company_id=company.id,
            phone=job.customer.mobile_phone,
            message_id=inbound.id,
            phrase="x",
        )
    )
    db.session.flush()
    began = clock.now
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam)
    [note] = texts_not_sent(job=job, since=began)
    assert "stop texting me" in note and "Opt this number out" in note


@pytest.mark.parametrize(
    ("extra", "due_in", "label"),
    [
        ({"trigger": "changed"}, timedelta(minutes=1), "Waiting"),
        ({"trigger": "changed"}, timedelta(minutes=-1), "Waiting to send"),
        ({"held": "revocation"}, None, "Held"),
        ({"quiet_hours": {"state": "CT"}}, timedelta(hours=8), "Scheduled"),
    ],
)
def test_the_thread_says_why_a_text_waits(extra, due_in, label):
    from app.models import utcnow
    from app.services.inbox import delivery_state

    due = utcnow() + due_in if due_in is not None else None
    message = Message(status=MessageStatus.PENDING, attempts=0, extra=extra, next_attempt_at=due)
    assert delivery_state(message).label == label


def test_the_job_timeline_names_the_canceled_text_and_a_hold(shop, clock):
    from app.services.job_queries import job_timeline

    company, _, _, job = shop
    flagged = texting.queue_text(
        company=company, to_phone=job.customer.mobile_phone, body="x", kind=MessageKind.MANUAL
    )
    db.session.add(
        RevocationFlag(
            company_id=company.id,
            phone=job.customer.mobile_phone,
            message_id=flagged.id,
            phrase="x",
        )
    )
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    [entry] = [e for e in job_timeline(job) if e.title == "Job canceled text"]
    assert entry.status_label == "Held"

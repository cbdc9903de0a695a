"""Appointment reminders, queued by the outbox worker on every tick.

Off by default (the company turns the Appointment reminder template on and picks a lead
time: MessageTemplate.lead_minutes). A reminder is due `lead_minutes` before the job's
scheduled start, but only inside the customer's texting hours (app/services/quiet_hours.py:
the company's window, 08:00-20:00 by default, and their state's rule, in their time zone).
When the due moment falls in quiet hours it is moved EARLIER, to the last allowed moment
before it (20:00 the evening before, or 20:00 the same evening): moving it later could
push it past the job itself, while earlier only gives the customer more notice.

Not sent when: the job is not scheduled (canceled, on the way, finished), the start has
passed, the job was booked after the reminder moment (the booking text just told them),
or the worker finds itself in quiet hours (it waits for 08:00 if that is still before the
job). The dedupe key includes the scheduled start, so a rescheduled job gets one reminder
for its new time, and `cancel_stale_reminders` withdraws an unsent one for the old time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Company, Job, JobStatus, Message, MessageKind, MessageTemplate, SkippedText
from app.services.message_templates import render_text
from app.services.notifications import job_values, queue_automated_text, reminder_key
from app.services.quiet_hours import TextingWindows, windows_for

log = logging.getLogger(__name__)

# The longest a reminder can be moved earlier: from a Sunday-noon opening (Texas) back to
# Saturday 20:00 in the later of two zones, plus a DST hour.
LONGEST_SHIFT = timedelta(hours=18)


def job_windows(job: Job) -> TextingWindows:
    return windows_for(
        company=job.company,
        phone=job.customer.mobile_phone,
        address=job.address or job.customer.address,
    )


def reminder_send_time(
    *, start: datetime, lead_minutes: int, windows: TextingWindows
) -> datetime | None:
    """When the reminder for a job starting at `start` goes out (aware UTC): the due
    moment, or the last moment of texting hours before it. None if there is none."""
    return windows.last_allowed_before(start - timedelta(minutes=lead_minutes))


def queue_due_reminders(*, now: datetime) -> int:
    """Queue every reminder due at `now`; returns how many were queued. Flushes only."""
    queued = 0
    templates = db.session.scalars(
        sa.select(MessageTemplate).filter_by(kind=MessageKind.REMINDER, enabled=True)
    ).all()
    for template in templates:
        company = db.session.get(Company, template.company_id)
        if company is None:
            continue
        lead = template.lead_minutes or 0
        jobs = db.session.scalars(
            sa.select(Job)
            .where(
                Job.company_id == company.id,
                Job.status == JobStatus.SCHEDULED,
                Job.scheduled_start > now,
                Job.scheduled_start <= now + timedelta(minutes=lead) + LONGEST_SHIFT,
            )
            .order_by(Job.scheduled_start)
            # A reschedule holds the job's row lock: skip it this tick rather than
            # queue a reminder for the time being replaced.
            .with_for_update(skip_locked=True, of=Job)
        ).all()
        due = []
        for job in jobs:
            windows = job_windows(job)
            send_at = reminder_send_time(
                start=job.scheduled_start, lead_minutes=lead, windows=windows
            )
            # The worker never sends inside the customer's quiet hours, even for a reminder
            # that is due: it waits for the window to open if that is still before the job.
            if (
                send_at is not None
                and send_at <= now
                and job.created_at <= send_at
                and windows.allows(now)
            ):
                due.append(job)
        if not due:
            continue
        keys = {reminder_key(job): job for job in due}
        done = set(
            db.session.scalars(sa.select(Message.dedupe_key).where(Message.dedupe_key.in_(keys)))
        ) | set(
            db.session.scalars(
                sa.select(SkippedText.dedupe_key).where(SkippedText.dedupe_key.in_(keys))
            )
        )
        for key, job in keys.items():
            if key in done:
                continue
            message = queue_automated_text(
                job=job,
                kind=MessageKind.REMINDER,
                body=render_text(body=template.body, values=job_values(job=job)),
                dedupe_key=key,
                extra={"lead_minutes": lead},
            )
            if message is not None:
                queued += 1
    return queued

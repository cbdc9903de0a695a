"""Jobs: booking, editing, rescheduling and assigning techs.

Status changes are not here: they go through `app.services.job_status.job_set_status`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Company, Customer, Job, JobAssignment, Role, User
from app.services.errors import DomainError
from app.services.job_events import job_booked, job_changed


def _next_number(company: Company) -> int:
    current = db.session.scalar(
        sa.select(sa.func.max(Job.number)).where(Job.company_id == company.id)
    )
    return (current or 1000) + 1


def check_schedule(start: datetime, end: datetime) -> None:
    if end <= start:
        raise DomainError("The end must be after the start.", field="scheduled_end")


def check_techs(*, company: Company, techs: Sequence[User]) -> None:
    for tech in techs:
        if tech.company_id != company.id or not tech.active:
            raise DomainError("Pick technicians from your own active team.", field="tech_ids")
        if tech.role != Role.TECH and tech.role not in Role.OFFICE_ROLES:
            raise DomainError(f"{tech.name} can't be assigned to jobs.", field="tech_ids")


def create_job(
    *,
    company: Company,
    customer: Customer,
    description: str,
    scheduled_start: datetime,
    scheduled_end: datetime,
    address: str | None = None,
    notes: str | None = None,
    techs: Sequence[User] = (),
    notify: bool = True,
) -> Job:
    """Book a job. `notify=False` (the form's "Notify the customer" unticked) sends no
    booking text."""
    if customer.company_id != company.id:
        raise DomainError("Pick one of your own customers.", field="customer_id")
    check_schedule(scheduled_start, scheduled_end)
    check_techs(company=company, techs=techs)
    # Two bookings at the same moment may both read the same max(number); the unique
    # constraint catches the loser, which retries with the next number.
    for _ in range(5):
        job = Job(
            company_id=company.id,
            customer_id=customer.id,
            number=_next_number(company),
            description=description.strip(),
            address=(address or "").strip() or customer.address,
            notes=(notes or "").strip() or None,
            scheduled_start=scheduled_start,
            scheduled_end=scheduled_end,
        )
        try:
            with db.session.begin_nested():
                db.session.add(job)
                db.session.flush()
        except IntegrityError:
            continue
        break
    else:
        raise DomainError("Could not number the job; please try again.")
    for tech in techs:
        db.session.add(JobAssignment(job_id=job.id, user_id=tech.id))
    db.session.flush()
    db.session.refresh(job)
    job_booked.send(job, notify=notify)
    return job


def _check_changeable(job: Job, what: str) -> None:
    if job.is_closed:
        raise DomainError(
            f"Job #{job.number} is {job.status_label.lower()}; its {what} can't be changed."
        )


def _tech_ids(job: Job) -> set[int]:
    return {a.user_id for a in job.assignments}


def _notify_if_changed(
    *,
    job: Job,
    old_start: datetime,
    old_end: datetime,
    old_tech_ids: set[int],
    notify: bool = True,
) -> None:
    """Announce the change only when the time or the techs really moved, so saving an
    unchanged form never texts the customer. With `notify=False` the customer is not
    texted, but a reminder for the old time is still withdrawn (the receiver does both)."""
    if (
        job.scheduled_start == old_start
        and job.scheduled_end == old_end
        and _tech_ids(job) == old_tech_ids
    ):
        return
    job_changed.send(
        job, old_start=old_start, old_end=old_end, old_tech_ids=old_tech_ids, notify=notify
    )


def _set_techs(job: Job, techs: Sequence[User]) -> None:
    wanted = {t.id for t in techs}
    for assignment in list(job.assignments):
        if assignment.user_id not in wanted:
            job.assignments.remove(assignment)
    have = _tech_ids(job)
    for tech in techs:
        if tech.id not in have:
            job.assignments.append(JobAssignment(user_id=tech.id, user=tech))
            have.add(tech.id)


def update_job(
    *,
    job: Job,
    actor: User,
    description: str,
    scheduled_start: datetime,
    scheduled_end: datetime,
    address: str | None = None,
    notes: str | None = None,
    techs: Sequence[User] = (),
    notify: bool = True,
) -> Job:
    """Edit a job's details, time and techs in one go (the office's full edit form).

    `actor` is who edited; the permission check is the caller's (office roles only).
    """
    old_start, old_end, old_tech_ids = job.scheduled_start, job.scheduled_end, _tech_ids(job)
    if (scheduled_start, scheduled_end) != (old_start, old_end):
        _check_changeable(job, "time")
    if {t.id for t in techs} != old_tech_ids:
        _check_changeable(job, "technicians")
    check_schedule(scheduled_start, scheduled_end)
    # Only newcomers are checked: someone deactivated since may stay on a job they had.
    check_techs(company=job.company, techs=[t for t in techs if t.id not in old_tech_ids])
    description = description.strip()
    if not description:
        raise DomainError("Describe the work.", field="description")
    job.description = description
    job.address = (address or "").strip() or job.customer.address
    job.notes = (notes or "").strip() or None
    job.scheduled_start = scheduled_start
    job.scheduled_end = scheduled_end
    _set_techs(job, techs)
    db.session.flush()
    _notify_if_changed(
        job=job, old_start=old_start, old_end=old_end, old_tech_ids=old_tech_ids, notify=notify
    )
    return job


def reschedule_job(*, job: Job, start: datetime, end: datetime) -> Job:
    old_start, old_end = job.scheduled_start, job.scheduled_end
    if (start, end) == (old_start, old_end):
        return job
    _check_changeable(job, "time")
    check_schedule(start, end)
    job.scheduled_start = start
    job.scheduled_end = end
    db.session.flush()
    _notify_if_changed(job=job, old_start=old_start, old_end=old_end, old_tech_ids=_tech_ids(job))
    return job


def assign_tech(*, job: Job, tech: User) -> Job:
    """Put `tech` on the job. Assigning someone already on it changes nothing."""
    old_tech_ids = _tech_ids(job)
    if tech.id in old_tech_ids:
        return job
    _check_changeable(job, "technicians")
    check_techs(company=job.company, techs=[tech])
    job.assignments.append(JobAssignment(user_id=tech.id, user=tech))
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        # A second tab assigned the same person a moment ago: the result is the same.
        db.session.refresh(job)
        return job
    _notify_if_changed(
        job=job,
        old_start=job.scheduled_start,
        old_end=job.scheduled_end,
        old_tech_ids=old_tech_ids,
    )
    return job


def unassign_tech(*, job: Job, tech: User) -> Job:
    """Take `tech` off the job. Removing someone who is not on it changes nothing."""
    old_tech_ids = _tech_ids(job)
    if tech.id not in old_tech_ids:
        return job
    _check_changeable(job, "technicians")
    for assignment in list(job.assignments):
        if assignment.user_id == tech.id:
            job.assignments.remove(assignment)
    db.session.flush()
    _notify_if_changed(
        job=job,
        old_start=job.scheduled_start,
        old_end=job.scheduled_end,
        old_tech_ids=old_tech_ids,
    )
    return job

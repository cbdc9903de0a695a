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
from app.services.notifications import notify_job_booked


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
) -> Job:
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
    notify_job_booked(job=job)
    return job

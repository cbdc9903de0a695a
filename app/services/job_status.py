"""The one place a job's status changes.

A tap is applied with a conditional UPDATE (`... WHERE status = <the status we read>`), so
two taps, two phones or a retry after a network drop make at most one transition: the
loser sees that the job already moved and gets `changed=False` instead of a second text.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import Job, JobStatus, User, utcnow
from app.services.errors import DomainError
from app.services.job_events import job_status_changed

# Which statuses may follow which. Canceled jobs may be reopened as scheduled.
ALLOWED: dict[str, tuple[str, ...]] = {
    JobStatus.SCHEDULED: (JobStatus.ON_MY_WAY, JobStatus.STARTED, JobStatus.CANCELED),
    JobStatus.ON_MY_WAY: (JobStatus.STARTED, JobStatus.FINISHED, JobStatus.CANCELED),
    JobStatus.STARTED: (JobStatus.FINISHED, JobStatus.CANCELED),
    JobStatus.FINISHED: (),
    JobStatus.CANCELED: (JobStatus.SCHEDULED,),
}

TIMESTAMP = {
    JobStatus.ON_MY_WAY: "on_my_way_at",
    JobStatus.STARTED: "started_at",
    JobStatus.FINISHED: "finished_at",
    JobStatus.CANCELED: "canceled_at",
}


class IllegalTransition(DomainError):
    status_code = 409


@dataclass(frozen=True)
class Transition:
    job: Job
    old_status: str
    new_status: str
    changed: bool


def next_statuses(job: Job) -> tuple[str, ...]:
    return ALLOWED.get(job.status, ())


def job_set_status(
    *, job: Job, status: str, actor: User | None, eta_minutes: int | None = None
) -> Transition:
    """Move `job` to `status`, or explain why not.

    Asking for the status the job already has is not an error: it is the double tap, and
    it changes nothing (`changed=False`).
    """
    if status not in JobStatus.ALL:
        raise IllegalTransition(f"Unknown job status “{status}”.")
    db.session.refresh(job)
    old = job.status
    if old == status:
        return Transition(job, old, status, changed=False)
    if status not in ALLOWED[old]:
        raise IllegalTransition(
            f"Job #{job.number} is {JobStatus.label_for(old).lower()}; "
            f"it can't be marked {JobStatus.label_for(status).lower()}."
        )
    if eta_minutes is not None and not 1 <= eta_minutes <= 24 * 60:
        raise IllegalTransition("The ETA must be between 1 minute and 24 hours.", field="eta")

    now = utcnow()
    values: dict[str, object] = {"status": status, "updated_at": now}
    if status in TIMESTAMP:
        values[TIMESTAMP[status]] = now
    if status == JobStatus.ON_MY_WAY:
        values["on_my_way_by_id"] = actor.id if actor else None
        values["eta_minutes"] = eta_minutes
    if status == JobStatus.SCHEDULED:
        # Reopened: the old progress no longer describes this visit.
        values.update(
            on_my_way_at=None,
            on_my_way_by_id=None,
            eta_minutes=None,
            started_at=None,
            finished_at=None,
            canceled_at=None,
        )
    result = db.session.execute(
        sa.update(Job)
        .where(Job.id == job.id, Job.status == old)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(job)
    if result.rowcount != 1:
        # Someone else moved the job between our read and our write.
        if job.status == status:
            return Transition(job, old, status, changed=False)
        raise IllegalTransition(
            f"Job #{job.number} was just marked {job.status_label.lower()} by someone else."
        )
    transition = Transition(job, old, status, changed=True)
    job_status_changed.send(transition, actor=actor)
    return transition

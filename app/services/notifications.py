"""The automated texts (rule 2 of the seed): job scheduled, On My Way, job finished.

Contract used by the job services (the bodies are filled in by the notifications work):
- `notify_job_booked(job=...)` after a job is created;
- `notify_job_changed(job=..., old_start=..., old_end=..., old_tech_ids=...)` after an edit
  that may have changed the time or the assigned techs;
- `notify_status_changed(transition=..., actor=...)` after a status change that happened.
Each queues at most one text through `app.services.texting.queue_text` in the caller's
transaction.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from app.models import Job, User

if TYPE_CHECKING:
    from app.services.job_status import Transition


def notify_job_booked(*, job: Job) -> None:
    return None


def notify_job_changed(
    *, job: Job, old_start: datetime, old_end: datetime, old_tech_ids: Collection[int]
) -> None:
    return None


def notify_status_changed(*, transition: Transition, actor: User | None) -> None:
    return None

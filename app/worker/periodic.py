"""Work the worker does every so often, besides sending and routing texts.

One table: a task has a name, an interval and a function called with `now=`. The worker's
loop runs whatever is due after each claim (app/worker/dispatcher.py). Features that need a
periodic look (registration polling, follow-ups, media fetches) add a row here instead of a
throttle of their own.

The interval is kept per process and only saves queries: correctness never depends on it,
since every task is idempotent (dedupe keys, conditional updates), so a second worker or a
second look does nothing twice. A failing task is logged and rolled back to its
savepoint, so it never stops the sending of texts.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.extensions import db
from app.services import voicemail
from app.services.customer_imports import run_queued_imports
from app.services.escalation import escalate_unread
from app.services.payment_texts import queue_due_payment_reminders
from app.services.registration import work_registrations
from app.services.registration.records import WORK_INTERVAL as REGISTRATION_INTERVAL
from app.services.reminders import queue_due_reminders

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    interval: timedelta
    run: Callable[..., int]  # run(now=...) -> how many things it did
    # Commits after each step itself (each Twilio call durable before the next): run after
    # the claim's transaction, once its texts are handed to the pool, never inside a
    # savepoint of it.
    commits: bool = False


PERIODIC_TASKS: tuple[PeriodicTask, ...] = (
    # Due appointment reminders (app/services/reminders.py).
    PeriodicTask("reminders", timedelta(minutes=1), queue_due_reminders),
    # Unread texts routed to techs, shown to the Point of Contact chain too. Escalation is
    # measured in minutes, so looking more often would only cost queries.
    PeriodicTask("escalation", timedelta(minutes=1), escalate_unread),
    # Up to two reminders for an unpaid sent invoice (app/services/payment_texts.py).
    PeriodicTask("payment_reminders", timedelta(minutes=1), queue_due_payment_reminders),
    # Texting registrations: Twilio calls and status polls (app/services/registration/).
    PeriodicTask("registrations", REGISTRATION_INTERVAL, work_registrations, commits=True),
    # Voicemail audio still at Twilio (app/services/voicemail.py).
    PeriodicTask(
        "voicemails", voicemail.WORK_INTERVAL, voicemail.fetch_due_voicemails, commits=True
    ),
    # A confirmed CSV import of customers (app/services/customer_imports.py): every round,
    # batches for a moment (its own time budget and lease), then back to texts.
    PeriodicTask("customer_imports", timedelta(0), run_queued_imports, commits=True),
)


class Schedule:
    """When each task last ran in this process."""

    def __init__(self, tasks: Sequence[PeriodicTask] = PERIODIC_TASKS) -> None:
        self.tasks = tuple(tasks)
        self.last_run: dict[str, datetime] = {}

    def due(self, task: PeriodicTask, now: datetime) -> bool:
        last = self.last_run.get(task.name)
        # A clock that went backwards (now < last) runs the task rather than wait.
        return last is None or not last <= now < last + task.interval

    def run_due(self, *, now: datetime, commits: bool = False) -> dict[str, int]:
        """Run every due task of one kind: those that write in the caller's transaction
        (each in a savepoint), or with `commits` those that commit their own steps (run
        outside any transaction). Returns what each one did."""
        done: dict[str, int] = {}
        for task in self.tasks:
            if task.commits != commits or not self.due(task, now):
                continue
            self.last_run[task.name] = now
            try:
                if commits:
                    done[task.name] = task.run(now=now)
                else:
                    with db.session.begin_nested():
                        done[task.name] = task.run(now=now)
            except Exception:
                if commits:
                    db.session.rollback()
                log.exception("worker: periodic task %s failed", task.name)
                done[task.name] = 0
        return done

"""The worker's side: which registrations are due, one step at a time, committed after
each; Twilio's errors turned into a retry with backoff or a rejection."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    MessagingRegistration,
    RegistrationStatus,
)
from app.services.registration.records import (
    CONTINUE,
    DONE,
    RETRY_FIRST,
    RETRY_MAX,
    STEPS_PER_ROUND,
    WAIT,
)
from app.services.registration.steps import doing, next_step, reject
from app.sms import gateway

log = logging.getLogger(__name__)

# Twilio steps the periodic hook takes per round, in all registrations.
WORKER_STEP_BUDGET = 12
# How long a worker holds a registration it is advancing (one round of steps takes seconds).
CLAIM_LEASE = timedelta(minutes=10)

# -- the worker ------------------------------------------------------------------------------------


def work_registrations(*, now: datetime) -> int:
    """The worker's periodic task (app/worker/periodic.py, once a minute): move due
    registrations forward, at most WORKER_STEP_BUDGET Twilio steps per round so the outbox
    never waits long behind them (a registration takes ~25 steps, over a few rounds, for a
    review that takes days)."""
    return work_due_registrations(now=now, budget=WORKER_STEP_BUDGET)


def work_due_registrations(*, now: datetime, budget: int | None = None) -> int:
    """Advance every registration whose `next_poll_at` has come, committing after each
    step (the worker's transaction boundary: each SID is durable before the next call).
    At most `budget` steps in all (None: up to STEPS_PER_ROUND per registration). Returns
    how many steps were taken.

    Several workers may run at once (`flask outbox work` processes): each registration is
    claimed first, so only one of them talks to Twilio for it (two at once would both find
    no brand and both create one)."""
    due = list(
        db.session.scalars(
            sa.select(MessagingRegistration.id)
            .where(
                MessagingRegistration.status.in_(
                    [RegistrationStatus.IN_PROGRESS, RegistrationStatus.PENDING]
                ),
                MessagingRegistration.next_poll_at <= now,
            )
            .order_by(MessagingRegistration.next_poll_at)
        )
    )
    db.session.commit()
    steps = 0
    for registration_id in due:
        allowed = STEPS_PER_ROUND if budget is None else min(STEPS_PER_ROUND, budget - steps)
        if allowed <= 0:
            break  # the rest stay due for the next round
        if not claim_registration(registration_id=registration_id, now=now):
            continue  # another worker has it
        lease_until = now + CLAIM_LEASE
        for _ in range(allowed):
            registration = db.session.get(MessagingRegistration, registration_id)
            if registration is None:
                break
            outcome = advance_registration(registration=registration, now=now)
            db.session.commit()
            steps += outcome == CONTINUE
            if outcome != CONTINUE:
                break
        else:
            # Steps left over: due again at the next round, like any other.
            db.session.execute(
                sa.update(MessagingRegistration)
                .where(
                    MessagingRegistration.id == registration_id,
                    MessagingRegistration.next_poll_at == lease_until,
                )
                .values(next_poll_at=now)
            )
            db.session.commit()
    return steps


def claim_registration(*, registration_id: int, now: datetime) -> bool:
    """Take a due registration for this worker until `now + CLAIM_LEASE` (committed). False
    when another worker took it first. A worker that dies mid-step leaves the lease to
    expire, and the next one resumes from the SIDs already stored."""
    taken = db.session.execute(
        sa.update(MessagingRegistration)
        .where(
            MessagingRegistration.id == registration_id,
            MessagingRegistration.status.in_(
                [RegistrationStatus.IN_PROGRESS, RegistrationStatus.PENDING]
            ),
            MessagingRegistration.next_poll_at <= now,
        )
        .values(next_poll_at=now + CLAIM_LEASE),
        execution_options={"synchronize_session": False},
    ).rowcount
    db.session.commit()
    return bool(taken)


def advance_registration(*, registration: MessagingRegistration, now: datetime) -> str:
    """Take the next step of one registration: at most one Twilio write (and the reads it
    needs), stored on the row. Flushes; the caller commits. Returns CONTINUE, WAIT or DONE.

    Errors: a 429/5xx/no answer puts the step off with backoff (WAIT); a refusal marks the
    registration rejected with Twilio's code and a sentence (DONE)."""
    if registration.status not in (RegistrationStatus.IN_PROGRESS, RegistrationStatus.PENDING):
        return DONE
    doing(registration, "start")
    try:
        _step, outcome = next_step(registration, now)
    except gateway.PermanentGatewayError as error:
        reject(
            registration, now, step=registration._step, code=error.code, reason=error.explanation
        )
        return DONE
    except (gateway.TransientGatewayError, gateway.UnknownOutcome) as error:
        registration.attempts += 1
        delay = min(RETRY_FIRST * (2 ** (registration.attempts - 1)), RETRY_MAX)
        registration.next_poll_at = now + delay
        log.info(
            "registration %s: %s put off %s: %s",
            registration.id,
            registration._step,
            delay,
            error.message,
        )
        db.session.flush()
        return WAIT
    if outcome == CONTINUE:
        registration.attempts = 0
    db.session.flush()
    return outcome

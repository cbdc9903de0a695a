"""Escalation: a text routed to a tech that nobody reads in time is shown to the office too.

With `Company.escalation_minutes` set (off by default), an inbound text that routing sent
to a technician (the techs of an In Progress job, a tech who is the Point of Contact, a
tech the office handed the conversation to) and that is still unread after that many
minutes also gets the office side of the chain (assigned user / Point of Contact / owner)
as recipients, and the reason says so. The tech keeps it too. "Unread" is what the tech's
own copy says: opening the thread on /tech/messages (or the job page) reads it.

When the office side of the chain is that same tech (a tech as Point of Contact), the
next link up takes it: the Point of Contact, else the account owner.

The worker calls `escalate_unread(now=...)` every minute or so, then commits. It is
idempotent: an escalated message is marked in `extra["escalated_at"]` and is never
escalated twice, and on PostgreSQL concurrent workers skip each other's rows.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Company,
    Conversation,
    Direction,
    Message,
    MessageKind,
    MessageRecipient,
    Role,
    User,
)
from app.services.errors import DomainError, NotAllowed
from app.services.routing import (
    Rule,
    account_owner,
    add_recipients,
    forward_to_mobiles,
    office_chain,
    office_fallback,
)

log = logging.getLogger(__name__)


# Longer than a working day is not "escalation" any more; it's a different feature.
MAX_ESCALATION_MINUTES = 24 * 60


def set_escalation_minutes(*, company: Company, minutes: int | None, actor) -> Company:
    if actor.company_id != company.id or not actor.is_manager:
        raise NotAllowed("Only an owner or admin can change escalation.")
    if minutes is not None and not 1 <= minutes <= MAX_ESCALATION_MINUTES:
        raise DomainError(
            f"Enter between 1 and {MAX_ESCALATION_MINUTES} minutes, or leave it empty for off.",
            field="escalation_minutes",
        )
    company.escalation_minutes = minutes
    db.session.flush()
    return company


def _due_messages(*, now: datetime) -> list[Message]:
    # A coarse SQL filter (unread inbound texts of companies with escalation on, old enough
    # for the smallest setting); the exact per-company age and the rule are checked below.
    smallest = db.session.scalar(
        sa.select(sa.func.min(Company.escalation_minutes)).where(
            Company.escalation_minutes.is_not(None)
        )
    )
    if smallest is None:
        return []
    stmt = (
        sa.select(Message)
        .join(Company, Company.id == Message.company_id)
        .where(
            Company.escalation_minutes.is_not(None),
            Message.direction == Direction.IN,
            Message.kind == MessageKind.INBOUND,
            Message.read_at.is_(None),
            # Read by a recipient (the tech page marks only the tech's own copy) = not unread.
            ~sa.select(MessageRecipient.id)
            .where(
                MessageRecipient.message_id == Message.id,
                MessageRecipient.read_at.is_not(None),
            )
            .exists(),
            Message.created_at <= now - timedelta(minutes=smallest),
            # A day-old unread text was escalated long ago or predates the setting.
            Message.created_at >= now - timedelta(minutes=MAX_ESCALATION_MINUTES * 2),
        )
        .order_by(Message.id)
        .with_for_update(of=Message, skip_locked=True)
    )
    return list(db.session.scalars(stmt))


def _routed_to_a_tech(message: Message) -> bool:
    extra = message.extra or {}
    if extra.get("routing_rule") == Rule.IN_PROGRESS_JOB:
        return True
    routed_to = extra.get("routed_to") or []
    if not routed_to:
        return False
    found = db.session.scalar(
        sa.select(User.id).where(User.id.in_(routed_to), User.role == Role.TECH).limit(1)
    )
    return found is not None


def escalation_recipients(
    *, company: Company, conversation: Conversation, already: set[int]
) -> list[User]:
    """Who an escalated text also goes to: the office side of the chain, skipping the
    people who have it already (a tech as Point of Contact is that side themselves)."""
    for decision in (office_chain(company, conversation), office_fallback(company)):
        users = [user for user in decision.recipients if user.id not in already]
        if users:
            return users
    owner = account_owner(company)
    return [owner] if owner is not None and owner.id not in already else []


def escalate_unread(*, now: datetime) -> int:
    """Escalate every due message; returns how many were escalated by this call."""
    count = 0
    for message in _due_messages(now=now):
        extra = message.extra or {}
        if extra.get("escalated_at") or not _routed_to_a_tech(message):
            continue
        company = message.company
        minutes = company.escalation_minutes
        if not minutes or message.created_at > now - timedelta(minutes=minutes):
            continue
        # A query, not `message.recipients`: loading that collection now would leave it
        # stale after add_recipients (which adds rows, not collection members).
        already = set(
            db.session.scalars(
                sa.select(MessageRecipient.user_id).where(MessageRecipient.message_id == message.id)
            )
        )
        targets = escalation_recipients(
            company=company, conversation=message.conversation, already=already
        )
        added = add_recipients(message=message, users=targets)
        names = ", ".join(user.name for user in targets) or "nobody"
        message.routing_reason = (
            f"{message.routing_reason or ''} · Unread after {minutes} min: also to {names}"
        ).lstrip(" ·")
        message.extra = {
            **extra,
            "escalated_at": now.isoformat(),
            "escalated_to": [u.id for u in added],
        }
        forward_to_mobiles(message=message, users=added)
        count += 1
    db.session.flush()
    return count

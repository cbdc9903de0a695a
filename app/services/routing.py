"""Who an inbound text goes to (rule 4 of the seed), and why.

`decide_recipients` is a function of the database state only: the same state always
gives the same recipients and the same reason, which is stored on the message and shown
next to it.

1. The customer has a job In Progress (On My Way tapped, or started, not yet Finished or
   Canceled): the technicians assigned to it. With several such jobs, the one whose On My
   Way is the most recent.
2. Otherwise: the user the office assigned the conversation to by hand, if any (see below);
   else the company's Point of Contact.
3. No Point of Contact (or the POC is deactivated): the original owner/admin, i.e. the
   active owner or admin with the lowest user id ("You can see this via user ID in admin.
   It will be the lowest number.").
An unknown sender (not a customer) goes the assigned/POC/owner way; its conversation has
no customer, which the inbox shows as "unknown number".

Why a hand assignment does not beat an In Progress job: the seed says a text during a job
in progress "will be sent to the technician assigned", with no exception, and the tech is
the one standing at the customer's door. The assignment replaces the Point of Contact for
that one conversation, so finishing or canceling the job hands the conversation back to
"the office side" of the chain: the assigned user, else the POC, else the owner.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.formats import CLOCK, local_time
from app.models import (
    Company,
    Conversation,
    Customer,
    Job,
    JobAssignment,
    JobStatus,
    Message,
    MessageKind,
    MessageRecipient,
    Role,
    User,
)
from app.services.errors import DomainError, NotAllowed
from app.services.message_events import text_routed
from app.services.phones import format_phone


class Rule:
    IN_PROGRESS_JOB = "in_progress_job"
    ASSIGNED = "assigned"
    POINT_OF_CONTACT = "point_of_contact"
    ACCOUNT_OWNER = "account_owner"
    NOBODY = "nobody"
    # The office side of the chain (what finishing a job hands the conversation back to).
    OFFICE_CHAIN = (ASSIGNED, POINT_OF_CONTACT, ACCOUNT_OWNER, NOBODY)


@dataclass(frozen=True)
class RoutingDecision:
    recipients: tuple[User, ...]
    reason: str
    rule: str
    job: Job | None = None

    @property
    def recipient_ids(self) -> tuple[int, ...]:
        return tuple(user.id for user in self.recipients)


def in_progress_job(*, company: Company, customer: Customer) -> Job | None:
    """The customer's In Progress job whose On My Way is the most recent."""
    return db.session.scalar(
        sa.select(Job)
        .where(
            Job.company_id == company.id,
            Job.customer_id == customer.id,
            Job.status.in_(JobStatus.IN_PROGRESS),
        )
        .order_by(
            Job.on_my_way_at.desc().nulls_last(), Job.started_at.desc().nulls_last(), Job.id.desc()
        )
        .limit(1)
    )


def last_closed_job(*, company: Company, customer: Customer) -> Job | None:
    """The customer's most recently finished or canceled job (to explain the hand-back)."""
    closed_at = sa.func.coalesce(Job.finished_at, Job.canceled_at)
    return db.session.scalar(
        sa.select(Job)
        .where(
            Job.company_id == company.id,
            Job.customer_id == customer.id,
            Job.status.in_(JobStatus.CLOSED),
            closed_at.is_not(None),
        )
        .order_by(closed_at.desc(), Job.id.desc())
        .limit(1)
    )


def assigned_techs(job: Job) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .join(JobAssignment, JobAssignment.user_id == User.id)
            .where(
                JobAssignment.job_id == job.id,
                User.active.is_(True),
                User.company_id == job.company_id,
            )
            .order_by(JobAssignment.id)
        )
    )


def account_owner(company: Company) -> User | None:
    """The original owner/admin: the active owner or admin with the lowest user id."""
    return db.session.scalar(
        sa.select(User)
        .where(
            User.company_id == company.id,
            User.active.is_(True),
            User.role.in_(Role.MANAGERS),
        )
        .order_by(User.id)
        .limit(1)
    )


def owner_title(user: User) -> str:
    """How the fallback user is described: "the account owner" or "the account's original admin"."""
    return "the account owner" if user.role == Role.OWNER else "the account's original admin"


def _usable(user: User | None, company: Company) -> bool:
    return user is not None and user.active and user.company_id == company.id


def office_fallback(company: Company) -> RoutingDecision:
    """The Point of Contact, or the account owner when there is none (rules 2 and 3)."""
    poc = db.session.get(User, company.poc_user_id) if company.poc_user_id else None
    if poc is not None and _usable(poc, company):
        return RoutingDecision((poc,), f"Point of Contact -> {poc.name}", Rule.POINT_OF_CONTACT)
    owner = account_owner(company)
    why = (
        f"Point of Contact {poc.name} is deactivated" if poc is not None else "No Point of Contact"
    )
    if owner is None:
        return RoutingDecision((), f"{why} and no active owner or admin", Rule.NOBODY)
    return RoutingDecision(
        (owner,), f"{why}: {owner_title(owner)} -> {owner.name}", Rule.ACCOUNT_OWNER
    )


def office_chain(company: Company, conversation: Conversation | None) -> RoutingDecision:
    """The office side of the chain: the hand assignment of this conversation, else POC/owner."""
    # By id, not the relationship: a reassignment in this transaction only changed the id.
    assigned = None
    if conversation is not None and conversation.assigned_user_id is not None:
        assigned = db.session.get(User, conversation.assigned_user_id)
    if assigned is not None and _usable(assigned, company):
        return RoutingDecision(
            (assigned,), f"Conversation assigned to {assigned.name}", Rule.ASSIGNED
        )
    fallback = office_fallback(company)
    if assigned is not None:
        return RoutingDecision(
            fallback.recipients,
            f"{assigned.name} (assigned) is deactivated. {fallback.reason}",
            fallback.rule,
        )
    return fallback


def who_gets_texts_today(company: Company) -> str:
    """One sentence for the Point of Contact page: where a text goes when no job is in progress."""
    poc = db.session.get(User, company.poc_user_id) if company.poc_user_id else None
    if poc is not None and _usable(poc, company):
        return f"Texts go to {poc.name}, the Point of Contact."
    owner = account_owner(company)
    if poc is not None:
        lead = f"{poc.name}, the Point of Contact, is deactivated"
    else:
        lead = "No Point of Contact"
    if owner is None:
        return f"{lead}, and there is no active owner or admin: texts reach nobody."
    return f"{lead}: texts go to {owner.name}, {owner_title(owner)}."


def _in_progress_reason(company: Company, job: Job, techs: list[User]) -> str:
    if job.on_my_way_at is not None:
        by = f" by {job.on_my_way_by.first_name}" if job.on_my_way_by else ""
        progress = f"On My Way at {local_time(job.on_my_way_at, company.tz, CLOCK)}{by}"
    else:
        progress = f"started at {local_time(job.started_at, company.tz, CLOCK)}"
    names = ", ".join(tech.name for tech in techs)
    return f"Job #{job.number} is in progress: {progress} -> {names}"


def _no_job_prefix(company: Company, customer: Customer) -> str:
    closed = last_closed_job(company=company, customer=customer)
    if closed is None:
        return "No job in progress"
    if closed.status == JobStatus.FINISHED:
        when = local_time(closed.finished_at, company.tz, "%b %-d, " + CLOCK)
        return f"No job in progress (job #{closed.number} finished {when})"
    when = local_time(closed.canceled_at, company.tz, "%b %-d, " + CLOCK)
    return f"No job in progress (job #{closed.number} canceled {when})"


def decide_recipients(
    *, company: Company, customer: Customer | None, conversation: Conversation | None = None
) -> RoutingDecision:
    if customer is None:
        chain = office_chain(company, conversation)
        member = _team_member_with_mobile(company, conversation.phone) if conversation else None
        # A user answering a forwarded copy from their own phone lands here: say so, since
        # that answer reaches the office, not the customer.
        who = f"From {member.name}'s own mobile (not a customer)" if member else "Unknown number"
        return RoutingDecision(chain.recipients, f"{who}. {chain.reason}", chain.rule)
    job = in_progress_job(company=company, customer=customer)
    if job is None:
        chain = office_chain(company, conversation)
        prefix = _no_job_prefix(company, customer)
        return RoutingDecision(chain.recipients, f"{prefix}. {chain.reason}", chain.rule)
    techs = assigned_techs(job)
    if not techs:
        chain = office_chain(company, conversation)
        return RoutingDecision(
            chain.recipients,
            f"Job #{job.number} is in progress but has no active technician. {chain.reason}",
            chain.rule,
            job,
        )
    return RoutingDecision(
        tuple(techs), _in_progress_reason(company, job, techs), Rule.IN_PROGRESS_JOB, job
    )


def routed_to_user_clause(*, company: Company, user: User) -> sa.ColumnElement[bool]:
    """The SQL twin of `decide_recipients`, correlated to `Conversation`: true for the
    conversations of `company` whose next text goes to `user` now (the techs of the
    customer's In Progress job, else the hand assignment, else the Point of Contact, else
    the account owner). Lets a list show "routed to me" in one query instead of deciding
    every conversation in Python; tests/services/test_routing.py checks both agree."""
    if not user.active or user.company_id != company.id:
        return sa.false()
    current_job = (
        sa.select(Job.id)
        .where(
            Job.company_id == company.id,
            Job.customer_id == Conversation.customer_id,
            Job.status.in_(JobStatus.IN_PROGRESS),
        )
        .order_by(
            Job.on_my_way_at.desc().nulls_last(), Job.started_at.desc().nulls_last(), Job.id.desc()
        )
        .limit(1)
        .correlate(Conversation)
        .scalar_subquery()
    )
    job_staffed = (
        sa.select(JobAssignment.id)
        .join(User, User.id == JobAssignment.user_id)
        .where(
            JobAssignment.job_id == current_job,
            User.active.is_(True),
            User.company_id == company.id,
        )
        .exists()
    )
    on_the_job = (
        sa.select(JobAssignment.id)
        .where(JobAssignment.job_id == current_job, JobAssignment.user_id == user.id)
        .exists()
    )
    assigned_usable = (
        sa.select(User.id)
        .where(
            User.id == Conversation.assigned_user_id,
            User.active.is_(True),
            User.company_id == company.id,
        )
        .exists()
    )
    # The POC/owner end of the chain is the same for every conversation: decided once.
    fallback_is_user = user.id in office_fallback(company).recipient_ids
    office_side = sa.or_(
        sa.and_(assigned_usable, Conversation.assigned_user_id == user.id),
        sa.and_(~assigned_usable, sa.true() if fallback_is_user else sa.false()),
    )
    return sa.and_(
        Conversation.company_id == company.id,
        sa.or_(sa.and_(job_staffed, on_the_job), sa.and_(~job_staffed, office_side)),
    )


def _team_member_with_mobile(company: Company, phone: str) -> User | None:
    return db.session.scalar(
        sa.select(User)
        .where(User.company_id == company.id, User.mobile_phone == phone)
        .order_by(User.id)
        .limit(1)
    )


def find_customer(*, company: Company, phone: str) -> Customer | None:
    """The customer with this number inside `company` only (a number may belong to several
    companies' customers; each company sees only its own)."""
    return db.session.scalar(
        sa.select(Customer).filter_by(company_id=company.id, mobile_phone=phone)
    )


def add_recipients(*, message: Message, users: tuple[User, ...] | list[User]) -> list[User]:
    """Record `users` as recipients of `message`; returns the ones that were new."""
    if message.id is None:  # not inserted yet, so it has no recipients
        db.session.flush()
        existing: set[int] = set()
    else:
        existing = set(
            db.session.scalars(
                sa.select(MessageRecipient.user_id).where(MessageRecipient.message_id == message.id)
            )
        )
    added = []
    for user in users:
        if user.id in existing:
            continue
        existing.add(user.id)
        db.session.add(MessageRecipient(message_id=message.id, user_id=user.id))
        added.append(user)
    db.session.flush()
    if added:
        # Whoever listens (Web Push, app/services/push.py) hears of every new recipient,
        # from routing, escalation and reassignment alike.
        text_routed.send(message, users=tuple(added))
    return added


def forward_body(*, message: Message, job: Job | None) -> str:
    """ "Jane Doe, job #1042: <text>" (the sender, the job if any, then what they wrote)."""
    conversation = message.conversation
    who = conversation.customer.name if conversation.customer else format_phone(conversation.phone)
    head = f"{who}, job #{job.number}" if job is not None else who
    text = message.body.strip()
    if message.media_urls:
        count = len(message.media_urls)
        photos = f"({count} photo{'s' if count != 1 else ''}, see the inbox)"
        text = f"{text} {photos}" if text else photos
    return f"{head}: {text}"


def forward_to_mobiles(*, message: Message, users: list[User] | tuple[User, ...]) -> list[Message]:
    """Queue a FORWARD text to each user who asked for one (only a queue insert; the worker
    sends it). At most one per (message, user), never to the customer's own number."""
    from app.services.texting import TextingUnavailable, queue_text

    queued = []
    job = message.job
    for user in users:
        if not user.forward_texts or not user.mobile_phone or not user.active:
            continue
        if user.mobile_phone == message.conversation.phone:
            continue
        try:
            forward = queue_text(
                company=message.company,
                to_phone=user.mobile_phone,
                body=forward_body(message=message, job=job),
                kind=MessageKind.FORWARD,
                job=job,
                dedupe_key=f"forward:{message.id}:{user.id}",
                extra={"forwarded_message_id": message.id, "user_id": user.id},
            )
        except TextingUnavailable:
            # The user's own mobile opted out (or the number is gone): the text is still in
            # the inbox, which is where it lives; a forward is only a convenience.
            continue
        queued.append(forward)
    return queued


def set_point_of_contact(*, company: Company, user: User | None, actor: User) -> Company:
    """Pick the Point of Contact (any active user of the company), or none."""
    if actor.company_id != company.id or not actor.is_manager:
        raise NotAllowed("Only an owner or admin can choose the Point of Contact.")
    if user is not None and not _usable(user, company):
        raise DomainError("Pick an active user of your company.", field="poc_user_id")
    company.poc_user_id = user.id if user is not None else None
    db.session.flush()
    return company


def set_forwarding(*, user: User, enabled: bool, actor: User) -> User:
    """Turn forwarding of routed texts to `user`'s mobile on or off (themselves, or a manager)."""
    if actor.company_id != user.company_id or not (actor.id == user.id or actor.is_manager):
        raise NotAllowed("You can change only your own forwarding.")
    if enabled and not user.mobile_phone:
        raise DomainError(
            f"{user.name} has no mobile number, so texts can't be forwarded. Add one to the "
            "profile first.",
            field="forward_texts",
        )
    user.forward_texts = enabled
    db.session.flush()
    return user


def apply_routing(*, message: Message) -> RoutingDecision:
    """Route a stored inbound message: record its recipients and the reason on it, and
    queue forwards to the recipients' mobiles. Safe to call twice (nothing doubles)."""
    company = message.company
    conversation = message.conversation
    customer = conversation.customer
    if customer is None:
        customer = find_customer(company=company, phone=conversation.phone)
        if customer is not None:
            conversation.customer_id = customer.id
    decision = decide_recipients(company=company, customer=customer, conversation=conversation)
    # Whatever stored the message (webhook, a billing notice), the inbox sorts by this.
    if conversation.last_message_at is None or conversation.last_message_at < message.created_at:
        conversation.last_message_at = message.created_at
    message.routing_reason = decision.reason
    message.extra = {
        **(message.extra or {}),
        "routing_rule": decision.rule,
        "routed_to": list(decision.recipient_ids),
    }
    if decision.job is not None and message.job_id is None:
        message.job_id = decision.job.id
        message.job = decision.job
    add_recipients(message=message, users=decision.recipients)
    forward_to_mobiles(message=message, users=decision.recipients)
    db.session.flush()
    return decision

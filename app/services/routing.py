"""Who an inbound text goes to (rule 4 of the seed), and why.

`decide_recipients` is a function of the database state only: the same state always
gives the same recipients and the same reason, which is stored on the message and shown
next to it.

1. The customer has a job In Progress (On My Way tapped, not yet Finished): the
   technicians assigned to it. With several, the one whose On My Way is most recent.
2. Otherwise: the company's Point of Contact.
3. No Point of Contact (or the POC is deactivated): the original owner/admin, i.e. the
   active owner or admin with the lowest user id.
An unknown sender (not a customer) goes the POC/owner way.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Company,
    Customer,
    Job,
    JobAssignment,
    JobStatus,
    Message,
    MessageRecipient,
    Role,
    User,
)
from app.templating import local_time


class Rule:
    IN_PROGRESS_JOB = "in_progress_job"
    POINT_OF_CONTACT = "point_of_contact"
    ACCOUNT_OWNER = "account_owner"
    NOBODY = "nobody"


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


def assigned_techs(job: Job) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .join(JobAssignment, JobAssignment.user_id == User.id)
            .where(JobAssignment.job_id == job.id, User.active.is_(True))
            .order_by(User.id)
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


def office_fallback(company: Company) -> RoutingDecision:
    """The Point of Contact, or the account owner when there is none (rules 2 and 3)."""
    poc = db.session.get(User, company.poc_user_id) if company.poc_user_id else None
    if poc is not None and poc.active and poc.company_id == company.id:
        return RoutingDecision((poc,), f"Point of Contact -> {poc.name}", Rule.POINT_OF_CONTACT)
    owner = account_owner(company)
    why = "Point of Contact is deactivated" if poc is not None else "No Point of Contact"
    if owner is None:
        return RoutingDecision((), f"{why} and no active owner or admin", Rule.NOBODY)
    return RoutingDecision(
        (owner,),
        f"{why}: the account's original {owner.role_label.lower()} -> {owner.name}",
        Rule.ACCOUNT_OWNER,
    )


def decide_recipients(*, company: Company, customer: Customer | None) -> RoutingDecision:
    if customer is None:
        fallback = office_fallback(company)
        return RoutingDecision(
            fallback.recipients, f"Unknown number. {fallback.reason}", fallback.rule
        )
    job = in_progress_job(company=company, customer=customer)
    if job is None:
        fallback = office_fallback(company)
        return RoutingDecision(
            fallback.recipients, f"No job in progress. {fallback.reason}", fallback.rule
        )
    techs = assigned_techs(job)
    if not techs:
        fallback = office_fallback(company)
        return RoutingDecision(
            fallback.recipients,
            f"Job #{job.number} is in progress but has no active technician. {fallback.reason}",
            fallback.rule,
            job,
        )
    if job.on_my_way_at is not None:
        by = f" by {job.on_my_way_by.first_name}" if job.on_my_way_by else ""
        when = local_time(job.on_my_way_at, company.tz, "%-I:%M %p")
        progress = f"On My Way at {when}{by}"
    else:
        progress = f"started at {local_time(job.started_at, company.tz, '%-I:%M %p')}"
    names = ", ".join(tech.name for tech in techs)
    return RoutingDecision(
        tuple(techs),
        f"Job #{job.number} is in progress: {progress} -> {names}",
        Rule.IN_PROGRESS_JOB,
        job,
    )


def apply_routing(*, message: Message) -> RoutingDecision:
    """Route a stored inbound message: record its recipients and the reason on it."""
    company = message.company
    customer = message.conversation.customer
    decision = decide_recipients(company=company, customer=customer)
    message.routing_reason = decision.reason
    if decision.job is not None and message.job_id is None:
        message.job_id = decision.job.id
    for user in decision.recipients:
        db.session.add(MessageRecipient(message_id=message.id, user_id=user.id))
    db.session.flush()
    return decision

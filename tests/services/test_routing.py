"""Rule 4 of the seed, table-driven: who an inbound text goes to, and the reason shown."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Conversation,
    JobStatus,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    OptOut,
    Role,
    utcnow,
)
from app.services.errors import DomainError, NotAllowed
from app.services.job_status import job_set_status
from app.services.routing import (
    Rule,
    apply_routing,
    decide_recipients,
    set_forwarding,
    set_point_of_contact,
    who_gets_texts_today,
)
from app.services.thread_links import short_thread_link

PHONE = "+15125550142"


@dataclass
class World:
    """Named rows of one scenario: `users["maria"]`, `jobs["a"]`, the customer (or None)."""

    company: object
    customer: object
    users: dict
    jobs: dict
    conversation: object = None


def _omw(job, tech, at: datetime | None = None):
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech)
    if at is not None:
        job.on_my_way_at = at
        db.session.flush()


def _base(make, *, poc: bool = True) -> World:
    company = make.company("Acme Plumbing")
    make.number(company)
    users = {"owner": company.owner}
    users["bob"] = make.user(company, Role.OFFICE, name="Bob Office")
    users["maria"] = make.user(company, Role.TECH, name="Maria Lopez")
    users["sam"] = make.user(company, Role.TECH, name="Sam Lee")
    if poc:
        company.poc_user_id = users["bob"].id
    customer = make.customer(company, name="Jane Doe", phone=PHONE)
    db.session.flush()
    return World(company, customer, users, {})


def scheduled_job(make):
    w = _base(make)
    w.jobs["a"] = make.job(w.company, customer=w.customer, techs=[w.users["maria"]])
    return w


def on_my_way_job(make):
    w = scheduled_job(make)
    _omw(w.jobs["a"], w.users["maria"])
    return w


def started_without_on_my_way(make):
    w = scheduled_job(make)
    job_set_status(job=w.jobs["a"], status=JobStatus.STARTED, actor=w.users["maria"])
    return w


def finished_job(make):
    w = on_my_way_job(make)
    job_set_status(job=w.jobs["a"], status=JobStatus.FINISHED, actor=w.users["maria"])
    return w


def canceled_job(make):
    w = on_my_way_job(make)
    job_set_status(job=w.jobs["a"], status=JobStatus.CANCELED, actor=w.users["bob"])
    return w


def two_in_progress_jobs(make):
    w = _base(make)
    w.jobs["a"] = make.job(w.company, customer=w.customer, techs=[w.users["maria"]])
    w.jobs["b"] = make.job(w.company, customer=w.customer, techs=[w.users["sam"]])
    now = utcnow()
    # Job b was created later but Maria's On My Way on job a is the most recent.
    _omw(w.jobs["b"], w.users["sam"], at=now - timedelta(minutes=30))
    _omw(w.jobs["a"], w.users["maria"], at=now - timedelta(minutes=5))
    return w


def two_in_progress_jobs_other_order(make):
    w = _base(make)
    w.jobs["a"] = make.job(w.company, customer=w.customer, techs=[w.users["maria"]])
    w.jobs["b"] = make.job(w.company, customer=w.customer, techs=[w.users["sam"]])
    now = utcnow()
    _omw(w.jobs["a"], w.users["maria"], at=now - timedelta(minutes=30))
    _omw(w.jobs["b"], w.users["sam"], at=now - timedelta(minutes=5))
    return w


def in_progress_and_finished_jobs(make):
    # A finished job with a more recent On My Way must not win over the one in progress.
    w = _base(make)
    w.jobs["a"] = make.job(w.company, customer=w.customer, techs=[w.users["maria"]])
    w.jobs["b"] = make.job(w.company, customer=w.customer, techs=[w.users["sam"]])
    now = utcnow()
    _omw(w.jobs["a"], w.users["maria"], at=now - timedelta(minutes=30))
    _omw(w.jobs["b"], w.users["sam"], at=now - timedelta(minutes=5))
    job_set_status(job=w.jobs["b"], status=JobStatus.FINISHED, actor=w.users["sam"])
    return w


def several_techs_on_one_job(make):
    w = _base(make)
    w.jobs["a"] = make.job(w.company, customer=w.customer, techs=[w.users["maria"], w.users["sam"]])
    _omw(w.jobs["a"], w.users["sam"])
    return w


def in_progress_tech_deactivated(make):
    w = on_my_way_job(make)
    w.users["maria"].active = False
    return w


def one_of_two_techs_deactivated(make):
    w = several_techs_on_one_job(make)
    w.users["sam"].active = False
    return w


def another_customers_job_in_progress(make):
    w = _base(make)
    other = make.customer(w.company, name="Other Person", phone="+15125550199")
    w.jobs["a"] = make.job(w.company, customer=other, techs=[w.users["maria"]])
    _omw(w.jobs["a"], w.users["maria"])
    return w


def no_poc(make):
    return _base(make, poc=False)


def deactivated_poc(make):
    w = _base(make)
    w.users["bob"].active = False
    return w


def admin_has_lowest_id_not_owner(make):
    # The first user was demoted to admin and a later user became the owner: the seed's
    # "original admin/owner ... the lowest number" is the admin.
    w = _base(make, poc=False)
    w.users["owner"].role = Role.ADMIN
    w.users["later_owner"] = make.user(w.company, Role.OWNER, name="Later Owner")
    return w


def lowest_owner_deactivated(make):
    w = _base(make, poc=False)
    w.users["admin"] = make.user(w.company, Role.ADMIN, name="Ada Admin")
    w.users["owner"].active = False
    return w


def office_user_with_lowest_id_is_not_eligible(make):
    # Only owners/admins are "the original admin/owner"; an office user is skipped.
    w = _base(make, poc=False)
    w.users["owner"].role = Role.OFFICE
    w.users["admin"] = make.user(w.company, Role.ADMIN, name="Ada Admin")
    return w


def nobody_left(make):
    w = _base(make, poc=False)
    w.users["owner"].active = False
    return w


def unknown_sender(make):
    w = _base(make)
    w.customer = None
    return w


def unknown_sender_no_poc(make):
    w = _base(make, poc=False)
    w.customer = None
    return w


def team_member_texting_from_their_mobile(make):
    w = _base(make)
    w.users["maria"].mobile_phone = PHONE
    w.customer = None
    w.conversation = Conversation(company_id=w.company.id, phone=PHONE)
    db.session.add(w.conversation)
    return w


def assigned_conversation(make):
    w = _base(make)
    w.conversation = Conversation(
        company_id=w.company.id,
        phone=PHONE,
        customer_id=w.customer.id,
        assigned_user_id=w.users["sam"].id,
    )
    db.session.add(w.conversation)
    return w


def assigned_conversation_with_job_in_progress(make):
    w = assigned_conversation(make)
    w.users["ted"] = make.user(w.company, Role.TECH, name="Ted Tech")
    w.jobs["a"] = make.job(w.company, customer=w.customer, techs=[w.users["ted"]])
    _omw(w.jobs["a"], w.users["ted"])
    return w


def assigned_user_deactivated(make):
    w = assigned_conversation(make)
    w.users["sam"].active = False
    return w


def poc_is_a_tech(make):
    w = _base(make)
    w.company.poc_user_id = w.users["sam"].id
    return w


@dataclass(frozen=True)
class Case:
    build: Callable
    recipients: tuple[str, ...]
    rule: str
    reason: tuple[str, ...]
    job: str | None = None


CASES = {
    "scheduled job -> POC": Case(
        scheduled_job, ("bob",), Rule.POINT_OF_CONTACT, ("No job in progress.", "Bob Office")
    ),
    "on my way -> assigned tech": Case(
        on_my_way_job,
        ("maria",),
        Rule.IN_PROGRESS_JOB,
        ("is in progress: On My Way at", "by Maria -> Maria Lopez"),
        job="a",
    ),
    "started without on my way -> assigned tech": Case(
        started_without_on_my_way,
        ("maria",),
        Rule.IN_PROGRESS_JOB,
        ("is in progress: started at", "-> Maria Lopez"),
        job="a",
    ),
    "finished -> POC": Case(
        finished_job, ("bob",), Rule.POINT_OF_CONTACT, ("finished", "Point of Contact -> Bob")
    ),
    "canceled -> POC": Case(
        canceled_job, ("bob",), Rule.POINT_OF_CONTACT, ("canceled", "Point of Contact -> Bob")
    ),
    "two jobs in progress -> most recent on my way (a)": Case(
        two_in_progress_jobs, ("maria",), Rule.IN_PROGRESS_JOB, ("-> Maria Lopez",), job="a"
    ),
    "two jobs in progress -> most recent on my way (b)": Case(
        two_in_progress_jobs_other_order, ("sam",), Rule.IN_PROGRESS_JOB, ("-> Sam Lee",), job="b"
    ),
    "a finished job never beats one in progress": Case(
        in_progress_and_finished_jobs, ("maria",), Rule.IN_PROGRESS_JOB, ("Maria",), job="a"
    ),
    "several techs on one job -> all of them": Case(
        several_techs_on_one_job,
        ("maria", "sam"),
        Rule.IN_PROGRESS_JOB,
        ("by Sam -> Maria Lopez, Sam Lee",),
        job="a",
    ),
    "in progress but its tech is deactivated -> POC": Case(
        in_progress_tech_deactivated,
        ("bob",),
        Rule.POINT_OF_CONTACT,
        ("has no active technician", "Point of Contact -> Bob Office"),
        job="a",
    ),
    "one of two techs deactivated -> the active one": Case(
        one_of_two_techs_deactivated, ("maria",), Rule.IN_PROGRESS_JOB, ("-> Maria Lopez",), "a"
    ),
    "another customer's job in progress doesn't count": Case(
        another_customers_job_in_progress, ("bob",), Rule.POINT_OF_CONTACT, ("No job",)
    ),
    "no POC -> owner (lowest id)": Case(
        no_poc,
        ("owner",),
        Rule.ACCOUNT_OWNER,
        ("No Point of Contact: the account owner -> Owner",),
    ),
    "deactivated POC -> owner": Case(
        deactivated_poc,
        ("owner",),
        Rule.ACCOUNT_OWNER,
        ("Point of Contact Bob Office is deactivated: the account owner",),
    ),
    "owner is not the lowest id but an admin is -> that admin": Case(
        admin_has_lowest_id_not_owner,
        ("owner",),
        Rule.ACCOUNT_OWNER,
        ("the account's original admin -> Owner",),
    ),
    "lowest owner deactivated -> next active owner/admin": Case(
        lowest_owner_deactivated, ("admin",), Rule.ACCOUNT_OWNER, ("-> Ada Admin",)
    ),
    "office role with the lowest id is skipped": Case(
        office_user_with_lowest_id_is_not_eligible, ("admin",), Rule.ACCOUNT_OWNER, ("Ada",)
    ),
    "no POC and no active owner/admin -> nobody": Case(
        nobody_left, (), Rule.NOBODY, ("no active owner or admin",)
    ),
    "unknown sender -> POC": Case(
        unknown_sender, ("bob",), Rule.POINT_OF_CONTACT, ("Unknown number.", "Bob Office")
    ),
    "unknown sender, no POC -> owner": Case(
        unknown_sender_no_poc, ("owner",), Rule.ACCOUNT_OWNER, ("Unknown number.", "owner")
    ),
    "a team member answering a forward from their own mobile -> POC, and says so": Case(
        team_member_texting_from_their_mobile,
        ("bob",),
        Rule.POINT_OF_CONTACT,
        ("From Maria Lopez's own mobile (not a customer). Point of Contact -> Bob Office",),
    ),
    "conversation assigned by hand -> that user": Case(
        assigned_conversation, ("sam",), Rule.ASSIGNED, ("assigned to Sam Lee",)
    ),
    "assigned by hand but a job is in progress -> the job's tech": Case(
        assigned_conversation_with_job_in_progress,
        ("ted",),
        Rule.IN_PROGRESS_JOB,
        ("-> Ted Tech",),
        job="a",
    ),
    "assigned user deactivated -> POC": Case(
        assigned_user_deactivated, ("bob",), Rule.POINT_OF_CONTACT, ("deactivated", "Bob")
    ),
    "a tech can be the POC": Case(poc_is_a_tech, ("sam",), Rule.POINT_OF_CONTACT, ("Sam Lee",)),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_decide_recipients(make, case: Case):
    w = case.build(make)
    db.session.flush()
    decision = decide_recipients(
        company=w.company, customer=w.customer, conversation=w.conversation
    )
    assert decision.recipient_ids == tuple(w.users[name].id for name in case.recipients)
    assert decision.rule == case.rule
    for fragment in case.reason:
        assert fragment in decision.reason, decision.reason
    if case.job is None:
        assert decision.job is None
    else:
        assert decision.job.id == w.jobs[case.job].id


def test_reason_names_the_job_the_time_and_who_tapped(make):
    w = scheduled_job(make)
    w.company.time_zone = "America/Chicago"
    job = w.jobs["a"]
    _omw(job, w.users["maria"], at=datetime(2026, 11, 26, 16, 42, tzinfo=UTC))
    decision = decide_recipients(company=w.company, customer=w.customer)
    assert decision.reason == (
        f"Job #{job.number} is in progress: On My Way at 10:42 AM by Maria -> Maria Lopez"
    )


def test_apply_routing_stores_recipients_reason_and_job(make, inbound):
    w = on_my_way_job(make)
    message = inbound(w.company, PHONE, "Gate code is 1234")
    decision = apply_routing(message=message)
    db.session.expire_all()
    stored = db.session.get(Message, message.id)
    assert [r.user_id for r in stored.recipients] == [w.users["maria"].id]
    assert stored.routing_reason == decision.reason
    assert stored.job_id == w.jobs["a"].id
    assert stored.extra["routing_rule"] == Rule.IN_PROGRESS_JOB


def test_apply_routing_twice_changes_nothing(make, inbound):
    w = several_techs_on_one_job(make)
    for user in (w.users["maria"], w.users["sam"]):
        user.mobile_phone = "+15125550177" if user is w.users["maria"] else "+15125550178"
        user.forward_texts = True
    message = inbound(w.company, PHONE)
    apply_routing(message=message)
    apply_routing(message=message)
    assert db.session.scalar(sa.select(sa.func.count(MessageRecipient.id))) == 2
    forwards = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.FORWARD)).all()
    assert len(forwards) == 2


def test_finishing_or_canceling_hands_the_next_text_back_to_the_poc(make, inbound):
    w = on_my_way_job(make)
    first = apply_routing(message=inbound(w.company, PHONE, "On my way?"))
    assert first.recipient_ids == (w.users["maria"].id,)
    job_set_status(job=w.jobs["a"], status=JobStatus.FINISHED, actor=w.users["maria"])
    second = apply_routing(message=inbound(w.company, PHONE, "Thanks!"))
    assert second.recipient_ids == (w.users["bob"].id,)
    assert "finished" in second.reason

    job_b = make.job(w.company, customer=w.customer, techs=[w.users["sam"]])
    _omw(job_b, w.users["sam"])
    third = apply_routing(message=inbound(w.company, PHONE, "See you soon"))
    assert third.recipient_ids == (w.users["sam"].id,)
    job_set_status(job=job_b, status=JobStatus.CANCELED, actor=w.users["bob"])
    fourth = apply_routing(message=inbound(w.company, PHONE, "Why canceled?"))
    assert fourth.recipient_ids == (w.users["bob"].id,)
    assert "canceled" in fourth.reason


def test_a_number_that_is_a_customer_of_two_companies(make, inbound):
    a = on_my_way_job(make)
    b_company = make.company("Best HVAC")
    make.number(b_company)
    b_poc = make.user(b_company, Role.OFFICE, name="Bea Office")
    b_company.poc_user_id = b_poc.id
    b_customer = make.customer(b_company, name="Jane D. (HVAC)", phone=PHONE)

    to_a = inbound(a.company, PHONE, "for the plumber")
    to_b = inbound(b_company, PHONE, "for the HVAC company")
    decision_a = apply_routing(message=to_a)
    decision_b = apply_routing(message=to_b)

    assert decision_a.recipient_ids == (a.users["maria"].id,)
    assert decision_b.recipient_ids == (b_poc.id,)
    assert to_a.conversation.customer_id == a.customer.id
    assert to_b.conversation.customer_id == b_customer.id
    assert to_a.conversation_id != to_b.conversation_id


def test_unknown_sender_conversation_is_marked_and_routed_to_the_chain(make, inbound):
    w = _base(make)
    message = inbound(w.company, "+15125550111", "Do you do water heaters?")
    decision = apply_routing(message=message)
    assert message.conversation.is_unknown_number
    assert decision.recipient_ids == (w.users["bob"].id,)
    assert message.routing_reason.startswith("Unknown number.")


def test_a_customer_added_after_the_conversation_is_found_by_number(make, inbound):
    w = on_my_way_job(make)
    message = inbound(w.company, PHONE)
    message.conversation.customer_id = None  # e.g. created before the customer existed
    db.session.flush()
    decision = apply_routing(message=message)
    assert message.conversation.customer_id == w.customer.id
    assert decision.rule == Rule.IN_PROGRESS_JOB


# Forwarding ---------------------------------------------------------------------------


def test_forwarding_queues_one_text_to_each_opted_in_mobile(make, inbound):
    w = several_techs_on_one_job(make)
    w.users["maria"].mobile_phone = "+15125550177"
    w.users["maria"].forward_texts = True
    w.users["sam"].mobile_phone = "+15125550178"  # has a mobile, forwarding off
    message = inbound(w.company, PHONE, "The dog is friendly", media_urls=["https://x/1.jpg"])
    apply_routing(message=message)
    forwards = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.FORWARD)).all()
    assert len(forwards) == 1
    forward = forwards[0]
    assert forward.to_phone == "+15125550177"
    assert forward.to_phone != PHONE
    assert forward.status == MessageStatus.PENDING
    link = short_thread_link(user=w.users["maria"], conversation=message.conversation)
    assert forward.body == (
        f"Jane Doe, job #{w.jobs['a'].number}: The dog is friendly (1 photo)\n"
        f"Reply here, not to this text: {link}"
    )
    assert "/t/" in link and link.startswith("http")
    assert forward.dedupe_key == f"forward:{message.id}:{w.users['maria'].id}"


def test_forward_without_a_job_and_from_an_unknown_number(make, inbound):
    w = _base(make)
    w.users["bob"].mobile_phone = "+15125550177"
    w.users["bob"].forward_texts = True
    message = inbound(w.company, "+15125550111", "Hello?")
    apply_routing(message=message)
    forward = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.FORWARD)).one()
    link = short_thread_link(user=w.users["bob"], conversation=message.conversation)
    assert forward.body == f"(512) 555-0111: Hello?\nReply here, not to this text: {link}"


def test_forward_is_skipped_when_the_mobile_opted_out_but_routing_still_happens(make, inbound):
    w = _base(make)
    w.users["bob"].mobile_phone = "+15125550177"
    w.users["bob"].forward_texts = True
    db.session.add(OptOut(company_id=w.company.id, phone="+15125550177", keyword="STOP"))
    message = inbound(w.company, PHONE)
    decision = apply_routing(message=message)
    assert decision.recipient_ids == (w.users["bob"].id,)
    assert db.session.scalar(sa.select(Message).filter_by(kind=MessageKind.FORWARD)) is None


def test_forward_never_goes_to_the_customer_number(make, inbound):
    w = _base(make)
    w.users["bob"].mobile_phone = PHONE  # the POC texting the number from their own phone
    w.users["bob"].forward_texts = True
    apply_routing(message=inbound(w.company, PHONE))
    assert db.session.scalar(sa.select(Message).filter_by(kind=MessageKind.FORWARD)) is None


# Settings -----------------------------------------------------------------------------


def test_who_gets_texts_today(make):
    company = make.company("Acme")
    company.owner.name = "Alice Smith"
    assert who_gets_texts_today(company) == (
        "No Point of Contact: texts go to Alice Smith, the account owner."
    )
    bob = make.user(company, Role.OFFICE, name="Bob Office")
    set_point_of_contact(company=company, user=bob, actor=company.owner)
    assert who_gets_texts_today(company) == "Texts go to Bob Office, the Point of Contact."
    bob.active = False
    assert who_gets_texts_today(company) == (
        "Bob Office, the Point of Contact, is deactivated: texts go to Alice Smith, "
        "the account owner."
    )


def test_set_point_of_contact_rules(make):
    company = make.company()
    other = make.company()
    office = make.user(company, Role.OFFICE)
    with pytest.raises(NotAllowed):
        set_point_of_contact(company=company, user=office, actor=office)
    with pytest.raises(DomainError):
        set_point_of_contact(company=company, user=other.owner, actor=company.owner)
    office.active = False
    with pytest.raises(DomainError):
        set_point_of_contact(company=company, user=office, actor=company.owner)
    set_point_of_contact(company=company, user=None, actor=company.owner)
    assert company.poc_user_id is None


def test_set_forwarding_rules(make):
    company = make.company()
    tech = make.user(company, Role.TECH, mobile_phone="+15125550177")
    no_mobile = make.user(company, Role.TECH)
    other_tech = make.user(company, Role.TECH)
    set_forwarding(user=tech, enabled=True, actor=tech)
    assert tech.forward_texts
    set_forwarding(user=tech, enabled=False, actor=company.owner)
    assert not tech.forward_texts
    with pytest.raises(NotAllowed):
        set_forwarding(user=tech, enabled=True, actor=other_tech)
    with pytest.raises(DomainError, match="no mobile number"):
        set_forwarding(user=no_mobile, enabled=True, actor=no_mobile)

"""The services behind a technician's messages: which conversations are routed to a user
(the SQL twin of rule 4 agrees with `decide_recipients`), the list (unread first), who may
open a thread, the unread badge, and escalation of texts a tech leaves unread."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Conversation, JobStatus, Role, utcnow
from app.services.errors import NotAllowed
from app.services.escalation import escalate_unread, set_escalation_minutes
from app.services.inbox import (
    conversation_open_to,
    list_conversations,
    mark_read,
    reassign,
    send_reply,
    unread_total,
)
from app.services.job_status import job_set_status
from app.services.routing import apply_routing, decide_recipients, routed_to_user_clause

JANE = "+15125550142"
KIM = "+15125550143"
LEE = "+15125550144"
UNKNOWN = "+15125550199"


@pytest.fixture
def crew(make):
    company = make.company("Acme Plumbing")
    make.number(company)
    bob = make.user(company, Role.OFFICE, name="Bob Office")
    maria = make.user(company, Role.TECH, name="Maria Lopez")
    otto = make.user(company, Role.TECH, name="Otto Other")
    company.poc_user_id = bob.id
    customers = {
        phone: make.customer(company, name=name, phone=phone)
        for phone, name in ((JANE, "Jane Doe"), (KIM, "Kim Park"), (LEE, "Lee Chan"))
    }
    db.session.flush()
    return SimpleNamespace(
        company=company, bob=bob, maria=maria, otto=otto, customers=customers, make=make
    )


def _on_my_way(crew, phone, techs, *, minutes_ago=0):
    job = crew.make.job(crew.company, customer=crew.customers[phone], techs=techs)
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=techs[0] if techs else crew.bob)
    if minutes_ago:
        job.on_my_way_at = utcnow() - timedelta(minutes=minutes_ago)
    db.session.flush()
    return job


def _conversation(crew, phone) -> Conversation:
    return db.session.scalars(
        sa.select(Conversation).filter_by(company_id=crew.company.id, phone=phone)
    ).one()


def _routed_ids(crew, user) -> set[int]:
    return set(
        db.session.scalars(
            sa.select(Conversation.id).where(routed_to_user_clause(company=crew.company, user=user))
        )
    )


def _decided_ids(crew, user) -> set[int]:
    conversations = db.session.scalars(
        sa.select(Conversation).filter_by(company_id=crew.company.id)
    ).all()
    return {
        c.id
        for c in conversations
        if user.id
        in decide_recipients(
            company=crew.company, customer=c.customer, conversation=c
        ).recipient_ids
    }


def _poc_maria(crew):
    crew.company.poc_user_id = crew.maria.id


def _poc_deactivated(crew):
    crew.bob.active = False  # POC gone: the owner gets the office side


def _assigned_then_deactivated(crew):
    _conversation(crew, KIM).assigned_user_id = crew.otto.id
    crew.otto.active = False


def _two_jobs_latest_wins(crew):
    _on_my_way(crew, JANE, [crew.maria], minutes_ago=30)
    _on_my_way(crew, JANE, [crew.otto], minutes_ago=5)


def _job_without_active_tech(crew):
    _on_my_way(crew, JANE, [crew.otto])
    crew.otto.active = False


def _finished_job(crew):
    job = _on_my_way(crew, JANE, [crew.maria])
    job_set_status(job=job, status=JobStatus.FINISHED, actor=crew.maria)


SETUPS = {
    "POC is an office user": lambda crew: None,
    "POC is a tech": _poc_maria,
    "POC deactivated": _poc_deactivated,
    "in-progress job": lambda crew: _on_my_way(crew, JANE, [crew.maria]),
    "two in-progress jobs: latest On My Way wins": _two_jobs_latest_wins,
    "in-progress job whose only tech is deactivated": _job_without_active_tech,
    "finished job hands back": _finished_job,
    "hand-assigned to a tech": lambda crew: setattr(
        _conversation(crew, KIM), "assigned_user_id", crew.maria.id
    ),
    "hand-assigned to a deactivated user": _assigned_then_deactivated,
    "job beats the hand assignment": lambda crew: (
        setattr(_conversation(crew, JANE), "assigned_user_id", crew.bob.id),
        _on_my_way(crew, JANE, [crew.maria]),
    ),
}


@pytest.mark.parametrize("setup", list(SETUPS))
def test_the_sql_of_routed_to_me_agrees_with_decide_recipients(crew, inbound, setup):
    for phone in (JANE, KIM, LEE, UNKNOWN):
        inbound(crew.company, phone, "hello")
    SETUPS[setup](crew)
    db.session.flush()
    users = [crew.bob, crew.maria, crew.otto, crew.company.owner]
    for user in users:
        assert _routed_ids(crew, user) == _decided_ids(crew, user), (setup, user.name)
    # Every conversation goes to someone (nobody is routed nothing by accident).
    everyone = set().union(*(_decided_ids(crew, user) for user in users))
    assert len(everyone) == 4


def test_the_list_is_unread_first_and_keeps_an_unread_text_after_the_job_ended(crew, inbound):
    maria = crew.maria
    job = _on_my_way(crew, JANE, [maria])
    during = inbound(crew.company, JANE, "during the job", created_at=utcnow() - timedelta(hours=2))
    apply_routing(message=during)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=maria)
    # Kim's conversation is handed to Maria and read; Lee's text goes to Bob.
    kim = inbound(crew.company, KIM, "newest, read", created_at=utcnow())
    apply_routing(message=kim)
    reassign(conversation=kim.conversation, to_user=maria, actor=crew.bob)
    mark_read(conversation=kim.conversation, user=maria)
    apply_routing(message=inbound(crew.company, LEE, "for the office"))

    rows = list_conversations(company=crew.company, routed_to=maria)
    assert [(r.customer_name, r.unread) for r in rows] == [("Jane Doe", 1), ("Kim Park", 0)]
    assert unread_total(company=crew.company, user=maria) == 1
    assert [
        r.customer_name for r in list_conversations(company=crew.company, routed_to=crew.otto)
    ] == []

    mark_read(conversation=during.conversation, user=maria)
    # Read, and the job is over: Jane's conversation is the office's again.
    rows = list_conversations(company=crew.company, routed_to=maria)
    assert [r.customer_name for r in rows] == ["Kim Park"]
    assert unread_total(company=crew.company, user=maria) == 0
    # ...but the thread she last answered stays open to her (a page left open still works).
    assert conversation_open_to(conversation=during.conversation, user=maria)


def test_who_may_open_a_thread(crew, inbound, make):
    message = inbound(crew.company, JANE, "hi")
    apply_routing(message=message)  # to Bob, the POC
    conversation = message.conversation
    assert conversation_open_to(conversation=conversation, user=crew.bob)
    assert conversation_open_to(conversation=conversation, user=crew.company.owner)  # office
    assert not conversation_open_to(conversation=conversation, user=crew.maria)
    other = make.company("Other")
    assert not conversation_open_to(conversation=conversation, user=other.owner)
    with pytest.raises(NotAllowed):
        send_reply(conversation=conversation, author=crew.maria, body="Hi")
    _poc_maria(crew)
    assert conversation_open_to(conversation=conversation, user=crew.maria)
    assert not conversation_open_to(conversation=conversation, user=crew.otto)
    reply = send_reply(conversation=conversation, author=crew.maria, body="On my way soon")
    assert reply.author_id == crew.maria.id and reply.to_phone == JANE


def test_the_list_is_one_query_plus_the_point_of_contact(crew, inbound, count_queries):
    _poc_maria(crew)
    for phone in (JANE, KIM, LEE):
        apply_routing(message=inbound(crew.company, phone, "hello"))
    db.session.flush()
    with count_queries() as statements:
        rows = list_conversations(company=crew.company, routed_to=crew.maria)
    assert len(rows) == 3
    assert len(statements) <= 2, statements


# Escalation ---------------------------------------------------------------------------


def _old_text(crew, inbound, phone, minutes=11):
    message = inbound(
        crew.company, phone, "anyone?", created_at=utcnow() - timedelta(minutes=minutes)
    )
    apply_routing(message=message)
    return message


def _recipient_ids(message) -> set[int]:
    db.session.expire(message, ["recipients"])
    return {r.user_id for r in message.recipients}


def test_a_text_a_tech_as_poc_leaves_unread_goes_to_the_owner(crew, inbound):
    set_escalation_minutes(company=crew.company, minutes=10, actor=crew.company.owner)
    _poc_maria(crew)
    message = _old_text(crew, inbound, JANE)
    assert _recipient_ids(message) == {crew.maria.id}
    assert escalate_unread(now=utcnow()) == 1
    assert _recipient_ids(message) == {crew.maria.id, crew.company.owner.id}
    assert message.routing_reason.endswith(
        f"Unread after 10 min: also to {crew.company.owner.name}"
    )


def test_a_hand_assigned_tech_leaving_a_text_unread_escalates_to_the_poc(crew, inbound):
    set_escalation_minutes(company=crew.company, minutes=10, actor=crew.company.owner)
    first = inbound(crew.company, KIM, "first", created_at=utcnow() - timedelta(hours=1))
    apply_routing(message=first)
    mark_read(conversation=first.conversation, user=crew.bob)
    reassign(conversation=first.conversation, to_user=crew.maria, actor=crew.bob)
    message = _old_text(crew, inbound, KIM)
    assert _recipient_ids(message) == {crew.maria.id}
    assert escalate_unread(now=utcnow()) == 1
    assert _recipient_ids(message) == {crew.maria.id, crew.bob.id}


def test_reading_it_on_the_techs_messages_stops_the_escalation(crew, inbound):
    set_escalation_minutes(company=crew.company, minutes=10, actor=crew.company.owner)
    _poc_maria(crew)
    message = _old_text(crew, inbound, JANE)
    mark_read(conversation=message.conversation, user=crew.maria)  # what opening the thread does
    assert escalate_unread(now=utcnow()) == 0
    assert _recipient_ids(message) == {crew.maria.id}


def test_texts_routed_to_office_users_are_not_escalated(crew, inbound):
    set_escalation_minutes(company=crew.company, minutes=10, actor=crew.company.owner)
    message = _old_text(crew, inbound, JANE)
    assert _recipient_ids(message) == {crew.bob.id}
    assert escalate_unread(now=utcnow()) == 0


def test_the_list_preview_is_never_a_text_that_went_to_the_office(crew, inbound):
    before = inbound(crew.company, JANE, "office: my alarm code is 9911")
    apply_routing(message=before)  # to Bob
    _on_my_way(crew, JANE, [crew.maria])  # now Jane's texts go to Maria
    rows = list_conversations(company=crew.company, routed_to=crew.maria)
    assert [r.customer_name for r in rows] == ["Jane Doe"]
    assert "9911" not in rows[0].last.body  # the On My Way text instead
    assert rows[0].last.direction == "out"


def test_a_poc_techs_own_reply_to_a_copy_goes_to_the_owner_not_back_to_them(crew, inbound):
    _poc_maria(crew)
    crew.maria.mobile_phone = "+15125550177"
    crew.maria.forward_texts = True
    apply_routing(message=inbound(crew.company, JANE, "Hello?"))
    own = inbound(crew.company, "+15125550177", "ok")
    decision = apply_routing(message=own)
    owner = crew.company.owner
    assert decision.recipient_ids == (owner.id,)
    assert decision.reason == (
        "From Maria Lopez's own mobile (not a customer). Point of Contact -> Maria Lopez, "
        f"who sent it: {owner.name} instead"
    )
    rows = list_conversations(company=crew.company, routed_to=crew.maria)
    assert [r.customer_name for r in rows] == ["Jane Doe"]
    assert not conversation_open_to(conversation=own.conversation, user=crew.maria)
    assert _routed_ids(crew, crew.maria) == _decided_ids(crew, crew.maria)


def test_a_tech_opening_a_thread_does_not_read_the_offices_texts_for_it(crew, inbound):
    for_office = inbound(crew.company, JANE, "for the office")
    apply_routing(message=for_office)  # to Bob
    _on_my_way(crew, JANE, [crew.maria])
    for_maria = inbound(crew.company, JANE, "for Maria")
    apply_routing(message=for_maria)
    assert mark_read(conversation=for_maria.conversation, user=crew.maria) == 1
    db.session.refresh(for_maria)
    db.session.refresh(for_office)
    assert for_maria.read_at is not None
    assert for_office.read_at is None  # still unread in the inbox


def test_a_reply_to_a_copy_at_night_gets_the_link_not_the_after_hours_reply(make):
    from datetime import UTC, datetime

    from app.models import Message, MessageKind
    from app.services.business_hours import DayHours, set_week
    from app.services.inbound import receive_sms

    company = make.company("Lone Star Plumbing", time_zone="America/Chicago")
    make.number(company, e164="+15126660001")
    bob = make.user(company, Role.OFFICE, name="Bob Office", mobile_phone="+15125550177")
    bob.forward_texts = True
    company.poc_user_id = bob.id
    make.customer(company, name="Jane Doe", phone=JANE)
    set_week(
        company=company,
        actor=company.owner,
        days=[DayHours(day, day >= 5, 9 * 60, 17 * 60) for day in range(7)],
    )
    evening = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # a Monday, 8 pm in Chicago: closed

    def text(sid: str, phone: str, body: str) -> None:
        form = {"MessageSid": sid, "From": phone, "To": "+15126660001", "Body": body}
        receive_sms(form=form, received_at=evening)

    text("SM" + "1" * 32, JANE, "Are you open?")
    # The copy went out before Bob answered it (queued "now", a week after this evening).
    copy = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.FORWARD)).one()
    copy.created_at = evening
    text("SM" + "2" * 32, "+15125550177", "yes tomorrow 9am")

    def to(phone: str) -> list[str]:
        stmt = sa.select(Message.kind).filter_by(direction="out", to_phone=phone)
        return list(db.session.scalars(stmt.order_by(Message.id)))

    assert to(JANE) == [MessageKind.AFTER_HOURS_REPLY]  # the customer gets it
    assert to("+15125550177") == [MessageKind.FORWARD, MessageKind.FORWARD]  # copy, then link

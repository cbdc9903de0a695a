"""The inbox services: the conversation list (one query), threads, replies, read state,
reassignment, unknown numbers, and escalation of unread texts routed to a tech."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Conversation,
    Customer,
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
from app.services.escalation import escalate_unread, set_escalation_minutes
from app.services.inbox import (
    create_customer_from_conversation,
    delivery_state,
    list_conversations,
    mark_read,
    reassign,
    send_reply,
    thread_messages,
)
from app.services.job_status import job_set_status
from app.services.routing import Rule, apply_routing
from app.services.texting import TextingUnavailable

JANE = "+15125550142"
KIM = "+15125550143"


@pytest.fixture
def inbox_people(make):
    company = make.company("Acme Plumbing")
    make.number(company)
    bob = make.user(company, Role.OFFICE, name="Bob Office")
    maria = make.user(company, Role.TECH, name="Maria Lopez")
    company.poc_user_id = bob.id
    jane = make.customer(company, name="Jane Doe", phone=JANE)
    kim = make.customer(company, name="Kim Park", phone=KIM)
    db.session.flush()
    return SimpleNamespace(company=company, bob=bob, maria=maria, jane=jane, kim=kim)


def test_list_is_newest_first_with_unread_counts_and_last_message_in_one_query(
    make, inbound, inbox_people, count_queries
):
    company, bob = inbox_people.company, inbox_people.bob
    now = utcnow()
    inbound(company, JANE, "first", created_at=now - timedelta(minutes=10))
    inbound(company, JANE, "second", created_at=now - timedelta(minutes=9))
    inbound(company, KIM, "kim here", created_at=now - timedelta(minutes=5))
    send_reply(conversation=_conversation(company, JANE), author=bob, body="On it")
    inbound(company, "+15125550111", "who is this", created_at=now - timedelta(minutes=20))
    db.session.commit()
    db.session.expire_all()
    company = db.session.get(type(company), company.id)

    with count_queries() as statements:
        rows = list_conversations(company=company)
        summary = [
            (
                r.customer_name,
                r.last.body,
                r.unread,
            )
            for r in rows
        ]
    assert summary == [
        # Replying marked Jane's thread read; the first text to her says how to opt out.
        ("Jane Doe", "On it Reply STOP to opt out.", 0),
        ("Kim Park", "kim here", 1),
        (None, "who is this", 1),
    ]
    assert len(statements) == 1, statements


def test_list_leaves_out_other_companies_and_forward_only_conversations(
    make, inbound, inbox_people
):
    company, bob = inbox_people.company, inbox_people.bob
    bob.mobile_phone = "+15125550177"
    bob.forward_texts = True
    apply_routing(message=inbound(company, JANE, "hello"))
    other = make.company("Other Co")
    make.number(other)
    make.customer(other, name="Jane Elsewhere", phone=JANE)
    inbound(other, JANE, "to the other company")
    rows = list_conversations(company=company)
    assert [r.phone for r in rows] == [JANE]
    assert [r.last.body for r in rows] == ["hello"]
    assert [r.phone for r in list_conversations(company=other)] == [JANE]
    assert list_conversations(company=other)[0].last.body == "to the other company"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("jane", ["Jane Doe"]),
        ("PARK", ["Kim Park"]),
        ("0143", ["Kim Park"]),
        ("(512) 555-0142", ["Jane Doe"]),
        ("555-01", ["Kim Park", "Jane Doe", None]),
        ("0111", [None]),
        ("nobody", []),
        ("%", []),
    ],
)
def test_search_by_name_or_number(inbound, inbox_people, query, expected):
    company = inbox_people.company
    now = utcnow()
    inbound(company, "+15125550111", "unknown", created_at=now - timedelta(minutes=3))
    inbound(company, JANE, "jane", created_at=now - timedelta(minutes=2))
    inbound(company, KIM, "kim", created_at=now - timedelta(minutes=1))
    rows = list_conversations(company=company, query=query)
    names = [r.customer_name for r in rows]
    assert names == expected


def test_only_user_keeps_conversations_routed_or_assigned_to_them(make, inbound, inbox_people):
    company, bob, maria, jane = (
        inbox_people.company,
        inbox_people.bob,
        inbox_people.maria,
        inbox_people.jane,
    )
    job = _job_on_my_way(make, inbox_people)
    apply_routing(message=inbound(company, JANE, "at the door"))
    apply_routing(message=inbound(company, KIM, "question"))
    assert job.customer_id == jane.id
    mine = list_conversations(company=company, only_user=maria)
    assert [r.phone for r in mine] == [JANE]
    reassign(conversation=_conversation(company, KIM), to_user=maria, actor=bob)
    assert {r.phone for r in list_conversations(company=company, only_user=maria)} == {
        JANE,
        KIM,
    }


def test_thread_shows_both_directions_and_notices_but_not_forwards(inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    bob.mobile_phone = "+15125550177"
    bob.forward_texts = True
    apply_routing(message=inbound(company, JANE, "Is 3pm ok?"))
    send_reply(conversation=_conversation(company, JANE), author=bob, body="Yes, see you")
    apply_routing(message=inbound(company, JANE, "Estimate #12 approved", kind=MessageKind.NOTICE))
    thread = thread_messages(conversation=_conversation(company, JANE))
    assert [(m.direction, m.kind, m.body) for m in thread] == [
        ("in", MessageKind.INBOUND, "Is 3pm ok?"),
        ("out", MessageKind.MANUAL, "Yes, see you Reply STOP to opt out."),
        ("in", MessageKind.NOTICE, "Estimate #12 approved"),
    ]


def test_send_reply_queues_a_manual_text_from_the_custom_number(inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    apply_routing(message=inbound(company, JANE, "hello"))
    conversation = _conversation(company, JANE)
    reply = send_reply(conversation=conversation, author=bob, body="  Hi Jane!  ")
    assert reply.kind == MessageKind.MANUAL
    assert reply.status == MessageStatus.PENDING
    assert reply.body == "Hi Jane! Reply STOP to opt out."  # the first text to Jane
    assert reply.to_phone == JANE
    assert reply.from_phone == company.phone_number.e164
    assert reply.author_id == bob.id
    assert reply.conversation_id == conversation.id
    # Replying reads the thread.
    assert list_conversations(company=company)[0].unread == 0


def test_send_reply_with_the_same_form_key_is_one_text(inbox_people):
    company, bob, jane = inbox_people.company, inbox_people.bob, inbox_people.jane
    conversation = _conversation_for(company, jane)
    first = send_reply(conversation=conversation, author=bob, body="Hi", idempotency_key="k1")
    again = send_reply(conversation=conversation, author=bob, body="Hi", idempotency_key="k1")
    other = send_reply(conversation=conversation, author=bob, body="Hi", idempotency_key="k2")
    assert first.id == again.id != other.id


def test_send_reply_in_progress_links_the_job(make, inbox_people):
    company, maria, jane = inbox_people.company, inbox_people.maria, inbox_people.jane
    job = _job_on_my_way(make, inbox_people)
    reply = send_reply(conversation=_conversation_for(company, jane), author=maria, body="5 min")
    assert reply.job_id == job.id


@pytest.mark.parametrize(
    ("body", "match"),
    [("", "Write a message"), ("   ", "Write a message"), ("x" * 1601, "under 1600")],
)
def test_send_reply_refuses_empty_or_huge_bodies(inbox_people, body, match):
    company, bob, jane = inbox_people.company, inbox_people.bob, inbox_people.jane
    with pytest.raises(DomainError, match=match) as error:
        send_reply(conversation=_conversation_for(company, jane), author=bob, body=body)
    assert error.value.field == "body"
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0


def test_send_reply_to_an_opted_out_customer_or_without_a_number(make, inbox_people):
    company, bob, jane = inbox_people.company, inbox_people.bob, inbox_people.jane
    db.session.add(OptOut(company_id=company.id, phone=JANE, keyword="STOP"))
    with pytest.raises(TextingUnavailable, match="opted out"):
        send_reply(conversation=_conversation_for(company, jane), author=bob, body="Hi")
    bare = make.company("No Number Co")
    customer = make.customer(bare, phone="+15125550155")
    with pytest.raises(TextingUnavailable, match="no custom SMS number"):
        send_reply(conversation=_conversation_for(bare, customer), author=bare.owner, body="Hi")


def test_send_reply_refuses_another_company(make, inbox_people):
    company, jane = inbox_people.company, inbox_people.jane
    other = make.company()
    with pytest.raises(NotAllowed):
        send_reply(conversation=_conversation_for(company, jane), author=other.owner, body="x")


def test_mark_read_reads_inbound_and_the_users_copies(inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    first = inbound(company, JANE, "one")
    apply_routing(message=first)
    apply_routing(message=inbound(company, JANE, "two"))
    apply_routing(message=inbound(company, KIM, "other conversation"))
    assert mark_read(conversation=first.conversation, user=bob) == 2
    assert mark_read(conversation=first.conversation, user=bob) == 0
    rows = {r.phone: r.unread for r in list_conversations(company=company)}
    assert rows == {JANE: 0, KIM: 1}
    unread_copies = db.session.scalars(
        sa.select(MessageRecipient).where(MessageRecipient.read_at.is_(None))
    ).all()
    assert [c.message.body for c in unread_copies] == ["other conversation"]


def test_reassign_routes_waiting_texts_and_future_ones_and_leaves_a_trace(
    make, inbound, inbox_people
):
    company, bob = inbox_people.company, inbox_people.bob
    sam = make.user(company, Role.OFFICE, name="Sam Office")
    sam.mobile_phone = "+15125550188"
    sam.forward_texts = True
    waiting = inbound(company, JANE, "anyone there?")
    apply_routing(message=waiting)
    conversation = waiting.conversation
    reassign(conversation=conversation, to_user=sam, actor=bob)
    assert conversation.assigned_user_id == sam.id
    assert {r.user_id for r in waiting.recipients} == {bob.id, sam.id}
    forward = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.FORWARD)).one()
    assert forward.to_phone == "+15125550188"
    notice = thread_messages(conversation=conversation)[-1]
    assert notice.kind == MessageKind.NOTICE
    assert notice.body == "Bob Office assigned this conversation to Sam Office."
    assert notice.read_at is not None  # the office's own action is not "unread"

    decision = apply_routing(message=inbound(company, JANE, "next text"))
    assert decision.rule == Rule.ASSIGNED
    assert decision.recipient_ids == (sam.id,)

    reassign(conversation=conversation, to_user=None, actor=bob)
    assert conversation.assigned_user_id is None
    assert apply_routing(message=inbound(company, JANE, "again")).recipient_ids == (bob.id,)


def test_reassign_rules(make, inbox_people):
    company, bob, maria, jane = (
        inbox_people.company,
        inbox_people.bob,
        inbox_people.maria,
        inbox_people.jane,
    )
    conversation = _conversation_for(company, jane)
    other = make.company()
    with pytest.raises(NotAllowed):
        reassign(conversation=conversation, to_user=bob, actor=maria)  # techs can't
    with pytest.raises(DomainError):
        reassign(conversation=conversation, to_user=other.owner, actor=bob)
    maria.active = False
    with pytest.raises(DomainError):
        reassign(conversation=conversation, to_user=maria, actor=bob)
    reassign(conversation=conversation, to_user=None, actor=bob)  # no change, no notice
    assert thread_messages(conversation=conversation) == []


def test_create_customer_from_an_unknown_number(inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, "+15125550111", "hi, need a quote")
    conversation = message.conversation
    assert conversation.is_unknown_number
    with pytest.raises(DomainError, match="name"):
        create_customer_from_conversation(conversation=conversation, name=" ", actor=bob)
    customer = create_customer_from_conversation(
        conversation=conversation, name="Lee Walker", email="lee@example.test", actor=bob
    )
    assert customer.mobile_phone == "+15125550111"
    assert customer.company_id == company.id
    assert not conversation.is_unknown_number
    assert conversation.customer_id == customer.id
    with pytest.raises(DomainError, match="already a customer"):
        create_customer_from_conversation(conversation=conversation, name="Again", actor=bob)


def test_create_customer_links_one_added_meanwhile(make, inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, "+15125550111", "hi")
    added = make.customer(company, name="Lee Walker", phone="+15125550111")
    customer = create_customer_from_conversation(
        conversation=message.conversation, name="Lee W", actor=bob
    )
    assert customer.id == added.id
    assert (
        db.session.scalar(sa.select(sa.func.count(Customer.id)).filter_by(company_id=company.id))
        == 3
    )


@pytest.mark.parametrize(
    ("status", "code", "label", "ticks", "problem"),
    [
        (MessageStatus.PENDING, None, "Waiting to send", "…", None),
        (MessageStatus.QUEUED, None, "Sent to carrier", "✓", None),
        (MessageStatus.SENT, None, "Sent", "✓", None),
        (MessageStatus.DELIVERED, None, "Delivered", "✓✓", None),
        (MessageStatus.FAILED, 21610, "Failed", "!", "replied STOP"),
        (MessageStatus.UNDELIVERED, 30006, "Not delivered", "!", "landline"),
        (MessageStatus.UNDELIVERED, 39999, "Not delivered", "!", "error 39999"),
    ],
)
def test_delivery_state_in_plain_words(status, code, label, ticks, problem):
    state = delivery_state(Message(status=status, error_code=code, attempts=0))
    assert (state.label, state.ticks) == (label, ticks)
    if problem is None:
        assert state.problem is None
    else:
        assert problem in state.problem


# Escalation ---------------------------------------------------------------------------


def test_escalation_adds_the_office_chain_once(make, inbound, inbox_people):
    company, bob, maria = inbox_people.company, inbox_people.bob, inbox_people.maria
    set_escalation_minutes(company=company, minutes=10, actor=company.owner)
    _job_on_my_way(make, inbox_people)
    now = utcnow()
    old = inbound(company, JANE, "are you close?", created_at=now - timedelta(minutes=11))
    fresh = inbound(company, JANE, "hello?", created_at=now - timedelta(minutes=2))
    apply_routing(message=old)
    apply_routing(message=fresh)
    assert escalate_unread(now=now) == 1
    assert escalate_unread(now=now) == 0
    assert {r.user_id for r in old.recipients} == {maria.id, bob.id}
    assert "Unread after 10 min: also to Bob Office" in old.routing_reason
    assert {r.user_id for r in fresh.recipients} == {maria.id}
    # Later, the fresh one is due too.
    assert escalate_unread(now=now + timedelta(minutes=9)) == 1


def test_escalation_skips_read_texts_office_routed_texts_and_companies_without_it(
    make, inbound, inbox_people
):
    company = inbox_people.company
    job = _job_on_my_way(make, inbox_people)
    now = utcnow()
    routed_to_tech = inbound(company, JANE, "x", created_at=now - timedelta(hours=1))
    apply_routing(message=routed_to_tech)
    assert escalate_unread(now=now) == 0  # escalation is off by default

    set_escalation_minutes(company=company, minutes=5, actor=company.owner)
    routed_to_tech.recipients[0].read_at = now  # Maria read it on her phone
    to_poc = inbound(company, KIM, "y", created_at=now - timedelta(hours=1))
    apply_routing(message=to_poc)
    assert escalate_unread(now=now) == 0
    assert job.status == JobStatus.ON_MY_WAY


def test_escalation_minutes_rules(make, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    with pytest.raises(NotAllowed):
        set_escalation_minutes(company=company, minutes=5, actor=bob)
    for bad in (0, -1, 24 * 60 + 1):
        with pytest.raises(DomainError):
            set_escalation_minutes(company=company, minutes=bad, actor=company.owner)
    set_escalation_minutes(company=company, minutes=None, actor=company.owner)
    assert company.escalation_minutes is None


# Helpers ------------------------------------------------------------------------------


def _conversation(company, phone) -> Conversation:
    return db.session.scalars(
        sa.select(Conversation).filter_by(company_id=company.id, phone=phone)
    ).one()


def _conversation_for(company, customer) -> Conversation:
    from app.services.conversations import conversation_for

    return conversation_for(company=company, phone=customer.mobile_phone, customer=customer)


def _job_on_my_way(make, inbox_people):
    company, maria, jane = inbox_people.company, inbox_people.maria, inbox_people.jane
    job = make.job(company, customer=jane, techs=[maria])
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=maria)
    return job


def test_the_worker_escalates_once_a_minute_per_process(make, inbound, inbox_people):
    from app.worker.periodic import Schedule

    schedule = Schedule()
    company, bob, maria = inbox_people.company, inbox_people.bob, inbox_people.maria
    set_escalation_minutes(company=company, minutes=10, actor=company.owner)
    _job_on_my_way(make, inbox_people)
    now = utcnow()
    apply_routing(message=inbound(company, JANE, "x", created_at=now - timedelta(minutes=11)))
    later = inbound(company, JANE, "y", created_at=now - timedelta(minutes=9, seconds=30))
    apply_routing(message=later)
    assert schedule.run_due(now=now)["escalation"] == 1
    # 40 s later the second text is due, but the worker looked less than a minute ago.
    assert schedule.run_due(now=now + timedelta(seconds=40)).get("escalation", 0) == 0
    assert schedule.run_due(now=now + timedelta(seconds=61))["escalation"] == 1
    assert {r.user_id for r in later.recipients} == {maria.id, bob.id}

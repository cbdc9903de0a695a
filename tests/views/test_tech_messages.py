"""The technician's messages (/tech/messages): each routing outcome's recipient reads and
answers the thread through the inbox's services; nobody else of the company sees it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import JobStatus, Message, MessageKind, MessageRecipient, Role
from app.services.inbox import reassign
from app.services.job_status import job_set_status
from app.services.routing import apply_routing
from app.services.thread_links import thread_url_for
from tests.support import HX

JANE = "+15125550142"


@pytest.fixture
def crew(make):
    company = make.company("Acme Plumbing")
    make.number(company, e164="+15126660001")
    bob = make.user(company, Role.OFFICE, name="Bob Office")
    maria = make.user(company, Role.TECH, name="Maria Lopez")
    otto = make.user(company, Role.TECH, name="Otto Other")
    jane = make.customer(company, name="Jane Doe", phone=JANE)
    company.poc_user_id = bob.id
    db.session.commit()
    return SimpleNamespace(company=company, bob=bob, maria=maria, otto=otto, jane=jane, make=make)


def _html(response) -> str:
    return response.get_data(as_text=True)


def _in_progress(crew):
    job = crew.make.job(crew.company, customer=crew.jane, techs=[crew.maria])
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=crew.maria, eta_minutes=15)
    return job


def _poc_is_maria(crew):
    crew.company.poc_user_id = crew.maria.id


def _assigned_to_maria(crew):
    # Hand assignment happens on a conversation: it exists once Jane has texted before.
    first = crew.inbound(crew.company, JANE, "an earlier question")
    apply_routing(message=first)
    reassign(conversation=first.conversation, to_user=crew.maria, actor=crew.bob)


ROUTES = {
    "in-progress tech": ("maria", _in_progress),
    "tech as Point of Contact": ("maria", _poc_is_maria),
    "hand-assigned tech": ("maria", _assigned_to_maria),
    "office user (Point of Contact)": ("bob", lambda crew: None),
}


@pytest.mark.parametrize("outcome", list(ROUTES))
def test_each_routing_outcome_reader_opens_the_thread_and_replies_and_another_tech_gets_404(
    client, log_in, inbound, crew, outcome
):
    reader_name, setup = ROUTES[outcome]
    crew.inbound = inbound
    setup(crew)
    message = inbound(crew.company, JANE, "Is the gate code still 4321?")
    decision = apply_routing(message=message)
    db.session.commit()
    reader = getattr(crew, reader_name)
    assert decision.recipient_ids == (reader.id,)
    conversation = message.conversation

    url = thread_url_for(user=reader, conversation=conversation, external=False)
    if reader.is_tech:
        assert url == f"/tech/messages/{conversation.id}"
    else:
        assert url == f"/inbox/{conversation.id}"
    log_in(client, reader)
    if reader.is_tech:
        listing = _html(client.get("/tech/messages"))
        assert "Jane Doe" in listing and "Is the gate code still 4321?" in listing
    page = client.get(url)
    assert page.status_code == 200
    html = _html(page)
    assert "Is the gate code still 4321?" in html
    assert decision.reason.split(" -> ")[0].replace("'", "&#39;") in html  # the routing reason
    reply_url = url + "/reply"
    sent = client.post(reply_url, data={"body": "Yes, 4321.", "key": "reply-key-001"})
    assert sent.status_code == 302
    replies = list(db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.MANUAL)))
    assert [(m.body.split(" Reply STOP")[0], m.author_id, m.conversation_id) for m in replies] == [
        ("Yes, 4321.", reader.id, conversation.id)
    ]
    mine = db.session.scalar(
        sa.select(MessageRecipient).filter_by(message_id=message.id, user_id=reader.id)
    )
    assert mine.read_at is not None

    # Another tech of the same company: not theirs, so it does not exist for them.
    client.post("/logout")
    log_in(client, crew.otto)
    for response in (
        client.get(f"/tech/messages/{conversation.id}"),
        client.post(
            f"/tech/messages/{conversation.id}/reply", data={"body": "x", "key": "reply-key-002"}
        ),
    ):
        assert response.status_code == 404
        assert "gate code" not in _html(response)
    assert "Jane Doe" not in _html(client.get("/tech/messages"))


def test_a_reply_box_sent_twice_is_one_text_and_htmx_gets_the_box_and_the_thread(
    client, log_in, inbound, crew
):
    _poc_is_maria(crew)
    message = inbound(crew.company, JANE, "Hello?")
    apply_routing(message=message)
    db.session.commit()
    log_in(client, crew.maria)
    url = f"/tech/messages/{message.conversation_id}/reply"
    data = {"body": "On it", "key": "same-box-key-1"}
    first = client.post(url, data=data, headers=HX)
    second = client.post(url, data=data, headers=HX)
    assert first.status_code == second.status_code == 200
    assert 'id="thread-messages"' in _html(first) and 'hx-swap-oob="true"' in _html(first)
    assert (
        db.session.scalar(sa.select(sa.func.count(Message.id)).filter_by(kind=MessageKind.MANUAL))
        == 1
    )


def test_an_empty_reply_is_a_field_error_and_loses_nothing(client, log_in, inbound, crew):
    _poc_is_maria(crew)
    message = inbound(crew.company, JANE, "Hello?")
    apply_routing(message=message)
    db.session.commit()
    log_in(client, crew.maria)
    response = client.post(
        f"/tech/messages/{message.conversation_id}/reply",
        data={"body": "  ", "key": "box-key-0001"},
    )
    assert response.status_code == 422
    assert "Type a reply first." in _html(response)


def test_another_companys_conversation_is_404(client, log_in, inbound, crew, make):
    other = make.company("Other Co")
    make.number(other)
    message = inbound(other, JANE, "private to Other Co")
    apply_routing(message=message)
    db.session.commit()
    log_in(client, crew.maria)
    response = client.get(f"/tech/messages/{message.conversation_id}")
    assert response.status_code == 404
    assert "private to Other Co" not in _html(response)


def test_guests_go_to_login_and_come_back_to_the_thread(client, log_in, inbound, crew):
    _poc_is_maria(crew)
    message = inbound(crew.company, JANE, "Hello?")
    apply_routing(message=message)
    db.session.commit()
    url = f"/tech/messages/{message.conversation_id}"
    response = client.get(url)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    login_page = client.get(response.headers["Location"])
    assert login_page.status_code == 200

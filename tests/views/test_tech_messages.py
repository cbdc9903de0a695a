"""The technician's messages (/tech/messages): each routing outcome's recipient reads and
answers the thread through the inbox's services; nobody else of the company sees it."""

from __future__ import annotations

import re
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import JobStatus, Message, MessageKind, MessageRecipient, Role
from app.services.inbox import mark_read, reassign
from app.services.job_status import job_set_status
from app.services.routing import apply_routing
from app.services.thread_links import thread_link_token, thread_url_for
from tests.fixtures.factories import PASSWORD
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


# Forwarding on the user's own profile, and where its link leads ----------------------


def test_a_tech_turns_forwarding_on_from_their_profile(client, log_in, crew):
    log_in(client, crew.maria)
    page = _html(client.get("/me"))
    assert "Texts to your phone" in page and "Add your mobile number above first" in page
    refused = client.post("/me/forwarding", data={"forward_texts": "y"})
    assert refused.status_code == 422
    assert "has no mobile number" in _html(refused)
    client.post("/me", data={"name": "Maria Lopez", "mobile_phone": "(512) 555-0177"})
    on = client.post("/me/forwarding", data={"forward_texts": "y"})
    assert on.status_code == 302
    db.session.expire_all()
    assert db.session.get(type(crew.maria), crew.maria.id).forward_texts is True
    assert "Copies of your texts to your mobile: on." in _html(client.get("/me"))
    client.post("/me/forwarding", data={})
    db.session.expire_all()
    assert db.session.get(type(crew.maria), crew.maria.id).forward_texts is False


@pytest.mark.parametrize("outcome", ["tech as Point of Contact", "office user (Point of Contact)"])
def test_the_forwards_link_opens_the_thread_after_login(client, inbound, crew, outcome):
    reader_name, setup = ROUTES[outcome]
    crew.inbound = inbound
    setup(crew)
    reader = getattr(crew, reader_name)
    reader.mobile_phone = "+15125550177"
    reader.forward_texts = True
    message = inbound(crew.company, JANE, "Can you come earlier?")
    apply_routing(message=message)
    db.session.commit()
    forward = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.FORWARD)).one()
    assert forward.to_phone == "+15125550177"
    head, tail = forward.body.split("\n")
    assert head == "Jane Doe: Can you come earlier?"
    assert tail.startswith("Reply here, not to this text: http")
    link = urlsplit(tail.rsplit(" ", 1)[1]).path
    assert len(link) < 30  # fits in a text

    # Logged out (the usual case on a phone): login, and `next` brings them to the thread.
    to_login = client.get(link)
    assert to_login.status_code == 302
    login_url = to_login.headers["Location"]
    assert login_url.startswith("/login?next=")
    logged_in = client.post(login_url, data={"email": reader.email, "password": PASSWORD})
    assert logged_in.status_code == 302 and logged_in.headers["Location"] == link
    thread = client.get(link)
    expected = thread_url_for(user=reader, conversation=message.conversation, external=False)
    assert thread.headers["Location"] == expected
    page = client.get(expected)
    assert page.status_code == 200 and "Can you come earlier?" in _html(page)


def test_a_tampered_link_is_404(client, log_in, inbound, crew):
    _poc_is_maria(crew)
    message = inbound(crew.company, JANE, "Hello?")
    apply_routing(message=message)
    db.session.commit()
    log_in(client, crew.maria)
    good = thread_link_token(user=crew.maria, conversation=message.conversation)
    cid, uid, mac = good.split("-", 2)
    assert client.get(f"/t/{good}").status_code == 302
    for bad in (f"{cid}-{uid}-{mac[:-1]}x", f"{int(cid) + 1}-{uid}-{mac}", "1-2", "x-y-z"):
        assert client.get(f"/t/{bad}").status_code == 404


def test_a_link_opened_by_another_tech_is_404_at_the_thread(client, log_in, inbound, crew):
    _poc_is_maria(crew)
    message = inbound(crew.company, JANE, "Hello?")
    apply_routing(message=message)
    db.session.commit()
    log_in(client, crew.otto)
    token = thread_link_token(user=crew.maria, conversation=message.conversation)
    response = client.get(f"/t/{token}", follow_redirects=True)
    assert response.status_code == 404 and "Hello?" not in _html(response)


def test_my_day_shows_the_unread_count_next_to_messages(client, log_in, inbound, crew):
    log_in(client, crew.maria)
    html = _html(client.get("/tech"))
    assert 'href="/tech/messages"' in html and "tech-badge" not in html
    _poc_is_maria(crew)
    for body in ("one", "two"):
        apply_routing(message=inbound(crew.company, JANE, body))
    db.session.commit()
    html = _html(client.get("/tech"))
    assert '<span class="tech-badge">2<span class="visually-hidden"> unread</span></span>' in html
    listing = _html(client.get("/tech/messages"))
    assert "2 new" in listing
    conversation = db.session.scalars(sa.select(Message.conversation_id).filter_by(body="one"))
    client.get(f"/tech/messages/{conversation.one()}")
    assert "tech-badge" not in _html(client.get("/tech"))


def test_the_day_poll_brings_the_messages_chip_when_a_text_is_routed_to_the_tech(
    client, log_in, inbound, crew
):
    # Maria is Point of Contact with no job on her list: only the chip can tell her.
    _poc_is_maria(crew)
    db.session.commit()
    log_in(client, crew.maria)
    page = _html(client.get("/tech"))
    url = re.search(r'<div id="job-list"\s+hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")
    poll = {**HX, "HX-Target": "job-list"}
    assert client.get(url, headers=poll).status_code == 204

    apply_routing(message=inbound(crew.company, JANE, "Is the gate code still 4321?"))
    db.session.commit()
    changed = _html(client.get(url, headers=poll))

    assert changed.lstrip().startswith('<div id="job-list"')
    chip = re.search(r'<a id="messages-chip"[^>]*>.*?</a>', changed, re.S).group(0)
    assert 'hx-swap-oob="true"' in chip
    assert '<span class="tech-badge">1<span class="visually-hidden"> unread</span></span>' in chip
    # The next poll carries the new version: quiet again until the count moves.
    url = re.search(r'<div id="job-list"\s+hx-get="([^"]+)"', changed).group(1)
    assert client.get(url.replace("&amp;", "&"), headers=poll).status_code == 204
    message_id = db.session.scalar(
        sa.select(Message.conversation_id).filter_by(body="Is the gate code still 4321?")
    )
    client.get(f"/tech/messages/{message_id}")
    read = _html(client.get(url.replace("&amp;", "&"), headers=poll))
    assert "tech-badge" not in read and 'id="messages-chip"' in read


def test_polls_answer_204_while_nothing_changed(client, log_in, inbound, crew):
    _poc_is_maria(crew)
    message = inbound(crew.company, JANE, "first")
    apply_routing(message=message)
    db.session.commit()
    log_in(client, crew.maria)
    poll = {**HX, "HX-Target": "thread-messages"}
    url = f"/tech/messages/{message.conversation_id}"
    page = _html(client.get(url))
    version = page.split(f"{url}?v=")[1].split('"')[0]
    assert client.get(f"{url}?v={version}", headers=poll).status_code == 204
    apply_routing(message=inbound(crew.company, JANE, "second"))
    db.session.commit()
    fresh = client.get(f"{url}?v={version}", headers=poll)
    assert fresh.status_code == 200 and "second" in _html(fresh)
    listing_poll = {**HX, "HX-Target": "message-list"}
    listing = _html(client.get("/tech/messages"))
    list_v = listing.split("/tech/messages?v=")[1].split('"')[0]
    assert client.get(f"/tech/messages?v={list_v}", headers=listing_poll).status_code == 204


def test_an_htmx_request_for_a_thread_that_is_not_yours_says_so(client, log_in, inbound, crew):
    message = inbound(crew.company, JANE, "for Bob")
    apply_routing(message=message)
    db.session.commit()
    log_in(client, crew.maria)
    response = client.get(f"/tech/messages/{message.conversation_id}", headers=HX)
    assert response.status_code == 404
    assert "no longer routed to you" in _html(response)
    assert response.headers["HX-Retarget"] == "#tech-problem"


def test_a_tech_sees_the_texts_routed_to_them_never_those_that_went_to_the_office(
    client, log_in, inbound, crew
):
    earlier = inbound(crew.company, JANE, "My alarm code is 9911")
    apply_routing(message=earlier)  # to Bob, the Point of Contact, who reads it
    mark_read(conversation=earlier.conversation, user=crew.bob)
    reassign(conversation=earlier.conversation, to_user=crew.maria, actor=crew.bob)
    later = inbound(crew.company, JANE, "Is 3pm still ok?")
    assert apply_routing(message=later).recipient_ids == (crew.maria.id,)
    db.session.commit()
    log_in(client, crew.maria)
    html = _html(client.get(f"/tech/messages/{later.conversation_id}"))
    assert "Is 3pm still ok?" in html
    assert "Bob Office assigned this conversation to Maria Lopez." in html
    # The office's text stays the office's (issue 7), as on the job page. (The whole text:
    # "9911" alone once matched the microseconds of a <time datetime=...>.)
    assert "My alarm code is 9911" not in html
    client.post("/logout")
    log_in(client, crew.bob)
    assert "My alarm code is 9911" in _html(client.get(f"/inbox/{later.conversation_id}"))


def test_a_technician_can_be_chosen_as_point_of_contact_and_reads_the_texts(
    client, log_in, inbound, crew
):
    log_in(client, crew.company.owner)
    page = _html(client.get("/settings/point-of-contact"))
    assert f'<option value="{crew.maria.id}">Maria Lopez (Technician)</option>' in page
    saved = client.post(
        "/settings/point-of-contact",
        data={"poc_user_id": str(crew.maria.id), "escalation_minutes": ""},
    )
    assert saved.status_code == 302
    message = inbound(crew.company, JANE, "Do you do water heaters?")
    assert apply_routing(message=message).recipient_ids == (crew.maria.id,)
    db.session.commit()
    client.post("/logout")
    log_in(client, crew.maria)
    assert "Do you do water heaters?" in _html(client.get("/tech/messages"))


def test_the_thread_and_the_list_cost_the_same_queries_for_2_or_12_texts(
    client, log_in, inbound, crew, count_queries
):
    _poc_is_maria(crew)
    kim = crew.make.customer(crew.company, name="Kim Park", phone="+15125550143")
    db.session.commit()
    log_in(client, crew.maria)
    counts = []
    for phone, texts in ((JANE, 2), (kim.mobile_phone, 12)):
        for n in range(texts):
            apply_routing(message=inbound(crew.company, phone, f"text {n}"))
        db.session.commit()
        conversation_id = db.session.scalars(
            sa.select(Message.conversation_id).filter_by(from_phone=phone)
        ).first()
        with count_queries() as statements:
            assert client.get(f"/tech/messages/{conversation_id}").status_code == 200
            assert client.get("/tech/messages").status_code == 200
        counts.append(len(statements))
    assert counts[0] == counts[1], counts

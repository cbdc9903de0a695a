"""The inbox pages and the Point of Contact setting, through the test client."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Company,
    Conversation,
    Customer,
    JobStatus,
    Message,
    MessageKind,
    MessageStatus,
    OptOut,
    Role,
    User,
)
from app.services.job_status import job_set_status
from app.services.routing import apply_routing
from tests.fixtures.factories import PASSWORD
from tests.support import HX

JANE = "+15125550142"


@pytest.fixture
def inbox_people(make):
    company = make.company("Acme Plumbing")
    company.owner.name = "Alice Smith"
    make.number(company, e164="+15126660001")
    bob = make.user(company, Role.OFFICE, name="Bob Office")
    maria = make.user(company, Role.TECH, name="Maria Lopez")
    jane = make.customer(company, name="Jane Doe", phone=JANE)
    db.session.commit()
    return SimpleNamespace(company=company, bob=bob, maria=maria, jane=jane, make=make)


def _conversation(company, phone=JANE) -> Conversation:
    return db.session.scalars(
        sa.select(Conversation).filter_by(company_id=company.id, phone=phone)
    ).one()


def _html(response) -> str:
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/inbox"),
        ("get", "/inbox/{cid}"),
        ("post", "/inbox/{cid}/reply"),
        ("post", "/inbox/{cid}/assign"),
        ("post", "/inbox/{cid}/customer"),
    ],
)
def test_techs_get_403_and_guests_go_to_login(client, log_in, inbound, inbox_people, method, path):
    company, maria = inbox_people.company, inbox_people.maria
    inbound(company, JANE)
    db.session.commit()
    url = path.format(cid=_conversation(company).id)
    guest = getattr(client, method)(url)
    assert guest.status_code == 302 and "/login" in guest.headers["Location"]
    log_in(client, maria)
    assert getattr(client, method)(url).status_code == 403


@pytest.mark.parametrize(
    "path",
    ["/inbox/{cid}", "/inbox/{cid}/reply", "/inbox/{cid}/assign", "/inbox/{cid}/customer"],
)
def test_another_companys_conversation_is_404(client, log_in, make, inbound, inbox_people, path):
    bob = inbox_people.bob
    other = make.company("Other Co")
    make.number(other)
    inbound(other, JANE, "private to Other Co")
    db.session.commit()
    log_in(client, bob)
    url = path.format(cid=_conversation(other).id)
    response = client.get(url) if path == "/inbox/{cid}" else client.post(url, data={"body": "x"})
    assert response.status_code == 404
    assert "private to Other Co" not in _html(response)


def test_point_of_contact_page_is_for_managers_only(client, log_in, inbox_people):
    bob = inbox_people.bob
    log_in(client, bob)
    assert client.get("/settings/point-of-contact").status_code == 403
    assert client.post(f"/settings/point-of-contact/forwarding/{bob.id}").status_code == 403


def test_inbox_lists_conversations_with_unread_badges_and_unknown_marker(
    client, log_in, inbound, inbox_people
):
    company, bob = inbox_people.company, inbox_people.bob
    apply_routing(message=inbound(company, JANE, "Is the plumber <b>coming</b>?"))
    apply_routing(message=inbound(company, JANE, "Hello??"))
    apply_routing(message=inbound(company, "+15125550111", "need a quote"))
    db.session.commit()
    log_in(client, bob)
    html = _html(client.get("/inbox"))
    assert "Jane Doe" in html
    assert 'aria-label="2 unread"' in html
    assert "(512) 555-0111" in html and "Unknown number" in html
    assert "Hello??" in html
    assert "<b>coming</b>" not in html  # user text is escaped
    # Polled every 5 s, only while the tab is visible (app.js; no eval under the CSP).
    assert 'hx-trigger="every 5s, inbox-list-changed from:body"' in html
    assert "data-poll-visible-only" in html


def test_list_previews_say_photo_you_and_notices(client, log_in, inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    apply_routing(message=inbound(company, "+15125550111", "", media_urls=["https://m.ex/1.jpg"]))
    apply_routing(message=inbound(company, JANE, "Is 3pm ok?"))
    db.session.commit()
    log_in(client, bob)
    client.post(f"/inbox/{_conversation(company).id}/reply", data={"body": "Yes, see you then"})

    def previews() -> list[str]:
        html = _html(client.get("/inbox"))
        found = re.findall(r'<span class="conv-preview">(.*?)</span>', html, re.S)
        return [" ".join(p.split()) for p in found]

    # The first text to Jane says how to opt out.
    assert previews() == ["You: Yes, see you then Reply STOP to opt out.", "Photo"]
    client.post(f"/inbox/{_conversation(company).id}/assign", data={"user_id": str(bob.id)})
    assert previews() == ["• Bob Office assigned this conversation to Bob Office.", "Photo"]


def test_opening_a_conversation_shows_the_thread_and_marks_it_read(
    client, log_in, inbound, inbox_people
):
    company, bob = inbox_people.company, inbox_people.bob
    job = _job_in_progress(inbox_people)
    message = inbound(company, JANE, "Gate code 1234", media_urls=["https://media.example/1.jpg"])
    apply_routing(message=message)
    db.session.commit()
    log_in(client, bob)
    html = _html(client.get(f"/inbox/{message.conversation_id}"))
    assert "Gate code 1234" in html
    assert f"Job #{job.number} is in progress: On My Way at" in html  # routing reason
    assert "-&gt; Maria Lopez" in html
    assert "· Not seen yet by Maria" in html  # the office opening it is not Maria seeing it
    # A picture is shown from our own copy (tests/views/test_message_media_views.py), never
    # from Twilio's URL (which needs the account's credentials); one never kept says so.
    assert "https://media.example/1.jpg" not in html
    assert "1 picture not kept" in html
    assert f"/jobs/{job.id}" in html
    assert 'data-segment-counter="#reply-count"' in html
    assert "segments.js" in html
    db.session.expire_all()
    assert db.session.get(Message, message.id).read_at is not None
    assert 'aria-label="1 unread"' not in html


def test_media_urls_that_are_not_http_are_not_rendered(client, log_in, inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, JANE, "see pic", media_urls=["javascript:alert(1)"])
    db.session.commit()
    log_in(client, bob)
    html = _html(client.get(f"/inbox/{message.conversation_id}"))
    assert "javascript:alert" not in html


def test_thread_shows_delivery_status_in_plain_words_and_notices(
    client, log_in, inbound, inbox_people
):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, JANE, "hi")
    conversation = message.conversation
    _outbound(company, conversation, "Delivered one", MessageStatus.DELIVERED)
    _outbound(company, conversation, "Failed one", MessageStatus.UNDELIVERED, error_code=30006)
    apply_routing(message=inbound(company, JANE, "Estimate #12 approved", kind=MessageKind.NOTICE))
    db.session.commit()
    log_in(client, bob)
    html = _html(client.get(f"/inbox/{conversation.id}"))
    assert "✓✓</span> Delivered" in html
    assert "Not delivered" in html
    assert "This is a landline or a number that can&#39;t receive texts." in html
    assert re.search(r'class="msg-event"[^>]*>\s*<span>Estimate #12 approved</span>', html)


def _committed_read_at(message_id: int):
    """read_at as another connection sees it: only what the request committed."""
    with db.engine.connect() as conn:
        return conn.scalar(sa.select(Message.read_at).where(Message.id == message_id))


def test_opening_a_thread_commits_the_read_marks(client, log_in, inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    first = inbound(company, JANE, "first")
    db.session.commit()
    log_in(client, bob)
    cid = first.conversation_id
    html = _html(client.get(f"/inbox/{cid}"))
    assert _committed_read_at(first.id) is not None
    thread_v = re.search(rf"/inbox/{cid}\?v=(\w+)", html).group(1)
    thread = {"HX-Request": "true", "HX-Target": "thread-messages"}
    # A poll that finds nothing new to show (204) still commits what it marked read.
    db.session.get(Message, first.id).read_at = None
    db.session.commit()
    assert client.get(f"/inbox/{cid}?v={thread_v}", headers=thread).status_code == 204
    assert _committed_read_at(first.id) is not None
    # And so does one that shows a new text.
    second = inbound(company, JANE, "second")
    db.session.commit()
    assert client.get(f"/inbox/{cid}?v={thread_v}", headers=thread).status_code == 200
    assert _committed_read_at(second.id) is not None


def test_polls_answer_204_while_nothing_changed(client, log_in, inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, JANE, "first")
    db.session.commit()
    log_in(client, bob)
    cid = message.conversation_id
    html = _html(client.get(f"/inbox/{cid}"))
    thread_v = re.search(rf"/inbox/{cid}\?v=(\w+)", html).group(1)
    list_url = re.search(r'id="conversation-list"[^>]*hx-get="([^"]+)"', html).group(1)
    list_url = list_url.replace("&amp;", "&")

    thread = {"HX-Request": "true", "HX-Target": "thread-messages"}
    listing = {"HX-Request": "true", "HX-Target": "conversation-list"}
    assert client.get(f"/inbox/{cid}?v={thread_v}", headers=thread).status_code == 204
    assert client.get(list_url, headers=listing).status_code == 204

    inbound(company, JANE, "second, while the page is open")
    db.session.commit()
    new_thread = client.get(f"/inbox/{cid}?v={thread_v}", headers=thread)
    assert new_thread.status_code == 200
    assert "second, while the page is open" in _html(new_thread)
    assert _html(new_thread).lstrip().startswith('<div id="thread-messages"')
    assert 'id="thread-status" class="thread-status" hx-swap-oob="true"' in _html(new_thread)
    # The list refreshes at once (its unread badge for this thread just cleared).
    assert new_thread.headers["HX-Trigger"] == "inbox-list-changed"
    assert "inbox-list-changed from:body" in html
    new_list = client.get(list_url, headers=listing)
    assert new_list.status_code == 200
    assert _html(new_list).lstrip().startswith('<div id="conversation-list"')


def test_reply_queues_a_text_and_returns_the_reset_box_with_the_thread(
    client, log_in, inbound, inbox_people
):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, JANE, "hello")
    db.session.commit()
    log_in(client, bob)
    cid = message.conversation_id
    response = client.post(
        f"/inbox/{cid}/reply",
        data={"body": "On our way <soon>", "key": "abc123"},
        headers={"HX-Request": "true", "HX-Target": "reply-box"},
    )
    assert response.status_code == 200
    html = _html(response)
    assert html.lstrip().startswith('<div id="reply-box"')
    assert 'hx-swap-oob="true"' in html
    assert response.headers["HX-Trigger"] == "inbox-list-changed"
    assert "On our way &lt;soon&gt;" in html
    # The box is cleared for the next reply and carries a new key.
    assert re.search(r'<textarea[^>]*id="reply-body"[^>]*></textarea>', html)
    assert 'name="key" value="abc123"' not in html
    again = client.post(
        f"/inbox/{cid}/reply",
        data={"body": "On our way <soon>", "key": "abc123"},
        headers=HX,
    )
    assert again.status_code == 200
    sent = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.MANUAL)).all()
    assert [(m.body, m.to_phone, m.from_phone, m.author_id) for m in sent] == [
        ("On our way <soon> Reply STOP to opt out.", JANE, "+15126660001", bob.id)
    ]


def test_reply_without_js_redirects_back_to_the_thread(client, log_in, inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, JANE, "hello")
    db.session.commit()
    log_in(client, bob)
    response = client.post(f"/inbox/{message.conversation_id}/reply", data={"body": "Hi"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/inbox/{message.conversation_id}")


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [("", 422, "Write a message before sending."), ("x" * 1601, 422, "under 1600")],
)
def test_bad_reply_is_a_form_error_that_keeps_the_text(
    client, log_in, inbound, inbox_people, body, status, error
):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, JANE, "hello")
    db.session.commit()
    log_in(client, bob)
    response = client.post(
        f"/inbox/{message.conversation_id}/reply",
        data={"body": body},
        headers=HX,
    )
    assert response.status_code == status
    assert error in _html(response)
    assert db.session.scalar(sa.select(Message).filter_by(kind=MessageKind.MANUAL)) is None


def test_opted_out_customer_has_no_reply_box_and_a_reply_is_refused(
    client, log_in, inbound, inbox_people
):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, JANE, "STOP")
    db.session.add(OptOut(company_id=company.id, phone=JANE, keyword="STOP"))
    db.session.commit()
    log_in(client, bob)
    html = _html(client.get(f"/inbox/{message.conversation_id}"))
    assert "replied STOP and has opted out" in html
    assert 'name="body"' not in html
    response = client.post(
        f"/inbox/{message.conversation_id}/reply",
        data={"body": "please?"},
        headers=HX,
    )
    assert response.status_code == 409
    assert "opted out" in _html(response)
    assert db.session.scalar(sa.select(Message).filter_by(kind=MessageKind.MANUAL)) is None


def test_reassign_changes_where_the_next_text_goes(client, log_in, inbound, inbox_people):
    company, bob, maria = inbox_people.company, inbox_people.bob, inbox_people.maria
    message = inbound(company, JANE, "hello")
    db.session.commit()
    log_in(client, bob)
    cid = message.conversation_id
    response = client.post(f"/inbox/{cid}/assign", data={"user_id": str(maria.id)}, headers=HX)
    assert response.status_code == 200
    html = _html(response)
    assert html.lstrip().startswith('<article id="conversation"')
    assert "Bob Office assigned this conversation to Maria Lopez." in html
    assert "goes to:</strong>\n    Maria Lopez" in html
    assert db.session.get(Conversation, cid).assigned_user_id == maria.id


def test_reassign_to_a_user_of_another_company_is_refused(
    client, log_in, make, inbound, inbox_people
):
    company, bob = inbox_people.company, inbox_people.bob
    stranger = make.user(make.company(), Role.OFFICE)
    message = inbound(company, JANE, "hello")
    db.session.commit()
    log_in(client, bob)
    response = client.post(
        f"/inbox/{message.conversation_id}/assign",
        data={"user_id": str(stranger.id)},
        headers=HX,
    )
    assert response.status_code == 400
    assert "Pick an active user of your company." in _html(response)
    assert db.session.get(Conversation, message.conversation_id).assigned_user_id is None


def test_unknown_number_becomes_a_customer(client, log_in, inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, "+15125550111", "quote please")
    db.session.commit()
    log_in(client, bob)
    cid = message.conversation_id
    assert "Add (512) 555-0111 as a customer" in _html(client.get(f"/inbox/{cid}"))
    bad = client.post(f"/inbox/{cid}/customer", data={"name": ""}, headers=HX)
    assert bad.status_code == 422
    assert "Enter the customer&#39;s name." in _html(bad)
    ok = client.post(f"/inbox/{cid}/customer", data={"name": "Lee Walker"}, headers=HX)
    assert ok.status_code == 200
    customer = db.session.scalar(sa.select(Customer).filter_by(mobile_phone="+15125550111"))
    assert customer.name == "Lee Walker" and customer.company_id == company.id
    assert db.session.get(Conversation, cid).customer_id == customer.id
    assert "Lee Walker" in _html(ok)


def test_search_filters_the_list(client, log_in, inbound, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    inbound(company, JANE, "from jane")
    inbound(company, "+15125550111", "from unknown")
    db.session.commit()
    log_in(client, bob)
    html = _html(client.get("/inbox?q=jane"))
    assert "from jane" in html and "from unknown" not in html
    fragment = client.get(
        "/inbox?q=0111", headers={"HX-Request": "true", "HX-Target": "conversation-list"}
    )
    assert "from unknown" in _html(fragment) and "from jane" not in _html(fragment)
    assert "No conversations match “zzz”." in _html(client.get("/inbox?q=zzz"))


def test_my_forwarding_toggle(client, log_in, inbox_people):
    bob = inbox_people.bob
    log_in(client, bob)
    assert "Add a mobile number to your profile" in _html(client.get("/inbox"))
    refused = client.post("/inbox/forwarding", data={"enabled": "1"}, headers=HX)
    assert refused.status_code == 422
    assert "has no mobile number" in _html(refused)
    bob.mobile_phone = "+15125550177"
    db.session.commit()
    on = client.post("/inbox/forwarding", data={"enabled": "1"}, headers=HX)
    assert on.status_code == 200
    assert "<strong>On</strong>" in _html(on)
    db.session.expire_all()
    assert db.session.get(User, bob.id).forward_texts is True


def test_point_of_contact_page_says_who_gets_texts_today(client, log_in, inbox_people):
    company, bob = inbox_people.company, inbox_people.bob
    log_in(client, company.owner)
    html = _html(client.get("/settings/point-of-contact"))
    assert "No Point of Contact: texts go to Alice Smith, the account owner." in html

    response = client.post(
        "/settings/point-of-contact", data={"poc_user_id": str(bob.id), "escalation_minutes": "15"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Company, company.id)
    assert (saved.poc_user_id, saved.escalation_minutes) == (bob.id, 15)
    assert "Texts go to Bob Office, the Point of Contact." in _html(
        client.get("/settings/point-of-contact")
    )

    response = client.post(
        "/settings/point-of-contact", data={"poc_user_id": "", "escalation_minutes": ""}
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Company, company.id)
    assert (saved.poc_user_id, saved.escalation_minutes) == (None, None)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"poc_user_id": "999999", "escalation_minutes": ""}, "Not a valid choice"),
        ({"poc_user_id": "", "escalation_minutes": "0"}, "Enter 1 to 1440 minutes."),
        ({"poc_user_id": "", "escalation_minutes": "soon"}, "Not a valid integer value."),
    ],
)
def test_point_of_contact_bad_input(client, log_in, inbox_people, data, error):
    company = inbox_people.company
    log_in(client, company.owner)
    response = client.post("/settings/point-of-contact", data=data)
    assert response.status_code == 422
    assert error in _html(response)


def test_managers_set_forwarding_per_user(client, log_in, inbox_people):
    company, maria = inbox_people.company, inbox_people.maria
    maria.mobile_phone = "+15125550177"
    db.session.commit()
    log_in(client, company.owner)
    html = _html(client.get("/settings/point-of-contact"))
    assert "Turn on forwarding for Maria Lopez" in html
    assert "Needs a mobile number" in html  # Bob has none
    response = client.post(
        f"/settings/point-of-contact/forwarding/{maria.id}", data={"enabled": "1"}
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(User, maria.id).forward_texts is True


def _job_in_progress(inbox_people):
    job = inbox_people.make.job(
        inbox_people.company, customer=inbox_people.jane, techs=[inbox_people.maria]
    )
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=inbox_people.maria)
    db.session.commit()
    return job


def _outbound(company, conversation, body, status, error_code=None):
    message = Message(
        company_id=company.id,
        conversation_id=conversation.id,
        direction="out",
        kind=MessageKind.MANUAL,
        from_phone="+15126660001",
        to_phone=conversation.phone,
        body=body,
        status=status,
        error_code=error_code,
    )
    db.session.add(message)
    db.session.flush()
    return message


def test_finishing_the_job_refreshes_where_the_next_text_goes_without_a_new_message(
    client, log_in, inbound, inbox_people
):
    company, bob, maria = inbox_people.company, inbox_people.bob, inbox_people.maria
    company.poc_user_id = bob.id
    job = _job_in_progress(inbox_people)
    message = inbound(company, JANE, "hello")
    apply_routing(message=message)
    db.session.commit()
    log_in(client, bob)
    cid = message.conversation_id
    html = _html(client.get(f"/inbox/{cid}"))
    assert "goes to:</strong>\n    Maria Lopez" in html
    thread_v = re.search(rf"/inbox/{cid}\?v=(\w+)", html).group(1)
    poll = {"HX-Request": "true", "HX-Target": "thread-messages"}
    assert client.get(f"/inbox/{cid}?v={thread_v}", headers=poll).status_code == 204

    job_set_status(job=job, status=JobStatus.FINISHED, actor=maria)
    # Without the automated "job finished" text, only the status changed.
    db.session.execute(sa.delete(Message).where(Message.kind == MessageKind.JOB_FINISHED))
    db.session.commit()
    refreshed = client.get(f"/inbox/{cid}?v={thread_v}", headers=poll)
    assert refreshed.status_code == 200
    assert "goes to:</strong>\n    Bob Office" in _html(refreshed)


def test_a_tech_can_switch_their_own_forwarding(client, log_in, inbox_people):
    maria = inbox_people.maria
    maria.mobile_phone = "+15125550177"
    db.session.commit()
    log_in(client, maria)
    response = client.post("/inbox/forwarding", data={"enabled": "1"}, headers={"Referer": "/tech"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/tech")
    db.session.expire_all()
    assert db.session.get(User, maria.id).forward_texts is True


def test_forwarding_never_redirects_off_site(client, log_in, inbox_people):
    log_in(client, inbox_people.bob)
    response = client.post(
        "/inbox/forwarding", data={"enabled": "0"}, headers={"Referer": "https://evil.example/x"}
    )
    assert response.headers["Location"].endswith("/inbox")


def test_inbox_forms_carry_the_csrf_token(client, inbound, inbox_people, csrf_enabled):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, JANE, "hello")
    db.session.commit()
    login_page = _html(client.get("/login"))
    token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', login_page).group(1)
    client.post("/login", data={"email": bob.email, "password": PASSWORD, "csrf_token": token})
    page = _html(client.get(f"/inbox/{message.conversation_id}"))
    reply_form = page[page.index('id="reply-box"') :]
    token = re.search(r'name="csrf_token" value="([^"]+)"', reply_form).group(1)
    url = f"/inbox/{message.conversation_id}/reply"
    assert client.post(url, data={"body": "no token"}).status_code == 400
    ok = client.post(url, data={"body": "with token", "csrf_token": token})
    assert ok.status_code == 302


def test_bad_reply_without_js_shows_the_whole_page_with_the_error(
    client, log_in, inbound, inbox_people
):
    company, bob = inbox_people.company, inbox_people.bob
    message = inbound(company, JANE, "hello")
    db.session.commit()
    log_in(client, bob)
    response = client.post(f"/inbox/{message.conversation_id}/reply", data={"body": "   "})
    assert response.status_code == 422
    html = _html(response)
    assert "<h1>Inbox</h1>" in html and 'id="conversation-list"' in html
    assert "Write a message before sending." in html


def test_the_main_navigation_lights_up_inbox_and_settings(client, log_in, inbound, inbox_people):
    company = inbox_people.company
    message = inbound(company, JANE, "hello")
    db.session.commit()
    log_in(client, company.owner)
    thread = _html(client.get(f"/inbox/{message.conversation_id}"))
    assert re.search(r'href="/inbox" aria-current="page">Inbox<', thread)
    poc = _html(client.get("/settings/point-of-contact"))
    assert re.search(r'href="/settings" aria-current="page">Settings<', poc)


def test_routed_texts_say_who_has_seen_them(client, log_in, inbound, inbox_people):
    from app.models import MessageRecipient, utcnow

    company, bob, maria = inbox_people.company, inbox_people.bob, inbox_people.maria
    _job_in_progress(inbox_people)
    message = inbound(company, JANE, "At the door")
    apply_routing(message=message)
    db.session.commit()
    log_in(client, bob)
    cid = message.conversation_id
    html = _html(client.get(f"/inbox/{cid}"))
    thread_v = re.search(rf"/inbox/{cid}\?v=(\w+)", html).group(1)
    copy = db.session.scalars(sa.select(MessageRecipient).filter_by(user_id=maria.id)).one()
    copy.read_at = utcnow()  # Maria opened it on her phone
    db.session.commit()
    poll = client.get(
        f"/inbox/{cid}?v={thread_v}", headers={"HX-Request": "true", "HX-Target": "thread-messages"}
    )
    assert poll.status_code == 200
    assert "· Seen by Maria" in _html(poll)

"""The technician's phone pages (/tech): who sees what, the status buttons, the reply box,
and how failures answer an htmx request."""

from __future__ import annotations

import gzip
import re
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import (
    Direction,
    Job,
    JobStatus,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    OptOut,
    Role,
    utcnow,
)
from app.services.job_events import job_status_changed
from app.services.job_status import job_set_status
from app.services.routing import apply_routing
from app.services.tech_day import conversation_version
from tests.support import HX

STATIC = Path(__file__).resolve().parents[2] / "app" / "static"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def tech_with_job(make):
    """A company with a custom number, two techs and a job for the first one today."""
    company = make.company(name="Drip Busters")
    make.number(company)
    tech = make.user(company, role=Role.TECH, name="Tina Tech")
    other_tech = make.user(company, role=Role.TECH, name="Otto Other")
    customer = make.customer(company, name="Jane Homeowner", address="12 Elm St, Austin, TX")
    job = make.job(company, customer=customer, techs=[tech], notes="Dog in the yard")
    return company, tech, other_tech, job


@pytest.fixture
def transitions():
    """Every status change that happened (the service announces each real transition
    once; the texts still go out)."""
    calls = []

    def spy(transition, *, actor):
        calls.append((transition.job.id, transition.old_status, transition.new_status))

    with job_status_changed.connected_to(spy):
        yield calls


def _replies() -> list[Message]:
    """Texts typed by people (the automated texts of the notifications are not counted)."""
    return list(db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.MANUAL)))


def _html(response) -> str:
    return response.get_data(as_text=True)


# --- who sees what -------------------------------------------------------------------


def test_a_tech_lands_on_the_tech_page_after_login(client, tech_with_job, log_in):
    _, tech, _, _ = tech_with_job
    response = log_in(client, tech)
    assert response.headers["Location"].endswith("/tech")


def test_the_day_lists_only_my_jobs_today_then_upcoming(client, make, tech_with_job, log_in):
    company, tech, other_tech, _job = tech_with_job
    tomorrow = make.job(
        company,
        customer=make.customer(company, name="Tom Tomorrow"),
        techs=[tech],
        start=(utcnow() + timedelta(days=2)).replace(microsecond=0),
    )
    make.job(company, customer=make.customer(company, name="Olga Others"), techs=[other_tech])
    stranger = make.company()
    make.job(stranger, customer=make.customer(stranger, name="Sam Stranger"), techs=[])
    log_in(client, tech)

    page = _html(client.get("/tech"))

    assert "Jane Homeowner" in page and "Tom Tomorrow" in page
    assert "Olga Others" not in page and "Sam Stranger" not in page
    assert page.index("Jane Homeowner") < page.index("Upcoming") < page.index("Tom Tomorrow")
    assert f'href="/tech/jobs/{tomorrow.id}"' in page


def test_owners_see_their_own_jobs_and_everyones_with_all(client, make, tech_with_job, log_in):
    company, _tech, _, _ = tech_with_job
    owner = company.owner
    make.job(company, customer=make.customer(company, name="Olive Owned"), techs=[owner])
    log_in(client, owner)

    mine = _html(client.get("/tech"))
    everyone = _html(client.get("/tech?all=1"))

    assert "Olive Owned" in mine and "Jane Homeowner" not in mine
    assert "Olive Owned" in everyone and "Jane Homeowner" in everyone
    assert "Tina Tech" in everyone  # whose job it is


def test_a_tech_asking_for_everyones_jobs_still_sees_only_their_own(
    client, make, tech_with_job, log_in
):
    company, tech, other_tech, _ = tech_with_job
    make.job(company, customer=make.customer(company, name="Olga Others"), techs=[other_tech])
    log_in(client, tech)

    page = _html(client.get("/tech?all=1"))

    assert "Jane Homeowner" in page and "Olga Others" not in page


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/tech/jobs/{id}"),
        ("get", "/tech/jobs/{id}?confirm=finished"),
        ("get", "/tech/jobs/{id}/messages"),
        ("post", "/tech/jobs/{id}/status"),
        ("post", "/tech/jobs/{id}/reply"),
    ],
)
def test_another_techs_or_companys_job_is_404(client, make, tech_with_job, log_in, method, path):
    company, tech, other_tech, _ = tech_with_job
    others_job = make.job(company, techs=[other_tech])
    stranger = make.company()
    strangers_job = make.job(stranger, techs=[make.user(stranger)])
    log_in(client, tech)
    data = {"status": JobStatus.ON_MY_WAY, "eta": "15", "body": "hi", "key": "k" * 12}

    for job in (others_job, strangers_job):
        url = path.format(id=job.id)
        response = client.get(url) if method == "get" else client.post(url, data=data)
        assert response.status_code == 404, url
        db.session.refresh(job)
        assert job.status == JobStatus.SCHEDULED
    assert _replies() == []


def test_a_tech_never_sees_another_techs_conversation(client, make, tech_with_job, log_in, inbound):
    company, tech, other_tech, _ = tech_with_job
    secret_customer = make.customer(company, name="Priv Ate")
    others_job = make.job(company, customer=secret_customer, techs=[other_tech])
    inbound(company, secret_customer.mobile_phone, "my gate code is 4321")
    log_in(client, tech)

    assert client.get(f"/tech/jobs/{others_job.id}").status_code == 404
    assert client.get(f"/tech/jobs/{others_job.id}/messages", headers=HX).status_code == 404
    # The whole text, not "4321": a timestamp in the page may hold those digits.
    assert "gate code is 4321" not in _html(client.get("/tech"))


def test_the_job_page_has_maps_call_and_escaped_notes(client, make, tech_with_job, log_in):
    _company, tech, _, job = tech_with_job
    job.notes = "<script>alert(1)</script> Gate code 12"
    db.session.commit()
    log_in(client, tech)

    page = _html(client.get(f"/tech/jobs/{job.id}"))

    assert (
        'href="https://www.google.com/maps/search/?api=1&amp;query=12%20Elm%20St%2C%20Austin%2C%20TX"'
        in page
    )
    assert f'href="tel:{job.customer.mobile_phone}"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Gate code 12" in page
    assert "<script>alert(1)" not in page


# --- status buttons ------------------------------------------------------------------


def _buttons(page: str) -> set[str]:
    found = set()
    if 'name="status" value="on_my_way"' in page:
        found.add("on_my_way")
    if 'name="status" value="started"' in page and 'name="confirm"' not in page:
        found.add("start")
    if "confirm=started" in page:
        found.add("start_asks")
    if "confirm=finished" in page:
        found.add("finished_asks")
    if 'name="status" value="finished"' in page and 'name="confirm"' not in page:
        found.add("finished")
    if 'name="status" value="finished"' in page and 'name="confirm" value="yes"' in page:
        found.add("confirm_finished")
    if 'name="status" value="started"' in page and 'name="confirm" value="yes"' in page:
        found.add("confirm_started")
    return found


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        ((), {"on_my_way", "start_asks"}),
        ((JobStatus.ON_MY_WAY,), {"start", "finished_asks"}),
        ((JobStatus.ON_MY_WAY, JobStatus.STARTED), {"finished"}),
        ((JobStatus.STARTED, JobStatus.FINISHED), set()),
        ((JobStatus.CANCELED,), set()),
    ],
)
def test_only_the_next_possible_buttons_are_shown(client, tech_with_job, log_in, steps, expected):
    _, tech, _, job = tech_with_job
    for status in steps:
        job_set_status(job=job, status=status, actor=tech, eta_minutes=None)
    db.session.commit()
    log_in(client, tech)

    page = _html(client.get(f"/tech/jobs/{job.id}"))

    assert _buttons(page) == expected
    assert f'class="status status-{job.status}"' in page


def test_on_my_way_with_an_eta_returns_the_updated_panel(
    client, tech_with_job, log_in, transitions
):
    _, tech, _, job = tech_with_job
    log_in(client, tech)

    response = client.post(
        f"/tech/jobs/{job.id}/status", data={"status": "on_my_way", "eta": "30"}, headers=HX
    )

    assert response.status_code == 200
    html = _html(response)
    assert html.lstrip().startswith('<section id="actions"')
    assert "ETA 30 min" in html and _buttons(html) == {"start", "finished_asks"}
    assert response.headers["HX-Trigger"] == "tech-job-changed"
    db.session.refresh(job)
    assert (job.status, job.eta_minutes, job.on_my_way_by_id) == ("on_my_way", 30, tech.id)
    assert transitions == [(job.id, "scheduled", "on_my_way")]


def test_a_custom_eta_is_used(client, tech_with_job, log_in):
    _, tech, _, job = tech_with_job
    log_in(client, tech)

    client.post(
        f"/tech/jobs/{job.id}/status",
        data={"status": "on_my_way", "eta": "custom", "eta_custom": "25"},
        headers=HX,
    )

    db.session.refresh(job)
    assert job.eta_minutes == 25


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Pick how far away you are"),
        ({"eta": "custom"}, "Type how many minutes away you are."),
        ({"eta": "custom", "eta_custom": "0"}, "Type minutes between 1 and 1440."),
        ({"eta": "custom", "eta_custom": "soon"}, "Not a valid integer value."),
        ({"eta": "17"}, "Pick one of the times."),
    ],
)
def test_on_my_way_without_a_usable_eta_says_so(client, tech_with_job, log_in, data, message):
    _, tech, _, job = tech_with_job
    log_in(client, tech)

    response = client.post(
        f"/tech/jobs/{job.id}/status", data={"status": "on_my_way", **data}, headers=HX
    )

    assert response.status_code == 400
    assert message in _html(response)
    assert _buttons(_html(response)) == {"on_my_way", "start_asks"}
    db.session.refresh(job)
    assert job.status == JobStatus.SCHEDULED


def test_a_double_tap_on_my_way_makes_one_transition(client, tech_with_job, log_in, transitions):
    _, tech, _, job = tech_with_job
    log_in(client, tech)
    url = f"/tech/jobs/{job.id}/status"

    first = client.post(url, data={"status": "on_my_way", "eta": "15"}, headers=HX)
    db.session.refresh(job)
    first_at = job.on_my_way_at
    second = client.post(url, data={"status": "on_my_way", "eta": "45"}, headers=HX)

    assert first.status_code == second.status_code == 200
    assert "Already on my way." in _html(second)
    assert "action-error" not in _html(second)
    db.session.refresh(job)
    assert (job.on_my_way_at, job.eta_minutes) == (first_at, 15)
    assert transitions == [(job.id, "scheduled", "on_my_way")]
    on_my_way_texts = db.session.scalar(
        sa.select(sa.func.count(Message.id)).filter_by(job_id=job.id, kind=MessageKind.ON_MY_WAY)
    )
    assert on_my_way_texts <= 1  # one once the notifications are in, never two


def test_a_late_retry_of_on_my_way_shows_the_current_state(
    client, tech_with_job, log_in, transitions
):
    _, tech, _, job = tech_with_job
    log_in(client, tech)
    url = f"/tech/jobs/{job.id}/status"
    client.post(url, data={"status": "on_my_way", "eta": "15"}, headers=HX)
    client.post(url, data={"status": "started"}, headers=HX)

    retry = client.post(url, data={"status": "on_my_way", "eta": "15"}, headers=HX)

    assert retry.status_code == 200
    assert "Already started." in _html(retry) and "action-error" not in _html(retry)
    assert _buttons(_html(retry)) == {"finished"}
    assert [t[2] for t in transitions] == ["on_my_way", "started"]


def test_a_tap_on_a_canceled_job_says_the_office_canceled_it(client, tech_with_job, log_in):
    _, tech, _, job = tech_with_job
    log_in(client, tech)
    page = client.get(f"/tech/jobs/{job.id}")  # the tech opened the page before...
    assert page.status_code == 200
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)  # ...the office canceled
    db.session.commit()

    response = client.post(
        f"/tech/jobs/{job.id}/status", data={"status": "on_my_way", "eta": "15"}, headers=HX
    )

    assert response.status_code == 200
    assert "The office canceled this job." in _html(response)
    db.session.refresh(job)
    assert job.status == JobStatus.CANCELED


def test_finished_without_start_asks_first_then_finishes(
    client, tech_with_job, log_in, transitions
):
    _, tech, _, job = tech_with_job
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    db.session.commit()
    log_in(client, tech)
    url = f"/tech/jobs/{job.id}/status"

    ask = client.get(
        f"/tech/jobs/{job.id}?confirm=finished", headers={**HX, "HX-Target": "actions"}
    )
    assert "Is the job finished?" in _html(ask) and _buttons(_html(ask)) == {"confirm_finished"}
    unconfirmed = client.post(url, data={"status": "finished"}, headers=HX)
    db.session.refresh(job)
    assert job.status == JobStatus.ON_MY_WAY
    assert "Is the job finished?" in _html(unconfirmed)

    done = client.post(url, data={"status": "finished", "confirm": "yes"}, headers=HX)

    db.session.refresh(job)
    assert job.status == JobStatus.FINISHED
    assert "Job finished." in _html(done) and _buttons(_html(done)) == set()
    assert [t[2] for t in transitions] == ["on_my_way", "finished"]


def test_finished_after_start_is_one_tap(client, tech_with_job, log_in, transitions):
    """The steps in order are one tap each; only a tap that skips a step asks."""
    _, tech, _, job = tech_with_job
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    job_set_status(job=job, status=JobStatus.STARTED, actor=tech)
    db.session.commit()
    log_in(client, tech)

    page = _html(client.get(f"/tech/jobs/{job.id}"))
    assert _buttons(page) == {"finished"}
    done = client.post(f"/tech/jobs/{job.id}/status", data={"status": "finished"}, headers=HX)

    db.session.refresh(job)
    assert job.status == JobStatus.FINISHED
    assert "Is the job finished?" not in _html(done)
    assert [t[2] for t in transitions] == ["on_my_way", "started", "finished"]


def test_the_confirm_step_works_without_javascript(client, tech_with_job, log_in):
    _, tech, _, job = tech_with_job
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    db.session.commit()
    log_in(client, tech)

    page = _html(client.get(f"/tech/jobs/{job.id}?confirm=finished"))
    assert "<html" in page and "Is the job finished?" in page
    response = client.post(
        f"/tech/jobs/{job.id}/status", data={"status": "finished", "confirm": "yes"}
    )

    assert response.status_code == 302
    assert response.headers["Location"] == f"/tech/jobs/{job.id}"
    assert "Job finished." in _html(client.get(response.headers["Location"]))


def test_a_plain_form_post_without_eta_shows_the_page_with_the_error(client, tech_with_job, log_in):
    _, tech, _, job = tech_with_job
    log_in(client, tech)

    response = client.post(f"/tech/jobs/{job.id}/status", data={"status": "on_my_way"})

    assert response.status_code == 400
    assert "<html" in _html(response) and "Pick how far away you are" in _html(response)


# --- failures inside htmx ------------------------------------------------------------


def test_an_expired_session_answers_htmx_with_a_plain_message(client, tech_with_job, log_in):
    _, tech, _, job = tech_with_job
    log_in(client, tech)
    tech.session_version += 1  # e.g. the password was reset on another device
    db.session.commit()

    response = client.post(
        f"/tech/jobs/{job.id}/status",
        data={"status": "on_my_way", "eta": "15"},
        headers={**HX, "HX-Current-URL": f"http://localhost/tech/jobs/{job.id}"},
    )

    assert response.status_code == 401
    assert response.headers["HX-Retarget"] == "#tech-problem"
    assert "You were logged out" in _html(response)
    assert f"/login?next=/tech/jobs/{job.id}" in _html(response).replace("%2F", "/")
    plain = client.get(f"/tech/jobs/{job.id}")
    assert plain.status_code == 302 and "/login" in plain.headers["Location"]
    db.session.refresh(job)
    assert job.status == JobStatus.SCHEDULED


def test_a_stale_csrf_token_gets_a_message_and_a_fresh_token(
    client, tech_with_job, log_in, csrf_enabled
):
    _, tech, _, job = tech_with_job
    page = client.get("/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', _html(page)).group(1)
    client.post(
        "/login",
        data={"email": tech.email, "password": "correct-horse-battery", "csrf_token": token},
    )
    url = f"/tech/jobs/{job.id}/status"

    stale = client.post(
        url, data={"status": "started"}, headers={**HX, "X-CSRFToken": "stale-token"}
    )

    assert stale.status_code == 400
    assert stale.headers["HX-Retarget"] == "#tech-problem"
    assert "Please tap again." in _html(stale)
    fresh = stale.headers["X-CSRF-Token"]
    again = client.post(
        url, data={"status": "started", "confirm": "yes"}, headers={**HX, "X-CSRFToken": fresh}
    )
    assert again.status_code == 200
    db.session.refresh(job)
    assert job.status == JobStatus.STARTED


def test_a_job_taken_away_answers_the_poll_with_a_message(client, tech_with_job, log_in):
    _, tech, _, job = tech_with_job
    log_in(client, tech)
    job.assignments.clear()
    db.session.commit()

    response = client.get(f"/tech/jobs/{job.id}/messages?v=x", headers=HX)

    assert response.status_code == 404
    assert response.headers["HX-Retarget"] == "#tech-problem"
    assert "no longer on your list" in _html(response)


# --- messages ------------------------------------------------------------------------


def _start(job, tech):
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=20)
    db.session.commit()


def test_a_text_routed_to_the_tech_shows_and_is_marked_read(client, tech_with_job, log_in, inbound):
    company, tech, _, job = tech_with_job
    _start(job, tech)
    log_in(client, tech)
    assert client.get("/tech").status_code == 200
    version = conversation_version(job=job, user=tech)
    assert client.get(f"/tech/jobs/{job.id}/messages?v={version}", headers=HX).status_code == 204

    message = inbound(company, job.customer.mobile_phone, "Gate is open <b>now</b>")
    apply_routing(message=message)
    db.session.commit()
    assert "1 new text</a>" in _html(client.get("/tech"))

    response = client.get(f"/tech/jobs/{job.id}/messages?v={version}", headers=HX)

    assert response.status_code == 200
    html = _html(response)
    assert "Gate is open &lt;b&gt;now&lt;/b&gt;" in html and "msg-new" in html
    recipient = db.session.scalar(sa.select(MessageRecipient).filter_by(user_id=tech.id))
    db.session.refresh(recipient)
    assert recipient.read_at is not None
    assert "new text" not in _html(client.get("/tech"))


def test_the_job_list_poll_answers_204_until_something_changes(
    client, tech_with_job, log_in, inbound
):
    company, tech, _, job = tech_with_job
    _start(job, tech)
    log_in(client, tech)
    poll = {**HX, "HX-Target": "job-list"}
    page = _html(client.get("/tech"))
    url = re.search(r'<div id="job-list"\s+hx-get="([^"]+)"', page).group(1).replace("&amp;", "&")

    assert client.get(url, headers=poll).status_code == 204
    apply_routing(message=inbound(company, job.customer.mobile_phone, "Running late?"))
    db.session.commit()
    changed = client.get(url, headers=poll)

    assert changed.status_code == 200
    assert _html(changed).lstrip().startswith('<div id="job-list"')
    assert "1 new text</a>" in _html(changed)


def test_marking_read_leaves_other_peoples_rows_alone(client, tech_with_job, log_in, inbound):
    company, tech, _, job = tech_with_job
    owner = company.owner
    log_in(client, tech)
    message = inbound(company, job.customer.mobile_phone, "For the office")
    db.session.add(MessageRecipient(message_id=message.id, user_id=owner.id))
    db.session.commit()

    page = _html(client.get(f"/tech/jobs/{job.id}"))

    # Routed to the owner, not to this tech: it stays in the office (issue 7).
    assert "For the office" not in page
    row = db.session.scalar(sa.select(MessageRecipient).filter_by(user_id=owner.id))
    db.session.refresh(row)
    assert row.read_at is None


def test_a_reply_is_queued_from_the_custom_number(client, tech_with_job, log_in):
    company, tech, _, job = tech_with_job
    log_in(client, tech)

    response = client.post(
        f"/tech/jobs/{job.id}/reply",
        data={"body": "  Be there soon  ", "key": "a" * 16},
        headers=HX,
    )

    assert response.status_code == 200
    html = _html(response)
    assert html.lstrip().startswith('<div id="reply"') and 'data-sent="true"' in html
    assert 'id="messages" class="messages" hx-swap-oob="true"' in html
    assert "Be there soon" in html and "Waiting to send" in html
    (message,) = _replies()
    assert message.body == "Be there soon"
    assert (message.kind, message.direction, message.status) == (
        MessageKind.MANUAL,
        Direction.OUT,
        MessageStatus.PENDING,
    )
    assert message.from_phone == company.phone_number.e164
    assert message.to_phone == job.customer.mobile_phone
    assert (message.author_id, message.job_id) == (tech.id, job.id)
    new_key = re.search(r'name="key" value="([^"]+)"', html).group(1)
    assert new_key != "a" * 16


def test_a_repeated_reply_with_the_same_box_is_queued_once(client, tech_with_job, log_in):
    _, tech, _, job = tech_with_job
    log_in(client, tech)
    data = {"body": "On the way", "key": "b" * 16}

    client.post(f"/tech/jobs/{job.id}/reply", data=data, headers=HX)
    client.post(f"/tech/jobs/{job.id}/reply", data=data, headers=HX)
    client.post(f"/tech/jobs/{job.id}/reply", data={**data, "key": "c" * 16}, headers=HX)

    assert len(_replies()) == 2


def test_an_empty_reply_keeps_the_box(client, tech_with_job, log_in):
    _, tech, _, job = tech_with_job
    log_in(client, tech)

    response = client.post(
        f"/tech/jobs/{job.id}/reply", data={"body": "   ", "key": "d" * 16}, headers=HX
    )

    assert response.status_code == 400
    assert "Type a reply first." in _html(response)
    assert 'value="dddddddddddddddd"' in _html(response)
    too_long = client.post(
        f"/tech/jobs/{job.id}/reply", data={"body": "x" * 1601, "key": "d" * 16}, headers=HX
    )
    assert too_long.status_code == 400 and "x" * 1601 in _html(too_long)
    assert _replies() == []


def test_an_opted_out_customer_gets_no_reply_box(client, tech_with_job, log_in):
    company, tech, _, job = tech_with_job
    db.session.add(OptOut(company_id=company.id, phone=job.customer.mobile_phone, keyword="STOP"))
    db.session.commit()
    log_in(client, tech)

    page = _html(client.get(f"/tech/jobs/{job.id}"))
    response = client.post(
        f"/tech/jobs/{job.id}/reply", data={"body": "hello?", "key": "e" * 16}, headers=HX
    )

    assert 'name="body"' not in page and "opted out" in page
    assert response.status_code == 409 and "opted out" in _html(response)
    assert _replies() == []


def test_no_custom_number_means_no_reply_box(client, make, log_in):
    company = make.company()
    tech = make.user(company)
    job = make.job(company, techs=[tech])
    db.session.commit()
    log_in(client, tech)

    page = _html(client.get(f"/tech/jobs/{job.id}"))

    assert 'name="body"' not in page and "no custom SMS number" in page


@pytest.mark.parametrize(
    ("status", "error_code", "shown"),
    [
        (MessageStatus.PENDING, None, "…</span> Waiting to send"),
        (MessageStatus.SENT, None, "✓</span> Sent"),
        (MessageStatus.DELIVERED, None, "✓✓</span> Delivered"),
        (MessageStatus.FAILED, 30003, "✗</span> Not delivered. The phone is unreachable"),
    ],
)
def test_delivery_ticks(client, tech_with_job, log_in, status, error_code, shown):
    _company, tech, _, job = tech_with_job
    log_in(client, tech)
    client.post(f"/tech/jobs/{job.id}/reply", data={"body": "Hi", "key": "f" * 16})
    (message,) = _replies()
    message.status, message.error_code = status, error_code
    db.session.commit()

    assert shown in _html(client.get(f"/tech/jobs/{job.id}"))


# --- installable, light --------------------------------------------------------------


def test_the_page_links_the_manifest_and_icons(client, tech_with_job, log_in):
    _, tech, _, _ = tech_with_job
    log_in(client, tech)
    page = _html(client.get("/tech"))

    assert '<link rel="manifest" href="/static/manifest.webmanifest">' in page
    assert '<meta name="theme-color"' in page and 'rel="apple-touch-icon"' in page
    manifest = client.get("/static/manifest.webmanifest")
    assert manifest.status_code == 200
    assert manifest.mimetype == "application/manifest+json"
    icons = manifest.get_json()["icons"]
    assert {icon["purpose"] for icon in icons} == {"any", "maskable"}
    for icon in icons:
        path = STATIC / icon["src"].removeprefix("/static/")
        width, height = Image.open(path).size
        assert f"{width}x{height}" == icon["sizes"]
    assert manifest.get_json()["start_url"] == "/tech"


PAGE_BUDGET_GZIP = 40_000  # bytes over the wire for /tech, HTML + CSS + JS


def test_the_tech_page_weight_is_measured_and_within_budget(client, tech_with_job, log_in):
    _, tech, _, _ = tech_with_job
    log_in(client, tech)
    html = client.get("/tech").get_data()
    assets = re.findall(rb'(?:href|src)="(/static/[^"]+\.(?:css|js))"', html)
    rows = [("HTML /tech", html)]
    for asset in assets:
        response = client.get(asset.decode())
        rows.append((asset.decode(), response.get_data()))
        response.close()

    raw = sum(len(body) for _, body in rows)
    zipped = sum(len(gzip.compress(body, 6)) for _, body in rows)
    ARTIFACTS.mkdir(exist_ok=True)
    lines = [f"{name}\t{len(body)}\t{len(gzip.compress(body, 6))}" for name, body in rows]
    (ARTIFACTS / "tech-page-weight.tsv").write_text(
        "resource\tbytes\tgzip\n" + "\n".join(lines) + f"\nTOTAL\t{raw}\t{zipped}\n"
    )
    assert {b"/static/htmx.min.js", b"/static/tech.css", b"/static/tech.js"} <= set(assets)
    assert zipped < PAGE_BUDGET_GZIP, lines


def test_unassigned_owner_can_open_any_job_of_the_company(client, tech_with_job, log_in):
    company, _, _, job = tech_with_job
    log_in(client, company.owner)

    assert client.get(f"/tech/jobs/{job.id}").status_code == 200
    assert isinstance(db.session.get(Job, job.id), Job)


@pytest.mark.postgres
def test_two_techs_tapping_on_my_way_at_once_make_one_transition(app, make, log_in, transitions):
    company = make.company()
    make.number(company)
    techs = [make.user(company, name="Ann Alpha"), make.user(company, name="Ben Beta")]
    job = make.job(company, techs=techs)
    db.session.commit()
    clients = []
    for tech in techs:
        client = app.test_client()
        log_in(client, tech)
        clients.append(client)
    barrier = threading.Barrier(len(clients))
    answers = []
    url = f"/tech/jobs/{job.id}/status"  # read here: the threads have no app context

    def tap(client):
        barrier.wait()
        response = client.post(url, data={"status": "on_my_way", "eta": "15"}, headers=HX)
        answers.append((response.status_code, "action-error" in _html(response)))

    threads = [threading.Thread(target=tap, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert answers == [(200, False), (200, False)]
    assert transitions == [(job.id, "scheduled", "on_my_way")]
    db.session.expire_all()
    texts = db.session.scalar(
        sa.select(sa.func.count(Message.id)).filter_by(job_id=job.id, kind=MessageKind.ON_MY_WAY)
    )
    assert texts == 1

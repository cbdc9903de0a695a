"""The tech's day in fewer taps: On My Way from the My day card (a bottom sheet, or its
own page without JS), Start without On My Way asks once, Next job and the day's progress
after Finished, and who tapped On My Way."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import JobStatus, Message, MessageKind, Role, utcnow
from app.services.job_events import job_status_changed
from app.services.job_status import job_set_status
from tests.support import HX


@pytest.fixture
def day(make):
    """Tina's day: Jane's job in half an hour, Sam's this afternoon, Tom's tomorrow."""
    company = make.company(name="Drip Busters", time_zone="UTC")
    make.number(company)
    tech = make.user(company, role=Role.TECH, name="Tina Tech")
    other = make.user(company, role=Role.TECH, name="Maria Lopez")
    now = utcnow().replace(hour=8, minute=0, second=0, microsecond=0)
    jane = make.job(
        company,
        customer=make.customer(company, name="Jane Homeowner"),
        techs=[tech, other],
        start=now + timedelta(hours=1),
    )
    sam = make.job(
        company,
        customer=make.customer(company, name="Sam Second"),
        techs=[tech],
        start=now + timedelta(hours=5),
    )
    tom = make.job(
        company,
        customer=make.customer(company, name="Tom Tomorrow"),
        techs=[tech],
        start=now + timedelta(days=1),
    )
    db.session.commit()
    return company, tech, other, jane, sam, tom


@pytest.fixture
def transitions():
    calls = []

    def spy(transition, *, actor):
        calls.append(transition.new_status)

    with job_status_changed.connected_to(spy):
        yield calls


def _html(response) -> str:
    return response.get_data(as_text=True)


def _texts(job, kind: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count(Message.id)).filter_by(job_id=job.id, kind=kind)
    )


def _card(page: str, name: str) -> str:
    """The markup of the My day card of `name`'s job."""
    cards = re.findall(r'<article class="job-card.*?</article>', page, re.S)
    return next(card for card in cards if name in card)


def test_today_cards_open_the_on_my_way_sheet_upcoming_ones_do_not(client, day, log_in):
    _, tech, _, jane, _, _ = day
    log_in(client, tech)

    page = _html(client.get("/tech"))

    card = _card(page, "Jane Homeowner")
    assert f'href="/tech/jobs/{jane.id}/on-my-way" data-sheet="omw-{jane.id}-sheet"' in card
    sheet = re.search(r"<dialog.*?</dialog>", card, re.S).group(0)
    assert f'aria-labelledby="omw-{jane.id}-title"' in sheet
    assert 'name="then" value="job"' in sheet
    assert sheet.count('name="eta" value=') == 5  # four chips and "Other"
    assert "on-my-way" not in _card(page, "Tom Tomorrow")
    assert "0 of 2 done" in page


def test_the_sheet_works_as_a_page_without_javascript(client, day, log_in, transitions):
    _, tech, _, jane, _, _ = day
    log_in(client, tech)

    page = client.get(f"/tech/jobs/{jane.id}/on-my-way")
    assert page.status_code == 200
    assert "<html" in _html(page) and "On My Way to Jane Homeowner" in _html(page)
    sent = client.post(
        f"/tech/jobs/{jane.id}/status", data={"status": "on_my_way", "eta": "15", "then": "job"}
    )

    assert sent.status_code == 302 and sent.headers["Location"] == f"/tech/jobs/{jane.id}"
    assert "On My Way: done." in _html(client.get(sent.headers["Location"]))
    assert transitions == ["on_my_way"] and _texts(jane, MessageKind.ON_MY_WAY) == 1
    # Once tapped, the sheet's page leads back to the job instead of a second text.
    again = client.get(f"/tech/jobs/{jane.id}/on-my-way")
    assert again.status_code == 302 and again.headers["Location"] == f"/tech/jobs/{jane.id}"


def test_the_sheet_from_my_day_sends_and_opens_the_job_page(client, day, log_in, transitions):
    _, tech, _, jane, _, _ = day
    log_in(client, tech)
    url = f"/tech/jobs/{jane.id}/status"
    data = {"status": "on_my_way", "eta": "30", "then": "job"}

    first = client.post(url, data=data, headers=HX)
    second = client.post(url, data=data, headers=HX)  # the double tap

    for answer in (first, second):
        assert answer.status_code == 200
        assert answer.headers["HX-Redirect"] == f"/tech/jobs/{jane.id}"
    job_page = _html(client.get(f"/tech/jobs/{jane.id}"))
    assert "On My Way: done." in job_page and "ETA 30 min" in job_page
    assert transitions == ["on_my_way"]
    assert _texts(jane, MessageKind.ON_MY_WAY) == 1


def test_a_bad_eta_from_my_day_is_said_over_the_list(client, day, log_in, transitions):
    _, tech, _, jane, _, _ = day
    log_in(client, tech)

    answer = client.post(
        f"/tech/jobs/{jane.id}/status",
        data={"status": "on_my_way", "eta": "custom", "then": "job"},
        headers=HX,
    )

    assert answer.status_code == 400
    assert answer.headers["HX-Retarget"] == "#tech-problem"
    assert "Type how many minutes away you are." in _html(answer)
    assert transitions == []


def test_on_my_way_comes_before_start_on_the_job_page(client, day, log_in):
    _, tech, _, jane, _, _ = day
    log_in(client, tech)

    page = _html(client.get(f"/tech/jobs/{jane.id}"))

    on_my_way = page.index(f'data-sheet="omw-{jane.id}-sheet">On My Way</a>')
    start = page.index("Already there? Start without On My Way")
    assert on_my_way < start
    # No form on the page starts the job without asking first.
    assert 'name="status" value="started"' not in page


def test_start_without_on_my_way_asks_once(client, day, log_in, transitions):
    _, tech, _, jane, _, _ = day
    log_in(client, tech)
    url = f"/tech/jobs/{jane.id}/status"

    ask = client.get(
        f"/tech/jobs/{jane.id}?confirm=started", headers={**HX, "HX-Target": "actions"}
    )
    assert "Start without texting the customer?" in _html(ask)
    unconfirmed = client.post(url, data={"status": "started"}, headers=HX)
    assert "Start without texting the customer?" in _html(unconfirmed)
    db.session.refresh(jane)
    assert jane.status == JobStatus.SCHEDULED

    done = client.post(url, data={"status": "started", "confirm": "yes"}, headers=HX)

    assert "Job started." in _html(done)
    assert transitions == ["started"]
    assert _texts(jane, MessageKind.ON_MY_WAY) == 0


def test_start_after_on_my_way_does_not_ask(client, day, log_in, transitions):
    _, tech, _, jane, _, _ = day
    job_set_status(job=jane, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    db.session.commit()
    log_in(client, tech)

    done = client.post(f"/tech/jobs/{jane.id}/status", data={"status": "started"}, headers=HX)

    assert "Job started." in _html(done)
    assert transitions == ["on_my_way", "started"]


def test_the_start_question_works_without_javascript(client, day, log_in):
    _, tech, _, jane, _, _ = day
    log_in(client, tech)

    page = _html(client.get(f"/tech/jobs/{jane.id}?confirm=started"))
    assert "<html" in page and "Start without texting the customer?" in page
    asked = client.post(f"/tech/jobs/{jane.id}/status", data={"status": "started"})
    assert asked.status_code == 200 and "Start without texting the customer?" in _html(asked)
    done = client.post(f"/tech/jobs/{jane.id}/status", data={"status": "started", "confirm": "yes"})
    assert done.status_code == 302
    db.session.refresh(jane)
    assert jane.status == JobStatus.STARTED


def test_finished_shows_the_next_job_and_the_days_progress(client, day, log_in):
    _, tech, _, jane, sam, _ = day
    job_set_status(job=jane, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    db.session.commit()
    log_in(client, tech)

    # Straight from On My Way to Finished (Start is optional), confirmed.
    done = _html(
        client.post(
            f"/tech/jobs/{jane.id}/status",
            data={"status": "finished", "confirm": "yes"},
            headers=HX,
        )
    )

    assert "1 of 2 done" in done
    assert "Next job: <strong>Sam Second</strong>" in done
    assert f'href="/tech/jobs/{sam.id}"\n       aria-label="Open next job #{sam.number}' in done
    # Its On My Way is right here, in the same sheet as on My day (then its page opens).
    assert f'href="/tech/jobs/{sam.id}/on-my-way" data-sheet="omw-{sam.id}-sheet"' in done
    assert f'<dialog class="sheet" id="omw-{sam.id}-sheet"' in done
    assert f'hx-post="/tech/jobs/{sam.id}/status" hx-swap="none"' in done
    assert '<input type="hidden" name="then" value="job">' in done

    # A next job already on the way (another tech tapped it) is only opened from here.
    job_set_status(job=sam, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    db.session.commit()
    again = _html(client.get(f"/tech/jobs/{jane.id}"))
    assert "Next job: <strong>Sam Second</strong>" in again and "omw-" not in again
    assert f'<a class="tech-btn tech-btn-go" href="/tech/jobs/{sam.id}"' in again
    job_set_status(job=sam, status=JobStatus.FINISHED, actor=tech)
    db.session.commit()
    last = _html(client.get(f"/tech/jobs/{sam.id}"))
    assert "2 of 2 done" in last and "every job for today" in last
    assert "Next job" not in last and 'href="/tech">Back to My day' in last


def test_a_second_tech_sees_who_tapped_on_my_way(app, client, day, log_in):
    _, tech, other, jane, _, _ = day
    job_set_status(job=jane, status=JobStatus.ON_MY_WAY, actor=other, eta_minutes=15)
    db.session.commit()
    at = re.compile(r"\d{1,2}:\d\d [AP]M")

    log_in(client, tech)
    page = _html(client.get(f"/tech/jobs/{jane.id}"))
    detail = re.search(r'<span class="status-detail">(.*?)</span>', page, re.S).group(1)
    assert "by Maria at" in detail and at.search(detail) and "ETA 15 min" in detail
    card = _card(_html(client.get("/tech")), "Jane Homeowner")
    assert "On my way — Maria," in card

    maria = app.test_client()
    log_in(maria, other)
    mine = _html(maria.get(f"/tech/jobs/{jane.id}"))
    detail = re.search(r'<span class="status-detail">(.*?)</span>', mine, re.S).group(1)
    assert "by you at" in detail


def test_the_top_bar_shows_the_whole_job_number(client, day, log_in):
    _, tech, _, jane, _, _ = day
    log_in(client, tech)

    page = _html(client.get(f"/tech/jobs/{jane.id}"))

    assert f'<span class="tech-bar-title tech-bar-job">Job #{jane.number}</span>' in page


def test_a_sheet_tap_on_a_job_the_office_canceled_says_so_on_the_job_page(
    client, day, log_in, transitions
):
    _, tech, _, jane, _, _ = day
    log_in(client, tech)
    client.get("/tech")  # the list was open...
    job_set_status(job=jane, status=JobStatus.CANCELED, actor=None)  # ...the office canceled
    db.session.commit()
    transitions.clear()

    answer = client.post(
        f"/tech/jobs/{jane.id}/status",
        data={"status": "on_my_way", "eta": "15", "then": "job"},
        headers=HX,
    )

    assert answer.headers["HX-Redirect"] == f"/tech/jobs/{jane.id}"
    assert "The office canceled this job." in _html(client.get(f"/tech/jobs/{jane.id}"))
    assert transitions == [] and _texts(jane, MessageKind.ON_MY_WAY) == 0

"""Office jobs: the board, booking, the job page and its htmx fragments."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Direction,
    Job,
    JobStatus,
    Message,
    MessageKind,
    MessageStatus,
    Role,
    SkippedText,
    utcnow,
)
from app.services.conversations import conversation_for
from app.services.job_status import job_set_status
from tests.support import HX

CHICAGO = ZoneInfo("America/Chicago")
DASH = "\N{EN DASH}"  # between the start and end of a time window


@pytest.fixture
def company_tech_customer(make, client, log_in):
    """A Chicago company with its owner logged in, a tech and a customer."""
    company = make.company(name="Drip Plumbing", time_zone="America/Chicago")
    tech = make.user(company, role=Role.TECH, name="Tina Tech")
    customer = make.customer(company, name="Carl Customer", phone="+15125550177")
    db.session.commit()
    log_in(client, company.owner)
    return company, tech, customer


def local_today_at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    today = utcnow().astimezone(CHICAGO).date() + timedelta(days=days)
    return datetime.combine(today, time(hour, minute), tzinfo=CHICAGO).astimezone(UTC)


def board_rows(html: str) -> list[str]:
    return re.findall(r'class="job-link" href="/jobs/\d+">#(\d+)<', html)


# --- Access ------------------------------------------------------------------------------


def test_board_needs_login_and_an_office_role(make, client, log_in):
    assert client.get("/jobs").status_code == 302
    company = make.company()
    tech = make.user(company, role=Role.TECH)
    db.session.commit()
    log_in(client, tech)
    assert client.get("/jobs").status_code == 403
    assert client.get("/jobs/new").status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/jobs/{id}"),
        ("get", "/jobs/{id}/edit"),
        ("post", "/jobs/{id}/edit"),
        ("get", "/jobs/{id}/techs"),
        ("post", "/jobs/{id}/techs"),
        ("post", "/jobs/{id}/techs/{tech}/remove"),
        ("get", "/jobs/{id}/schedule"),
        ("get", "/jobs/{id}/schedule/edit"),
        ("post", "/jobs/{id}/schedule"),
        ("get", "/jobs/{id}/timeline"),
        ("post", "/jobs/{id}/status"),
    ],
)
def test_another_companys_job_is_404(make, client, company_tech_customer, method, path):
    other = make.company()
    other_tech = make.user(other, role=Role.TECH)
    theirs = make.job(other, techs=[other_tech])
    db.session.commit()
    url = path.format(id=theirs.id, tech=other_tech.id)
    response = getattr(client, method)(url, data={"status": "canceled"}, headers=HX)
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Job, theirs.id).status == JobStatus.SCHEDULED


def test_unassigning_another_companys_user_is_404(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer
    job = make.job(company, customer=customer, techs=[tech])
    stranger = make.user(make.company(), role=Role.TECH)
    db.session.commit()
    response = client.post(f"/jobs/{job.id}/techs/{stranger.id}/remove")
    assert response.status_code == 404


# --- The board ---------------------------------------------------------------------------


def test_today_is_the_companys_day_not_utcs(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    late_tonight = make.job(
        company, customer=customer, start=local_today_at(23, 0), hours=1, description="Late"
    )
    after_midnight = make.job(
        company, customer=customer, start=local_today_at(0, 30, days=1), hours=1
    )
    db.session.commit()

    today = client.get("/jobs?tab=today").get_data(as_text=True)
    upcoming = client.get("/jobs?tab=upcoming").get_data(as_text=True)

    assert board_rows(today) == [str(late_tonight.number)]
    assert board_rows(upcoming) == [str(after_midnight.number)]
    # Shown in local time: 11:00 PM Chicago, whatever UTC says.
    assert f"11:00 PM {DASH} 12:00 AM" in today


def test_tabs_sort_jobs_by_status(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer
    noon = local_today_at(12)
    jobs = {
        s: make.job(company, customer=customer, techs=[tech], start=noon) for s in JobStatus.ALL
    }
    job_set_status(job=jobs["on_my_way"], status=JobStatus.ON_MY_WAY, actor=tech)
    job_set_status(job=jobs["started"], status=JobStatus.STARTED, actor=tech)
    job_set_status(job=jobs["finished"], status=JobStatus.STARTED, actor=tech)
    job_set_status(job=jobs["finished"], status=JobStatus.FINISHED, actor=tech)
    job_set_status(job=jobs["canceled"], status=JobStatus.CANCELED, actor=tech)
    db.session.commit()

    def numbers(tab):
        html = client.get(f"/jobs?tab={tab}").get_data(as_text=True)
        return sorted(int(n) for n in board_rows(html))

    def of(*statuses):
        return sorted(jobs[s].number for s in statuses)

    assert numbers("today") == of("scheduled", "on_my_way", "started", "finished")
    assert numbers("in_progress") == of("on_my_way", "started")
    assert numbers("finished") == of("finished")
    assert numbers("canceled") == of("canceled")
    assert numbers("upcoming") == []
    html = client.get("/jobs?tab=in_progress").get_data(as_text=True)
    assert 'class="badge badge-on_my_way"' in html
    assert 'class="badge badge-started"' in html


def test_an_overdue_open_job_stays_on_today(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    stale = make.job(company, customer=customer, start=local_today_at(9, days=-2))
    dropped = make.job(company, customer=customer, start=local_today_at(9, days=-3))
    job_set_status(job=dropped, status=JobStatus.CANCELED, actor=company.owner)
    db.session.commit()
    html = client.get("/jobs").get_data(as_text=True)
    assert board_rows(html) == [str(stale.number)]
    assert "Overdue" in html


def test_board_row_shows_window_customer_address_techs_and_status(
    make, client, company_tech_customer
):
    company, tech, customer = company_tech_customer
    make.job(
        company,
        customer=customer,
        techs=[tech],
        start=local_today_at(14),
        hours=2,
        address="12 Elm St",
    )
    db.session.commit()
    html = client.get("/jobs").get_data(as_text=True)
    assert f"2:00 PM {DASH} 4:00 PM" in html
    assert "Carl Customer" in html
    assert "(512) 555-0177" in html
    assert "12 Elm St" in html
    assert "Tina Tech" in html
    assert 'class="badge badge-scheduled"' in html


@pytest.mark.parametrize(
    "query", ["carl", "555-0177", "(512) 555 0177", "#{number}", "{number}", "GARBAGE dis"]
)
def test_search_finds_a_job_by_name_phone_number_or_description(
    make, client, company_tech_customer, query
):
    company, _tech, customer = company_tech_customer
    wanted = make.job(
        company, customer=customer, start=local_today_at(10), description="Garbage disposal"
    )
    other_customer = make.customer(company, name="Dora Other", phone="+15125550900")
    make.job(company, customer=other_customer, start=local_today_at(11), description="Faucet")
    db.session.commit()
    q = query.format(number=wanted.number)
    html = client.get("/jobs", query_string={"q": q}).get_data(as_text=True)
    assert board_rows(html) == [str(wanted.number)]


def test_search_counts_every_tab(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    make.job(company, customer=customer, start=local_today_at(10), description="Boiler")
    make.job(company, customer=customer, start=local_today_at(10, days=3), description="Boiler")
    make.job(company, customer=customer, start=local_today_at(10, days=4), description="Sink")
    db.session.commit()
    html = client.get("/jobs?q=boiler").get_data(as_text=True)
    counts = dict(
        re.findall(r'tab=(\w+)&amp;q=boiler"[^>]*>\s*[^<]+<span class="tab-count">(\d+)<', html)
    )
    assert counts == {
        "today": "1",
        "upcoming": "1",
        "in_progress": "0",
        "finished": "0",
        "canceled": "0",
    }


def test_live_search_gets_only_the_board_fragment(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    make.job(company, customer=customer, start=local_today_at(10))
    db.session.commit()
    response = client.get("/jobs?tab=today&q=carl", headers={**HX, "HX-Target": "job-board"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="job-board"')
    assert "<html" not in html
    assert "HX-Request" in response.headers.get("Vary", "")


def test_search_box_works_live_and_as_a_plain_form(client, company_tech_customer):
    html = client.get("/jobs?tab=upcoming").get_data(as_text=True)
    form = re.search(r'<form class="toolbar" method="get" action="/jobs".*?</form>', html, re.S)
    assert form
    assert '<input type="hidden" name="tab" value="upcoming">' in form.group(0)
    assert 'hx-trigger="input changed delay:300ms, search"' in form.group(0)
    assert 'hx-push-url="true"' in form.group(0)
    assert 'hx-get="/jobs"' in form.group(0)


def page_links(html: str) -> dict[str, str]:
    """The board's paging links by rel ("prev", "next"), as plain hrefs."""
    links = re.findall(r'<a class="btn btn-small" rel="(prev|next)" href="([^"]+)"', html)
    return {rel: href.replace("&amp;", "&") for rel, href in links}


def test_board_pages_25_at_a_time_with_real_links(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    jobs = [
        make.job(company, customer=customer, start=local_today_at(8) + timedelta(minutes=i))
        for i in range(30)
    ]
    db.session.commit()
    numbers = [str(j.number) for j in jobs]

    first = client.get("/jobs").get_data(as_text=True)
    assert board_rows(first) == numbers[:25]
    links = page_links(first)
    assert set(links) == {"next"}
    assert re.fullmatch(r"/jobs\?tab=today&after=\d{8}T\d{6}\.\d{6}-\d+", links["next"])
    assert "Later →" in first

    second = client.get(links["next"]).get_data(as_text=True)
    assert board_rows(second) == numbers[25:]
    links = page_links(second)
    assert set(links) == {"prev"}
    assert "← Earlier" in second

    back = client.get(links["prev"]).get_data(as_text=True)
    assert board_rows(back) == numbers[:25]
    assert set(page_links(back)) == {"next"}


def test_past_tabs_page_newest_first_with_older_and_newer_links(
    make, client, company_tech_customer
):
    company, _tech, customer = company_tech_customer
    jobs = []
    for i in range(60):
        # Two jobs per start time: the id breaks the tie, in the same order both ways.
        job = make.job(company, customer=customer, start=local_today_at(9, days=-1 - i // 2))
        job.status = JobStatus.FINISHED
        jobs.append(job)
    db.session.commit()
    newest_first = [str(j.number) for j in sorted(jobs, key=lambda j: (j.scheduled_start, j.id))]
    newest_first.reverse()

    pages, url = [], "/jobs?tab=finished"
    while url:
        pages.append(client.get(url).get_data(as_text=True))
        url = page_links(pages[-1]).get("next")
    assert [board_rows(html) for html in pages] == [
        newest_first[:25],
        newest_first[25:50],
        newest_first[50:],
    ]
    assert all("Older →" in html for html in pages[:2])

    # And back up from the last page, one "Newer" link at a time.
    assert "← Newer" in pages[2]
    middle = client.get(page_links(pages[2])["prev"]).get_data(as_text=True)
    assert board_rows(middle) == newest_first[25:50]
    top = client.get(page_links(middle)["prev"]).get_data(as_text=True)
    assert board_rows(top) == newest_first[:25]
    assert "prev" not in page_links(top)


def test_a_job_booked_meanwhile_does_not_shift_the_next_page(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    jobs = [
        make.job(company, customer=customer, start=local_today_at(8) + timedelta(minutes=i))
        for i in range(30)
    ]
    db.session.commit()
    next_url = page_links(client.get("/jobs").get_data(as_text=True))["next"]
    make.job(company, customer=customer, start=local_today_at(7))  # lands on page one
    db.session.commit()
    second = client.get(next_url).get_data(as_text=True)
    assert board_rows(second) == [str(j.number) for j in jobs[25:]]


@pytest.mark.parametrize(
    "query",
    [
        "page=2",  # a bookmark from when the board had numbered pages
        "page=99",
        "page=abc",
        "after=garbage",
        "after=20261399T250000.000000-1",  # the shape of a cursor, not a date
        "before=20260101T000000.000000-99999999999999",
        "after=",
        "before=%00",
    ],
)
def test_an_old_or_broken_paging_link_shows_the_first_page(
    make, client, company_tech_customer, query
):
    company, _tech, customer = company_tech_customer
    jobs = [
        make.job(company, customer=customer, start=local_today_at(8) + timedelta(minutes=i))
        for i in range(30)
    ]
    db.session.commit()
    response = client.get(f"/jobs?tab=today&{query}")
    assert response.status_code == 200
    assert board_rows(response.get_data(as_text=True)) == [str(j.number) for j in jobs[:25]]


def test_a_cursor_past_the_end_shows_the_first_page(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer, start=local_today_at(8))
    db.session.commit()
    html = client.get("/jobs?tab=today&after=29990101T000000.000000-1").get_data(as_text=True)
    assert board_rows(html) == [str(job.number)]
    assert page_links(html) == {}


def tab_counts(html: str) -> dict[str, str]:
    return dict(re.findall(r'tab=(\w+)[^"]*"[^>]*>\s*[^<]+<span class="tab-count">([^<]+)<', html))


def test_tab_counts_count_each_job_where_the_board_shows_it(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer

    def job(start, status=JobStatus.SCHEDULED):
        made = make.job(company, customer=customer, techs=[tech], start=start)
        made.status = status
        return made

    # 11 pm in Chicago is tomorrow in UTC: still today's job for a Chicago company.
    job(local_today_at(23))
    job(local_today_at(8), JobStatus.FINISHED)  # today and finished
    job(local_today_at(9), JobStatus.STARTED)  # today and in progress
    job(local_today_at(9, days=-2))  # overdue: today
    job(local_today_at(9, days=-3), JobStatus.ON_MY_WAY)  # never finished: today, in progress
    job(local_today_at(10), JobStatus.CANCELED)  # canceled only
    job(local_today_at(0, 30, days=1))  # just after midnight tomorrow: upcoming
    job(local_today_at(9, days=30))  # upcoming
    job(local_today_at(9, days=2), JobStatus.ON_MY_WAY)  # in progress, not today
    job(local_today_at(9, days=-1), JobStatus.FINISHED)  # finished yesterday
    job(local_today_at(9, days=-400), JobStatus.FINISHED)
    job(local_today_at(9, days=-5), JobStatus.CANCELED)
    # Another company's jobs count nowhere here.
    make.job(make.company(), start=local_today_at(10))
    db.session.commit()

    html = client.get("/jobs").get_data(as_text=True)
    assert tab_counts(html) == {
        "today": "5",
        "upcoming": "2",
        "in_progress": "3",
        "finished": "3",
        "canceled": "2",
    }
    for tab, count in tab_counts(html).items():
        rows = board_rows(client.get(f"/jobs?tab={tab}").get_data(as_text=True))
        assert len(rows) == int(count), tab


def test_tab_counts_stop_at_the_cap(make, client, company_tech_customer, monkeypatch):
    from app.services import job_queries

    monkeypatch.setattr(job_queries, "COUNT_CAP", 3)
    company, _tech, customer = company_tech_customer
    for i in range(5):
        old = make.job(company, customer=customer, start=local_today_at(9, days=-1 - i))
        old.status = JobStatus.FINISHED
    for i in range(3):
        make.job(company, customer=customer, start=local_today_at(9, days=1 + i))
    db.session.commit()
    counts = tab_counts(client.get("/jobs").get_data(as_text=True))
    assert counts["finished"] == "3+"
    assert counts["upcoming"] == "3"
    counts = tab_counts(client.get("/jobs?q=carl").get_data(as_text=True))
    assert (counts["finished"], counts["upcoming"]) == ("3+", "3")


def test_search_results_page_too(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    other = make.customer(company, name="Dora Other", phone="+15125550900")
    wanted = []
    for i in range(30):
        start = local_today_at(8) + timedelta(minutes=i)
        wanted.append(make.job(company, customer=customer, start=start, description="Boiler"))
        make.job(company, customer=other, start=start, description="Sink")
    db.session.commit()
    first = client.get("/jobs?q=carl").get_data(as_text=True)
    assert board_rows(first) == [str(j.number) for j in wanted[:25]]
    assert tab_counts(first)["today"] == "30"
    next_url = page_links(first)["next"]
    assert "q=carl" in next_url
    second = client.get(next_url).get_data(as_text=True)
    assert board_rows(second) == [str(j.number) for j in wanted[25:]]
    back = client.get(page_links(second)["prev"]).get_data(as_text=True)
    assert board_rows(back) == [str(j.number) for j in wanted[:25]]


@pytest.mark.parametrize("query", ["100%", "a_b", "back\\slash"])
def test_search_wildcards_are_plain_characters(make, client, company_tech_customer, query):
    company, _tech, customer = company_tech_customer
    plain = make.job(company, customer=customer, start=local_today_at(10), description="Drain")
    wanted = make.job(
        company, customer=customer, start=local_today_at(11), description=f"Pipe {query} x"
    )
    db.session.commit()
    html = client.get("/jobs", query_string={"q": query}).get_data(as_text=True)
    assert board_rows(html) == [str(wanted.number)]
    assert str(plain.number) not in board_rows(html)


def test_search_is_scoped_to_the_company(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    other = make.company()
    make.job(other, customer=make.customer(other, name="Carl Elsewhere"), start=local_today_at(9))
    mine = make.job(company, customer=customer, start=local_today_at(10))
    db.session.commit()
    html = client.get("/jobs?q=carl").get_data(as_text=True)
    assert board_rows(html) == [str(mine.number)]
    assert tab_counts(html)["today"] == "1"


def test_board_query_count_does_not_grow_with_rows(
    make, client, company_tech_customer, count_queries
):
    company, tech, _customer = company_tech_customer
    second_tech = make.user(company, role=Role.TECH)

    def add_jobs(n):
        for i in range(n):
            person = make.customer(company)
            make.job(
                company,
                customer=person,
                techs=[tech, second_tech],
                start=local_today_at(7) + timedelta(minutes=i),
            )
        db.session.commit()

    def statements_for_board() -> tuple[int, int]:
        db.session.expire_all()
        with count_queries() as statements:
            html = client.get("/jobs?tab=today").get_data(as_text=True)
        return len(statements), len(board_rows(html))

    add_jobs(3)
    few, few_rows = statements_for_board()
    add_jobs(27)
    many, many_rows = statements_for_board()
    assert (few_rows, many_rows) == (3, 25)
    assert few == many, f"{few} statements for 3 rows, {many} for 25"


# --- Booking -----------------------------------------------------------------------------


def booking(customer, **overrides):
    data = {
        "customer_id": str(customer),
        "description": "Water heater flush",
        "address": "",
        "date": "2026-07-01",
        "start_time": "09:00",
        "end_time": "11:30",
        "notes": "Side gate",
    }
    data.update(overrides)
    return data


def test_booking_stores_local_time_as_utc_and_assigns_techs(client, company_tech_customer):
    _company, tech, customer = company_tech_customer
    data = booking(customer.id)
    data["tech_ids"] = [str(tech.id)]
    response = client.post("/jobs/new", data=data)
    assert response.status_code == 302
    job = db.session.scalars(sa.select(Job)).one()
    assert response.headers["Location"] == f"/jobs/{job.id}"
    # 9:00 in Chicago in July (CDT, UTC-5) is 14:00 UTC.
    assert job.scheduled_start == datetime(2026, 7, 1, 14, 0, tzinfo=UTC)
    assert job.scheduled_end == datetime(2026, 7, 1, 16, 30, tzinfo=UTC)
    assert [t.id for t in job.techs] == [tech.id]
    assert job.notes == "Side gate"
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "booked for Carl Customer" in page
    assert f"9:00 AM {DASH} 11:30 AM" in page


def test_new_job_form_lists_techs_and_office_people(make, client, company_tech_customer):
    company, _tech, _customer = company_tech_customer
    make.user(company, role=Role.TECH, name="Gone Tech", active=False)
    db.session.commit()
    html = client.get("/jobs/new").get_data(as_text=True)
    assert "Tina Tech" in html
    assert f"{company.owner.name} (Owner)" in html
    assert "Gone Tech" not in html
    assert 'type="date"' in html and 'type="time"' in html


def test_new_job_from_a_customer_page_preselects_them(make, client, company_tech_customer):
    _company, _tech, customer = company_tech_customer
    customer.address = "77 Oak Ave"
    db.session.commit()
    html = client.get(f"/jobs/new?customer_id={customer.id}").get_data(as_text=True)
    # The picker shows them as the chosen customer, no search needed.
    assert f'<input type="hidden" name="customer_id" id="customer_id" value="{customer.id}"' in html
    assert '<span class="picker-name">Carl Customer</span>' in html
    assert "data-picker-search hidden" in html
    assert 'value="77 Oak Ave"' in html


def test_new_job_for_another_companys_customer_is_404(make, client, company_tech_customer):
    stranger = make.customer(make.company())
    db.session.commit()
    assert client.get(f"/jobs/new?customer_id={stranger.id}").status_code == 404
    response = client.post("/jobs/new", data=booking(stranger.id))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "customer_id") == (
        "That customer was not found."
    )
    assert db.session.scalar(sa.select(sa.func.count(Job.id))) == 0


def field_error(html: str, field_id: str) -> str | None:
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', html)
    return match.group(1) if match else None


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"end_time": "08:00"}, "end_time", "The end must be after the start."),
        ({"end_time": "09:00"}, "end_time", "The end must be after the start."),
        ({"description": "  "}, "description", "Describe the work."),
        ({"date": ""}, "date", "Pick the day of the visit."),
        ({"start_time": "nine"}, "start_time", "Not a valid time value."),
        ({"customer_id": "0"}, "customer_id", "Pick a customer."),
        ({"customer_id": ""}, "customer_id", "Pick a customer."),
        ({"customer_id": "999999"}, "customer_id", "That customer was not found."),
    ],
)
def test_booking_errors_show_at_the_field_and_keep_the_input(
    client, company_tech_customer, overrides, field, message
):
    _company, _tech, customer = company_tech_customer
    response = client.post("/jobs/new", data=booking(customer.id, **overrides))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, field) == message
    assert "Side gate</textarea>" in html  # nothing typed is lost
    assert db.session.scalar(sa.select(sa.func.count(Job.id))) == 0


def test_booking_a_tech_of_another_company_is_refused(make, client, company_tech_customer):
    _company, _tech, customer = company_tech_customer
    outsider = make.user(make.company(), role=Role.TECH)
    db.session.commit()
    data = booking(customer.id)
    data["tech_ids"] = [str(outsider.id)]
    response = client.post("/jobs/new", data=data)
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "tech_ids")
    assert db.session.scalar(sa.select(sa.func.count(Job.id))) == 0


def test_new_job_without_customers_points_to_creating_one(make, client, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    html = client.get("/jobs/new").get_data(as_text=True)
    assert "You have no customers yet" in html
    assert 'href="/customers/new?then=job"' in html


# --- The job page ------------------------------------------------------------------------


def test_job_page_shows_details_techs_and_status(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer
    job = make.job(company, customer=customer, techs=[tech], notes="Gate code 1234")
    db.session.commit()
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f"Job #{job.number}" in html
    assert 'href="tel:+15125550177"' in html
    assert "Gate code 1234" in html
    assert 'id="job-techs"' in html and "Tina Tech" in html
    assert 'id="job-schedule"' in html and 'id="job-timeline"' in html
    assert 'class="badge badge-scheduled"' in html
    assert "Cancel job" in html


def add_message(job, **fields) -> Message:
    conversation = conversation_for(
        company=job.company, phone=job.customer.mobile_phone, customer=job.customer
    )
    values = {
        "company_id": job.company_id,
        "conversation_id": conversation.id,
        "direction": Direction.OUT,
        "kind": MessageKind.JOB_SCHEDULED,
        "from_phone": "+15126660001",
        "to_phone": job.customer.mobile_phone,
        "body": "Hi!",
        "status": MessageStatus.DELIVERED,
        "job_id": job.id,
    }
    values.update(fields)
    message = Message(**values)
    db.session.add(message)
    db.session.flush()
    return message


def test_timeline_lists_status_events_and_texts_in_time_order(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer
    job = make.job(company, customer=customer, techs=[tech])
    t0 = job.created_at
    add_message(job, body="Your visit is booked", created_at=t0 + timedelta(seconds=1))
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=20)
    job.on_my_way_at = t0 + timedelta(minutes=5)
    add_message(
        job,
        kind=MessageKind.ON_MY_WAY,
        body="Tina is on the way",
        status=MessageStatus.FAILED,
        error_code=30003,
        created_at=t0 + timedelta(minutes=6),
    )
    add_message(
        job,
        direction=Direction.IN,
        kind=MessageKind.INBOUND,
        body="See you <b>soon</b>",
        status=MessageStatus.RECEIVED,
        from_phone=customer.mobile_phone,
        to_phone="+15126660001",
        created_at=t0 + timedelta(minutes=7),
    )
    db.session.add(
        SkippedText(
            company_id=company.id,
            job_id=job.id,
            kind=MessageKind.REMINDER,
            reason="no_number",
            detail="Drip Plumbing has no custom SMS number yet.",
            created_at=t0 + timedelta(minutes=8),
        )
    )
    other_job = make.job(company, customer=customer)
    add_message(other_job, body="Not this job")
    db.session.commit()

    html = client.get(f"/jobs/{job.id}/timeline", headers=HX).get_data(as_text=True)

    assert html.lstrip().startswith('<section id="job-timeline"')
    order = [
        "Job created",
        "Your visit is booked",
        "Tina Tech is on the way, ETA 20 min",
        "Tina is on the way",
        "See you &lt;b&gt;soon&lt;/b&gt;",
        "Reminder text",
        "Drip Plumbing has no custom SMS number yet.",
    ]
    positions = [html.index(text) for text in order]
    assert positions == sorted(positions)
    assert "Not this job" not in html
    assert "badge-msg-delivered" in html and "badge-msg-failed" in html
    assert "Failed" in html and "Received" in html
    assert "unreachable" in html  # 30003 in plain words
    assert "<b>soon</b>" not in html


def test_timeline_polls_only_while_a_text_is_on_its_way(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()
    quiet = client.get(f"/jobs/{job.id}/timeline", headers=HX).get_data(as_text=True)
    assert "every 10s" not in quiet
    add_message(job, status=MessageStatus.PENDING)
    db.session.commit()
    waiting = client.get(f"/jobs/{job.id}/timeline", headers=HX).get_data(as_text=True)
    assert "every 10s" in waiting
    assert "Waiting to send" in waiting


def test_fragment_urls_redirect_to_the_page_without_htmx(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()
    for part in ("techs", "schedule", "timeline"):
        response = client.get(f"/jobs/{job.id}/{part}")
        assert response.status_code == 302
        assert response.headers["Location"] == f"/jobs/{job.id}#job-{part}"


# --- Techs -------------------------------------------------------------------------------


def test_assign_and_unassign_with_htmx_return_the_techs_fragment(
    make, client, company_tech_customer
):
    company, tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()

    response = client.post(f"/jobs/{job.id}/techs", data={"tech_id": tech.id}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="job-techs"')
    assert "Tina Tech" in html and f"/jobs/{job.id}/techs/{tech.id}/remove" in html
    assert "job-timeline-changed" in response.headers["HX-Trigger"]
    db.session.expire_all()
    assert [t.id for t in db.session.get(Job, job.id).techs] == [tech.id]

    response = client.post(f"/jobs/{job.id}/techs/{tech.id}/remove", headers=HX)
    assert response.status_code == 200
    assert "No one assigned yet." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Job, job.id).techs == []


def test_assign_without_htmx_redirects_back_to_the_job(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()
    response = client.post(f"/jobs/{job.id}/techs", data={"tech_id": tech.id})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/jobs/{job.id}#job-techs"
    db.session.expire_all()
    assert [t.id for t in db.session.get(Job, job.id).techs] == [tech.id]


def test_assigning_someone_from_another_company_is_refused(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    outsider = make.user(make.company(), role=Role.TECH)
    db.session.commit()
    response = client.post(f"/jobs/{job.id}/techs", data={"tech_id": outsider.id}, headers=HX)
    assert response.status_code == 400
    assert "Pick a technician from the list." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Job, job.id).techs == []


def test_changing_techs_of_a_finished_job_shows_why_not(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer
    job = make.job(company, customer=customer, techs=[tech])
    job_set_status(job=job, status=JobStatus.STARTED, actor=tech)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=tech)
    db.session.commit()
    response = client.post(f"/jobs/{job.id}/techs/{tech.id}/remove", headers=HX)
    assert response.status_code == 400
    assert f"Job #{job.number} is finished" in response.get_data(as_text=True)
    response = client.post(f"/jobs/{job.id}/techs/{tech.id}/remove")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Job #{job.number} is finished" in page


# --- Reschedule --------------------------------------------------------------------------


def test_reschedule_is_click_to_edit(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer, start=datetime(2026, 7, 1, 14, tzinfo=UTC))
    db.session.commit()

    editor = client.get(f"/jobs/{job.id}/schedule/edit", headers=HX).get_data(as_text=True)
    assert editor.lstrip().startswith('<div id="job-schedule"')
    assert 'value="2026-07-01"' in editor and 'value="09:00"' in editor

    response = client.post(
        f"/jobs/{job.id}/schedule",
        data={"date": "2026-07-02", "start_time": "13:00", "end_time": "15:00"},
        headers=HX,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="job-schedule"')
    assert "Thursday, July 2, 2026" in html and f"1:00 PM {DASH} 3:00 PM" in html
    assert "job-timeline-changed" in response.headers["HX-Trigger"]
    db.session.expire_all()
    assert db.session.get(Job, job.id).scheduled_start == datetime(2026, 7, 2, 18, tzinfo=UTC)


def test_reschedule_errors_stay_in_the_editor(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()
    bad = {"date": "2026-07-02", "start_time": "13:00", "end_time": "12:00"}
    response = client.post(f"/jobs/{job.id}/schedule", data=bad, headers=HX)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_error(html, "end_time") == "The end must be after the start."
    assert 'value="2026-07-02"' in html
    # Without JavaScript: the whole page, editor open, same message.
    response = client.post(f"/jobs/{job.id}/schedule", data=bad)
    assert response.status_code == 422
    assert "<html" in response.get_data(as_text=True)
    assert field_error(response.get_data(as_text=True), "end_time")


def test_reschedule_without_htmx(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()
    page = client.get(f"/jobs/{job.id}/schedule/edit").get_data(as_text=True)
    assert "<html" in page and "Save new time" in page
    response = client.post(
        f"/jobs/{job.id}/schedule",
        data={"date": "2026-12-01", "start_time": "08:00", "end_time": "09:00"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Job, job.id).scheduled_start == datetime(2026, 12, 1, 14, tzinfo=UTC)


# --- Edit --------------------------------------------------------------------------------


def test_edit_job_prefills_and_saves(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer
    job = make.job(
        company,
        customer=customer,
        techs=[tech],
        start=datetime(2026, 1, 15, 15, tzinfo=UTC),
        description="Old words",
    )
    db.session.commit()
    form = client.get(f"/jobs/{job.id}/edit").get_data(as_text=True)
    assert 'value="Old words"' in form
    assert 'value="2026-01-15"' in form and 'value="09:00"' in form  # CST: UTC-6
    checkbox = re.search(rf'<input[^>]*name="tech_ids"[^>]*value="{tech.id}"[^>]*>', form)
    assert checkbox and "checked" in checkbox.group(0)

    response = client.post(
        f"/jobs/{job.id}/edit",
        data={
            "description": "New words",
            "address": "5 Pine Rd",
            "date": "2026-01-16",
            "start_time": "10:00",
            "end_time": "12:00",
            "notes": "",
            "tech_ids": [str(company.owner.id)],
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Job, job.id)
    assert saved.description == "New words"
    assert saved.address == "5 Pine Rd"
    assert saved.scheduled_start == datetime(2026, 1, 16, 16, tzinfo=UTC)
    assert [t.id for t in saved.techs] == [company.owner.id]


def test_edit_job_refusal_is_shown_on_the_form(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer
    job = make.job(company, customer=customer, techs=[tech])
    job_set_status(job=job, status=JobStatus.CANCELED, actor=company.owner)
    db.session.commit()
    response = client.post(
        f"/jobs/{job.id}/edit",
        data={"description": "x", "date": "2030-01-01", "start_time": "10:00", "end_time": "11:00"},
    )
    assert response.status_code == 422
    assert "canceled; its time can&#39;t be changed" in response.get_data(as_text=True)


# --- Cancel and reopen -------------------------------------------------------------------


def test_cancel_and_reopen_with_htmx(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()

    response = client.post(f"/jobs/{job.id}/status", data={"status": "canceled"}, headers=HX)
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith('<div id="job-status"')
    assert "badge-canceled" in html and "Reopen job" in html
    assert "job-status-changed" in response.headers["HX-Trigger"]

    response = client.post(f"/jobs/{job.id}/status", data={"status": "scheduled"}, headers=HX)
    assert "badge-scheduled" in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == JobStatus.SCHEDULED


def test_cancel_twice_changes_nothing_the_second_time(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()
    client.post(f"/jobs/{job.id}/status", data={"status": "canceled"}, headers=HX)
    again = client.post(f"/jobs/{job.id}/status", data={"status": "canceled"}, headers=HX)
    assert again.status_code == 200
    assert "HX-Trigger" not in again.headers


def test_canceling_a_finished_job_shows_the_services_message(make, client, company_tech_customer):
    company, tech, customer = company_tech_customer
    job = make.job(company, customer=customer, techs=[tech])
    job_set_status(job=job, status=JobStatus.STARTED, actor=tech)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=tech)
    db.session.commit()
    response = client.post(f"/jobs/{job.id}/status", data={"status": "canceled"}, headers=HX)
    assert response.status_code == 409
    assert f"Job #{job.number} is finished; it can&#39;t be marked canceled." in response.get_data(
        as_text=True
    )
    plain = client.post(f"/jobs/{job.id}/status", data={"status": "canceled"})
    assert plain.status_code == 302
    page = client.get(plain.headers["Location"]).get_data(as_text=True)
    assert "it can&#39;t be marked canceled" in page


def test_the_office_cannot_tap_a_techs_buttons(make, client, company_tech_customer):
    company, _tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()
    response = client.post(f"/jobs/{job.id}/status", data={"status": "finished"}, headers=HX)
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(Job, job.id).status == JobStatus.SCHEDULED


# --- Escaping ----------------------------------------------------------------------------


def test_user_typed_text_is_shown_as_text(make, client, company_tech_customer):
    company, _tech, _customer = company_tech_customer
    evil = make.customer(company, name="<script>alert(1)</script>", phone="+15125550999")
    job = make.job(
        company,
        customer=evil,
        description="<img src=x onerror=alert(2)>",
        notes="<b>bold</b> & <i>more</i>",
        start=local_today_at(12),
    )
    db.session.commit()
    pages = [
        client.get("/jobs").get_data(as_text=True),
        client.get("/jobs?q=<script>").get_data(as_text=True),
        client.get(f"/jobs/{job.id}").get_data(as_text=True),
        client.get(f"/jobs/{job.id}/edit").get_data(as_text=True),
    ]
    for html in pages:
        assert "<script>alert(1)</script>" not in html
        assert "<img src=x" not in html
        assert "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;i&gt;more&lt;/i&gt;" in pages[2]


def test_htmx_mutations_need_the_pages_csrf_token(
    make, client, company_tech_customer, csrf_enabled
):
    company, tech, customer = company_tech_customer
    job = make.job(company, customer=customer)
    db.session.commit()
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)

    refused = client.post(f"/jobs/{job.id}/techs", data={"tech_id": tech.id}, headers=HX)
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(Job, job.id).techs == []

    accepted = client.post(
        f"/jobs/{job.id}/techs", data={"tech_id": tech.id}, headers={**HX, "X-CSRFToken": token}
    )
    assert accepted.status_code == 200
    db.session.expire_all()
    assert [t.id for t in db.session.get(Job, job.id).techs] == [tech.id]

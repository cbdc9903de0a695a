"""The office's main path in real Chromium: customer → job → tech → on today's board."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Role, utcnow
from tests.fixtures.live import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def office(make):
    company = make.company(name="Drip Plumbing", time_zone="America/Chicago")
    tech = make.user(company, role=Role.TECH, name="Tina Tech")
    db.session.commit()
    return company, tech


def test_owner_books_a_job_assigns_a_tech_and_sees_it_on_the_board(
    page, phone_page, live_server, browser_login, office
):
    company, _tech = office
    page.set_viewport_size({"width": 1366, "height": 900})
    # The board's search waits 300 ms after the last keystroke (htmx delay): with
    # Playwright's clock (time still flows) the test skips that pause.
    page.clock.install()
    browser_login(page, company.owner)
    base = live_server.url

    # A new customer, reached from "New job" the way the office would.
    page.goto(base + "/jobs/new")
    page.get_by_role("link", name="Add a customer").click()
    page.fill("input[name=name]", "Avery Johnson")
    page.fill("input[name=mobile_phone]", "512 555 0101")
    page.fill("input[name=address]", "1201 Barton Springs Rd")
    page.get_by_role("button", name="Add customer").click()

    # Back on the booking form with Avery preselected and her address filled in.
    expect(page.locator("[data-picker-chip]")).to_contain_text("Avery Johnson")
    expect(page.locator("input[name=address]")).to_have_value("1201 Barton Springs Rd")
    today = utcnow().astimezone(ZoneInfo("America/Chicago")).date().isoformat()
    page.fill("input[name=description]", "Replace kitchen faucet")
    page.fill("input[name=date]", today)
    page.fill("input[name=start_time]", "13:00")
    page.fill("input[name=end_time]", "15:00")
    page.get_by_role("button", name="Book job").click()

    # The job page: assign Tina through the htmx fragment, no reload.
    expect(page.locator(".flash-success")).to_contain_text("booked for Avery Johnson")
    techs = page.locator("#job-techs")
    expect(techs).to_contain_text("No one assigned yet.")
    page.select_option("select[name=tech_id]", label="Tina Tech")
    techs.get_by_role("button", name="Assign").click()
    expect(techs.get_by_role("button", name="Remove Tina Tech from this job")).to_be_visible()
    screenshot(page, "office-job-detail")

    # The board's Today tab shows it with the customer, the window, the tech and the status.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    expect(page.locator(".tabs a[aria-current=page]")).to_contain_text("Today")
    row = page.locator("tr", has_text="Avery Johnson")
    expect(row).to_contain_text("1:00 PM \N{EN DASH} 3:00 PM")
    expect(row).to_contain_text("Tina Tech")
    expect(row).to_contain_text("1201 Barton Springs Rd")
    expect(row.locator(".badge-scheduled")).to_have_text("Scheduled")

    # Live search narrows the board without a reload and puts the query in the URL (typed
    # once the page's scripts have run, so htmx hears it).
    page.wait_for_load_state()
    page.fill("#job-search", "nobody by this name")
    page.clock.fast_forward(300)
    expect(page.locator("#job-board")).to_contain_text("match")
    expect(page).to_have_url(f"{base}/jobs?tab=today&q=nobody%20by%20this%20name")
    page.fill("#job-search", "faucet")
    page.clock.fast_forward(300)
    expect(page.locator("tr", has_text="Avery Johnson")).to_be_visible()
    screenshot(page, "office-board-desktop")

    # Desktop-first, but a phone must still be able to read the board.
    browser_login(phone_page, company.owner, then="/jobs")
    phone_row = phone_page.locator("tr", has_text="Avery Johnson")
    expect(phone_row).to_be_visible()
    scroll_width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"the board scrolls sideways on a phone ({scroll_width}px)"
    screenshot(phone_page, "office-board-phone")


def test_past_jobs_page_older_and_newer_in_place(page, live_server, browser_login, make, office):
    company, _tech = office
    customer = make.customer(company, name="Paige Older")
    start = utcnow().replace(microsecond=0)
    for day in range(1, 31):
        job = make.job(company, customer=customer, start=start - timedelta(days=day))
        job.status = "finished"
    db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_login(page, company.owner)
    base = live_server.url
    page.goto(base + "/jobs?tab=finished")
    rows = page.locator("#job-board tbody tr")
    expect(rows).to_have_count(25)
    expect(page.locator(".tabs a[aria-current=page] .tab-count")).to_have_text("30")

    # "Older" swaps the board in place (htmx) and puts the cursor in the address bar.
    page.get_by_role("link", name="Older →").click()
    expect(rows).to_have_count(5)
    expect(page).to_have_url(re.compile(r"/jobs\?tab=finished&after=\d{8}T\d{6}\.\d{6}-\d+$"))
    expect(page.get_by_role("link", name="Older →")).to_have_count(0)

    page.get_by_role("link", name="← Newer").click()
    expect(rows).to_have_count(25)
    expect(page.get_by_role("link", name="← Newer")).to_have_count(0)
    # The back button returns to the older page (the URL is the state).
    page.go_back()
    expect(page).to_have_url(re.compile(r"after="))

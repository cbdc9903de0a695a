"""The office's main path in real Chromium: customer → job → tech → on today's board."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Role, utcnow

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

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
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 900})
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
    page.screenshot(path=str(ARTIFACTS / "office-job-detail.png"), full_page=True)

    # The board's Today tab shows it with the customer, the window, the tech and the status.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    expect(page.locator(".tabs a[aria-current=page]")).to_contain_text("Today")
    row = page.locator("tr", has_text="Avery Johnson")
    expect(row).to_contain_text("1:00 PM \N{EN DASH} 3:00 PM")
    expect(row).to_contain_text("Tina Tech")
    expect(row).to_contain_text("1201 Barton Springs Rd")
    expect(row.locator(".badge-scheduled")).to_have_text("Scheduled")

    # Live search narrows the board without a reload and puts the query in the URL.
    page.fill("#job-search", "nobody by this name")
    expect(page.locator("#job-board")).to_contain_text("match")
    expect(page).to_have_url(f"{base}/jobs?tab=today&q=nobody%20by%20this%20name")
    page.fill("#job-search", "faucet")
    expect(page.locator("tr", has_text="Avery Johnson")).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "office-board-desktop.png"), full_page=True)

    # Desktop-first, but a phone must still be able to read the board.
    browser_login(phone_page, company.owner)
    phone_page.goto(base + "/jobs")
    phone_row = phone_page.locator("tr", has_text="Avery Johnson")
    expect(phone_row).to_be_visible()
    scroll_width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"the board scrolls sideways on a phone ({scroll_width}px)"
    phone_page.screenshot(path=str(ARTIFACTS / "office-board-phone.png"), full_page=True)

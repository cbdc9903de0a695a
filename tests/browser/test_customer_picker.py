"""The customer picker in real Chromium: type part of a name or number, pick, save."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Customer, Estimate, Job, Role, utcnow
from tests.fixtures.live import screenshot, serious_axe_violations

# Screenshots of the picker open and chosen, on a phone and on a desktop, to look at.

pytestmark = pytest.mark.browser


@pytest.fixture
def office(make):
    company = make.company(name="Drip Plumbing", time_zone="America/Chicago")
    make.user(company, role=Role.TECH, name="Tina Tech")
    avery = make.customer(
        company, name="Avery Johnson", phone="+15125550101", address="1201 Barton Springs Rd"
    )
    make.customer(company, name="Jordan Avery", phone="+15125550102", address="77 Oak Ave")
    make.customer(company, name="Averill Long-Surname Stonebridge", phone="+15125550103")
    for n in range(30):
        make.customer(company, name=f"Customer {n:02d}", phone=f"+1512555{n + 200:04d}")
    make.customer(make.company(), name="Avery Elsewhere", phone="+15125550104")
    db.session.commit()
    return company, avery


def matches(page):
    return page.get_by_role("listbox", name="Customer").get_by_role("option")


def search_for(page, box, text: str) -> None:
    """Type into the picker's box, then skip the 250 ms pause htmx waits after the last
    keystroke (Playwright's clock, installed before the page loaded; time still flows)."""
    box.fill(text)
    page.clock.fast_forward(250)


def assert_tap_target(locator) -> None:
    box = locator.bounding_box()
    assert box is not None and box["height"] >= 44, f"{locator} is {box} (under 44px high)"


def test_booking_on_a_phone_picks_the_customer_by_typing_part_of_the_name(
    phone_page, live_server, browser_login, office
):
    company, avery = office
    page = phone_page
    page.clock.install()
    browser_login(page, company.owner, then="/jobs/new")

    box = page.get_by_role("combobox", name="Customer")
    search_for(page, box, "aver")
    options = matches(page)
    # Names starting with it first, then a word starting with it; never another company's.
    expect(options).to_have_text(
        [re.compile(r"^\s*Averill"), re.compile(r"^\s*Avery Johnson"), re.compile("Jordan Avery")]
    )
    expect(box).to_have_attribute("aria-expanded", "true")
    expect(page.get_by_role("listbox")).not_to_contain_text("Elsewhere")
    option = options.filter(has_text="Avery Johnson")
    expect(option).to_contain_text("(512) 555-0101")
    expect(option).to_contain_text("1201 Barton Springs Rd")
    assert_tap_target(option)
    scroll_width = page.evaluate("document.documentElement.scrollWidth")
    assert scroll_width <= 390, f"the picker scrolls sideways on a phone ({scroll_width}px)"
    screenshot(page, "picker-phone-open", full_page=False)

    option.tap()
    chip = page.locator("[data-picker-chip]")
    expect(chip).to_be_visible()
    expect(chip).to_contain_text("Avery Johnson")
    expect(box).to_be_hidden()
    expect(page.locator("input[name=customer_id]")).to_have_value(str(avery.id))
    expect(page.locator("input[name=address]")).to_have_value("1201 Barton Springs Rd")
    change = chip.get_by_role("button", name="Change customer")
    assert_tap_target(change)
    screenshot(page, "picker-phone-chosen", full_page=False)

    today = utcnow().astimezone(ZoneInfo("America/Chicago")).date().isoformat()
    page.fill("input[name=description]", "Replace kitchen faucet")
    page.fill("input[name=date]", today)
    page.fill("input[name=start_time]", "13:00")
    page.fill("input[name=end_time]", "15:00")
    page.get_by_role("button", name="Book job").tap()

    expect(page.locator(".flash-success")).to_contain_text("booked for Avery Johnson")
    job = db.session.query(Job).one()
    assert job.customer_id == avery.id
    assert job.address == "1201 Barton Springs Rd"


def test_change_searches_again_and_a_new_pick_replaces_the_address(
    page, live_server, browser_login, office
):
    company, avery = office
    page.set_viewport_size({"width": 1280, "height": 800})
    page.clock.install()
    browser_login(page, company.owner, then=f"/jobs/new?customer_id={avery.id}")

    # Opened from Avery's page: the chip, no search.
    chip = page.locator("[data-picker-chip]")
    expect(chip).to_contain_text("Avery Johnson")
    expect(page.locator("input[name=address]")).to_have_value("1201 Barton Springs Rd")

    chip.get_by_role("button", name="Change customer").click()
    box = page.get_by_role("combobox", name="Customer")
    expect(box).to_be_focused()
    # An empty box lists the newest customers.
    expect(matches(page).first).to_contain_text("Customer 29")
    search_for(page, box, "jordan")
    expect(matches(page)).to_have_count(1)
    page.keyboard.press("ArrowDown")
    expect(matches(page).first).to_have_attribute("aria-selected", "true")
    page.keyboard.press("Enter")
    expect(chip).to_contain_text("Jordan Avery")
    # The address the form filled for Avery follows the new pick; nothing was submitted.
    expect(page.locator("input[name=address]")).to_have_value("77 Oak Ave")
    expect(page).to_have_url(f"{live_server.url}/jobs/new?customer_id={avery.id}")

    # Enter in another field still submits the booking (not Find, not Change).
    page.fill("input[name=description]", "Annual service")
    page.locator("input[name=description]").press("Enter")
    expect(page.locator(".flash-success")).to_contain_text("booked for Jordan Avery")


def test_new_estimate_by_phone_number_with_the_keyboard(page, live_server, browser_login, office):
    company, _avery = office
    page.set_viewport_size({"width": 1280, "height": 800})
    page.clock.install()
    browser_login(page, company.owner, then="/estimates/new")

    box = page.get_by_role("combobox", name="Customer")
    box.click()
    box.type("(512) 555-01")
    page.clock.fast_forward(250)
    options = matches(page)
    expect(options).to_have_count(3)
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    active = options.nth(1)
    expect(active).to_have_attribute("aria-selected", "true")
    expect(box).to_have_attribute("aria-activedescendant", active.get_attribute("id"))
    screenshot(page, "picker-desktop-open", full_page=False)
    assert serious_axe_violations(page) == []
    page.keyboard.press("Escape")
    expect(box).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    chip = page.locator("[data-picker-chip]")
    expect(chip).to_contain_text("Averill Long-Surname Stonebridge")
    screenshot(page, "picker-desktop-chosen", full_page=False)
    assert serious_axe_violations(page) == []

    page.fill("input[name=title]", "Water heater replacement")
    page.get_by_role("button", name="Create estimate").click()
    expect(page.locator(".flash-success")).to_contain_text("created")
    estimate = db.session.query(Estimate).one()
    assert estimate.customer.name == "Averill Long-Surname Stonebridge"


def test_without_a_pick_the_error_shows_at_the_picker(page, live_server, browser_login, office):
    company, _avery = office
    page.set_viewport_size({"width": 1280, "height": 800})
    page.clock.install()
    browser_login(page, company.owner, then="/invoices/new")
    page.get_by_role("button", name="Create invoice").click()
    expect(page.locator("#customer_id-error")).to_have_text("Pick a customer.")
    box = page.get_by_role("combobox", name="Customer")
    expect(box).to_have_attribute("aria-invalid", "true")
    # The form came back from a POST: type once its scripts have run (htmx listens), or
    # the keystrokes go by unheard on a busy machine.
    page.wait_for_load_state()
    search_for(page, box, "avery john")
    matches(page).filter(has_text="Avery Johnson").click()
    expect(page.locator("#customer_id-error")).to_have_count(0)


def test_without_javascript_find_and_pick_submit_the_form(
    browser, live_server, browser_login, office
):
    company, avery = office
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        browser_login(page, company.owner, then="/jobs/new")
        page.fill("input[name=description]", "Replace kitchen faucet")
        page.get_by_role("combobox", name="Customer").fill("barton")
        page.get_by_role("button", name="Find").click()
        # The form comes back with the matches and what was typed.
        expect(page.locator("input[name=description]")).to_have_value("Replace kitchen faucet")
        matches(page).filter(has_text="Avery Johnson").click()
        expect(page.locator("[data-picker-chip]")).to_contain_text("Avery Johnson")
        expect(page.locator("input[name=customer_id]")).to_have_value(str(avery.id))
        screenshot(page, "picker-phone-no-js-chosen", full_page=False)
        page.get_by_role("button", name="Book job").click()
        expect(page.locator(".flash-success")).to_contain_text("booked for Avery Johnson")
    finally:
        context.close()


def test_the_estimate_job_select_follows_the_chosen_customer(
    phone_page, live_server, browser_login, office, make
):
    company, avery = office
    jordan = db.session.scalars(
        sa.select(Customer).filter_by(company_id=company.id, name="Jordan Avery")
    ).one()
    mine = make.job(company, customer=avery, description="Water heater")
    theirs = make.job(company, customer=jordan, description="Garbage disposal")
    db.session.commit()
    page = phone_page
    page.clock.install()
    browser_login(page, company.owner, then="/estimates/new")
    select = page.get_by_label("Job (optional)")
    expect(select.locator("option")).to_have_text(["— No job —"])

    search_for(page, page.get_by_role("combobox", name="Customer"), "avery j")
    matches(page).filter(has_text="Avery Johnson").click()
    expect(select.locator("option")).to_have_text(["— No job —", f"#{mine.number} · Water heater"])
    select.select_option(label=f"#{mine.number} · Water heater")

    page.get_by_role("button", name="Change customer").click()
    search_for(page, page.get_by_role("combobox", name="Customer"), "jordan")
    matches(page).filter(has_text="Jordan Avery").click()
    expect(select.locator("option")).to_have_text(
        ["— No job —", f"#{theirs.number} · Garbage disposal"]
    )
    expect(select).to_have_value("0")

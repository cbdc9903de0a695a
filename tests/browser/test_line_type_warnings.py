"""In real Chromium: a tech saves a mobile Twilio Lookup calls a landline on their profile
(390x844) and is warned; the owner sees it on the team page, adds a customer whose mobile
is a landline and sees the warning on the customer page, and sets a line type on
/dev/lookups (1280 px). Axe clean; `make screenshots` saves the pages to look at."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Role
from tests.fixtures.live import PHONE, screenshot, serious_axe_violations

pytestmark = pytest.mark.browser

TECH_LINE = "+15125550142"
CUSTOMER_LINE = "+15125550101"


def test_landline_warnings_on_phone_and_desktop(browser, live_server, browser_login, make, fake):
    company = make.company(name="Lone Star Plumbing")
    owner = company.owner
    tech = make.user(company, role=Role.TECH, name="Sam Lee")
    db.session.commit()
    fake.lookups.set_line_type(TECH_LINE, "landline")
    fake.lookups.set_line_type(CUSTOMER_LINE, "landline")

    phone_context = browser.new_context(**PHONE)
    phone = phone_context.new_page()
    browser_login(phone, tech, then="/me")
    phone.fill("input[name=mobile_phone]", "(512) 555-0142")
    phone.click("#details-title ~ form button[type=submit]")
    phone.wait_for_url(live_server.url + "/me")
    warning = phone.locator("#line-type-warning")
    assert warning.is_visible()
    assert "is a landline (checked with the carrier)" in warning.inner_text()
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    assert serious_axe_violations(phone) == []
    screenshot(phone, "lookup-profile-phone")
    phone_context.close()

    desktop_context = browser.new_context(viewport={"width": 1280, "height": 800})
    desktop = desktop_context.new_page()
    browser_login(desktop, owner, then="/team")
    assert desktop.locator(f"#line-warning-{tech.id}").inner_text() == (
        "Landline: forwarded texts won't arrive."
    )
    assert serious_axe_violations(desktop) == []
    screenshot(desktop, "lookup-team-desktop")

    desktop.goto(live_server.url + "/customers/new")
    desktop.fill("input[name=name]", "Avery Johnson")
    desktop.fill("input[name=mobile_phone]", "(512) 555-0101")
    desktop.click("button[type=submit]:has-text('Add customer')")
    desktop.wait_for_url("**/customers/*")
    assert "is a landline" in desktop.locator("#line-type-warning").inner_text()
    assert serious_axe_violations(desktop) == []
    screenshot(desktop, "lookup-customer-desktop")

    desktop.goto(live_server.url + "/dev/lookups")
    desktop.fill("input[name=phone]", "(512) 555-0123")
    desktop.select_option("select[name=line_type]", "tollFree")
    desktop.click("button:has-text('Set')")
    desktop.wait_for_url(live_server.url + "/dev/lookups")
    assert desktop.get_by_text("(512) 555-0123: Toll-free").is_visible() is False  # not ours
    assert desktop.locator(".lookup-list li").count() == 2  # the tech's and the customer's
    assert serious_axe_violations(desktop) == []
    screenshot(desktop, "lookup-dev-lookups-desktop")
    desktop_context.close()

    narrow_context = browser.new_context(**PHONE)
    narrow = narrow_context.new_page()
    browser_login(narrow, owner)
    for path, name in (("/dev/lookups", "dev-lookups-phone"), ("/team", "team-phone")):
        narrow.goto(live_server.url + path)
        width = narrow.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (path, width)
        screenshot(narrow, f"lookup-{name}")
    narrow_context.close()

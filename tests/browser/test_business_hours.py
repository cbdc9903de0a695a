"""Settings -> Calls and hours on a phone (390x844): the weekly hours, a holiday, and the
voicemail settings, saved through the real forms."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import BusinessHours, CallSettings, Holiday
from tests.fixtures.live import screenshot, serious_axe_violations

pytestmark = [pytest.mark.browser]


def test_business_hours_editor_on_a_phone(live_server, phone_page, browser, browser_login, make):
    company = make.company("Lone Star Plumbing")
    db.session.commit()
    page = phone_page
    browser_login(page, company.owner, then="/settings")
    page.click("text=Calls and hours")
    expect(page.locator("h1")).to_have_text("Calls and hours")
    expect(page.locator("#hours")).to_contain_text("No hours set yet")

    for day in range(5):
        page.check(f"#day{day}_open")
        page.fill(f"input[name=day{day}_opens]", "07:30")
        page.fill(f"input[name=day{day}_closes]", "18:00")
    page.click("text=Save hours")
    expect(page.locator(".calls-saved")).to_have_text("Business hours saved.")
    # Nothing wider than the phone: the table fits. (Measured once the page's stylesheets
    # have loaded: the saved text is in the DOM before them on a busy machine.)
    page.wait_for_load_state("load")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width

    page.fill("#day", "2026-12-25")
    page.fill("#name", "Christmas")
    page.click("text=Add holiday")
    expect(page.locator(".holiday-list")).to_contain_text("Christmas")

    page.fill("#emergency_phone", "(512) 555-0177")
    page.check("#record_calls")
    page.click("text=Save call settings")
    expect(page.locator(".calls-saved")).to_have_text("Call settings saved.")
    assert serious_axe_violations(page) == []
    screenshot(page, "call-settings-390")

    db.session.expire_all()
    rows = db.session.scalars(sa.select(BusinessHours).order_by(BusinessHours.weekday)).all()
    assert [(r.closed, r.opens_minute, r.closes_minute) for r in rows[:1]] == [(False, 450, 1080)]
    assert [r.closed for r in rows] == [False] * 5 + [True] * 2
    assert db.session.scalars(sa.select(Holiday.name)).all() == ["Christmas"]
    settings = db.session.scalars(sa.select(CallSettings)).one()
    assert (settings.emergency_phone, settings.record_calls) == ("+15125550177", True)

    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    wide = desktop.new_page()
    browser_login(wide, company.owner, then="/settings/calls")
    screenshot(wide, "call-settings-1280")
    desktop.close()

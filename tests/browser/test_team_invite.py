"""In real Chromium: sign up, invite a tech, join through the one-time link, and manage
them from the team page with htmx (role change, deactivation behind a confirm)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role, User
from tests.fixtures.factories import PASSWORD
from tests.fixtures.live import screenshot, serious_axe_violations

pytestmark = pytest.mark.browser


def test_sign_up_invite_join_and_manage(browser, live_server):
    desktop = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="America/Denver"
    )
    owner = desktop.new_page()
    owner.goto(live_server.url + "/signup")
    # The browser's own zone is preselected.
    assert owner.input_value("select[name=time_zone]") == "America/Denver"
    owner.fill("input[name=company_name]", "Lone Star Plumbing")
    owner.fill("input[name=name]", "Rosa Diaz")
    owner.fill("input[name=email]", "rosa@example.com")
    owner.fill("input[name=password]", PASSWORD)
    owner.fill("input[name=business_phone]", "512 555 0150")
    owner.select_option("select[name=time_zone]", "America/Chicago")
    screenshot(owner, "a-signup-desktop")
    assert serious_axe_violations(owner) == []
    owner.click("button[type=submit]")
    owner.wait_for_url(live_server.url + "/settings")
    assert owner.get_by_text("Welcome to ProSMS, Rosa!").is_visible()
    screenshot(owner, "a-settings-desktop")

    owner.click("a.settings-card:has-text('Team')")
    owner.wait_for_url(live_server.url + "/team")
    owner.fill("#invite input[name=email]", "tomas@example.com")
    owner.fill("#invite input[name=name]", "Tomás Reyes")
    owner.select_option("#invite select[name=role]", "tech")
    owner.click("#invite button[type=submit]")
    link_box = owner.locator("#invite-link")
    link_box.wait_for()
    link = link_box.input_value()
    assert link.startswith(live_server.url + "/invite/")
    # htmx swapped the section in place: still on /team, no reload.
    assert owner.url == live_server.url + "/team"
    assert owner.locator(".invitation-list li").count() == 1
    screenshot(owner, "a-team-invited-desktop")

    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    newcomer = phone.new_page()
    newcomer.goto(link)
    assert newcomer.get_by_role("heading", name="Join Lone Star Plumbing").is_visible()
    assert newcomer.input_value("input[name=name]") == "Tomás Reyes"
    newcomer.fill("input[name=password]", PASSWORD)
    newcomer.fill("input[name=confirm]", PASSWORD)
    screenshot(newcomer, "a-invite-accept-phone")
    assert serious_axe_violations(newcomer) == []
    newcomer.click("button[type=submit]")
    newcomer.wait_for_load_state()
    assert "/tech" in newcomer.url

    db.session.expire_all()
    tomas = db.session.scalar(sa.select(User).filter_by(email="tomas@example.com"))
    assert tomas.role == Role.TECH

    # The link is spent.
    spent = phone.new_page()
    response = spent.goto(link)
    assert response.status == 410
    assert spent.get_by_text("already been used").is_visible()

    owner.reload()
    row = owner.locator(f"#user-{tomas.id}")
    row.locator("select[name=role]").select_option("office")
    row.get_by_role("button", name="Save").click()
    owner.locator(f"#user-{tomas.id} option[value=office][selected]").wait_for(state="attached")
    owner.once("dialog", lambda dialog: dialog.accept())
    owner.locator(f"#user-{tomas.id}").get_by_role("button", name="Deactivate").click()
    owner.locator(f"#user-{tomas.id}.is-inactive").wait_for()
    screenshot(owner, "a-team-managed-desktop")
    assert serious_axe_violations(owner) == []

    db.session.expire_all()
    tomas = db.session.get(User, tomas.id)
    assert (tomas.role, tomas.active) == (Role.OFFICE, False)
    # Their open session on the phone ends on its next request.
    newcomer.goto(live_server.url + "/team")
    assert "/login" in newcomer.url

    # The same pages at phone size: none scrolls sideways, axe finds nothing serious.
    owner_phone = phone.new_page()
    owner_phone.goto(live_server.url + "/login")
    owner_phone.fill("input[name=email]", "rosa@example.com")
    owner_phone.fill("input[name=password]", PASSWORD)
    owner_phone.click("button[type=submit]")
    owner_phone.wait_for_load_state()
    for path, name in (
        ("/team", "team-phone"),
        ("/settings/company", "company-phone"),
        ("/settings", "settings-phone"),
    ):
        owner_phone.goto(live_server.url + path)
        screenshot(owner_phone, f"a-{name}")
        width = owner_phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px)"
        assert serious_axe_violations(owner_phone) == [], path
    owner.goto(live_server.url + "/settings/company")
    screenshot(owner, "a-company-desktop")
    desktop.close()
    phone.close()

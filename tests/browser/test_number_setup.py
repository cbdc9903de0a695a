"""A new company owner sets up the custom number: the area code is suggested, numbers are
listed, the warning is confirmed, and the number is shown read-only afterwards."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import PhoneNumber
from app.services.phones import format_phone
from tests.fixtures.live import layout_problems, screenshot
from tests.fixtures.numbers import purchases

pytestmark = pytest.mark.browser


@pytest.fixture
def new_owner(make):
    company = make.company(name="Fresh Start Plumbing", business_phone="+15125550100")
    for n in range(6):
        make.customer(company, phone=f"+1512555{n:04d}")
    for n in range(3):
        make.customer(company, phone=f"+1737555{n:04d}")
    make.customer(company, phone="+12105550001")
    db.session.commit()
    return company.owner


@pytest.mark.parametrize(
    ("size", "viewport"), [("390", {"width": 390, "height": 844}), ("1280", None)]
)
def test_a_new_owner_sets_up_the_custom_number(
    live_server, browser, browser_login, new_owner, numbers_fake, size, viewport
):
    context = browser.new_context(
        **(
            {"viewport": viewport, "is_mobile": True, "has_touch": True}
            if viewport
            else {"viewport": {"width": 1280, "height": 900}}
        )
    )
    page = context.new_page()
    try:
        browser_login(page, new_owner, then="/settings")
        expect(page.locator("#number-notice")).to_contain_text("Texting is off")
        page.click("#number-notice a")

        # The area code of most customers is suggested, with its share.
        suggestion = page.get_by_test_id("suggestion-512")
        expect(suggestion).to_contain_text("60% of your 10 customers")
        expect(suggestion).to_contain_text("Austin, TX")
        expect(page.locator("#area_code")).to_have_value("512")
        screenshot(page, f"number-setup-suggest-{size}")
        assert layout_problems(page, context="main") == []

        # Searching lists numbers in place (htmx), formatted, with their town.
        suggestion.click()
        results = page.locator(".available-numbers li")
        expect(results.first).to_contain_text("(512) ")
        assert results.count() >= 3
        assert "area_code=512" in page.url  # the search survives a reload
        screenshot(page, f"number-setup-results-{size}")
        assert layout_problems(page, context="main") == []
        chosen = results.first.locator(".available-number").inner_text()

        # Choosing warns honestly; without the confirmation nothing is bought.
        results.first.get_by_role("link", name=f"Choose {chosen}").click()
        expect(page.locator(".number-warning h2")).to_have_text(
            "This number cannot be changed later"
        )
        page.get_by_role("button", name=f"Yes, make {chosen} our number").click()
        expect(page.locator("#understood-error")).to_contain_text("Tick the box")
        assert purchases(numbers_fake) == []
        page.check("#understood")
        screenshot(page, f"number-setup-confirm-{size}")
        assert layout_problems(page, context="main") == []
        page.get_by_role("button", name=f"Yes, make {chosen} our number").click()

        # Read-only afterwards.
        expect(page.get_by_test_id("custom-number")).to_have_text(chosen)
        expect(page.locator(".badge-locked")).to_contain_text("Cannot be changed")
        expect(page.locator("#number-notice")).to_have_count(0)
        expect(page.locator("main form")).to_have_count(0)
        screenshot(page, f"number-setup-done-{size}")
        assert layout_problems(page, context="main") == []

        db.session.expire_all()
        stored = db.session.scalars(sa.select(PhoneNumber)).one()
        assert format_phone(stored.e164) == chosen
        assert len(purchases(numbers_fake)) == 1
    finally:
        context.close()

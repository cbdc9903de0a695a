"""A customer's company name, other phones and tags: typed into the form, shown on the
customer page as chips that list who else has the tag, at a phone's width and a desk's."""

from __future__ import annotations

import pytest

from app.extensions import db
from tests.fixtures.live import screenshot

pytestmark = pytest.mark.browser


def _fits(page, width: int) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize(
    ("size", "name"), [({"width": 1280, "height": 800}, "desk"), (None, "phone")]
)
def test_tags_typed_in_the_form_become_chips_that_list_the_tagged_customers(
    make, browser, live_server, browser_login, size, name
):
    from tests.fixtures.live import PHONE, serious_axe_violations

    company = make.company()
    make.customer(company, name="Bella Brown", phone="+15125550102", tags="Maintenance plan")
    customer = make.customer(company, name="Avery Johnson", phone="+15125550101")
    db.session.commit()
    context = browser.new_context(viewport=size) if size else browser.new_context(**PHONE)
    page = context.new_page()
    try:
        browser_login(page, company.owner, then=f"/customers/{customer.id}/edit")
        page.fill("#company_name", "Johnson Family Dental & Orthodontics of Round Rock")
        page.fill("#other_phones", "(512) 555-0199, 512 555 0198 ext 4")
        page.fill("#tags", "VIP, Maintenance plan, Prefers text over calls, x" + "y" * 45)
        page.click("form.customer-form button[type=submit]")
        assert "at most 40 characters" in page.inner_text("#tags-error")
        screenshot(page, f"customer-form-error-{name}")
        _fits(page, size["width"] if size else 390)
        page.fill("#tags", "VIP, Maintenance plan, Prefers text over calls")
        page.click("form.customer-form button[type=submit]")
        page.wait_for_url(f"**/customers/{customer.id}")
        chips = page.locator(".tag-chips a.tag-chip")
        assert chips.all_inner_texts() == ["VIP", "Maintenance plan", "Prefers text over calls"]
        assert "Johnson Family Dental" in page.inner_text(".kv")
        assert "(512) 555-0199" in page.inner_text(".other-phones")
        _fits(page, size["width"] if size else 390)
        assert serious_axe_violations(page) == []
        screenshot(page, f"customer-page-{name}")

        chips.nth(1).click()
        page.wait_for_url("**/customers?tag=Maintenance+plan")
        names = page.locator("#customer-list td[data-label=Name] > a").all_inner_texts()
        assert names == ["Avery Johnson", "Bella Brown"]
        _fits(page, size["width"] if size else 390)
        screenshot(page, f"customer-list-tag-{name}")

        page.goto(f"{live_server.url}/customers/{customer.id}/edit")
        assert page.input_value("#tags") == "VIP, Maintenance plan, Prefers text over calls"
        _fits(page, size["width"] if size else 390)
        screenshot(page, f"customer-form-{name}")
    finally:
        context.close()

"""Every page under the Content-Security-Policy in real Chromium: no violation (no inline
script or handler, no style attribute, no eval), and the htmx parts still work (a search,
a poll, a form that must not be sent twice, the password reset through /dev/mail)."""

from __future__ import annotations

import re

import pytest
from flask import url_for
from playwright.sync_api import expect

from app.extensions import db
from app.models import Role
from tests.fixtures.live import screenshot
from tests.fixtures.tenants import build_tenant

pytestmark = pytest.mark.browser


# Collected inside each page (init scripts run before the page's own and are not subject
# to its policy), together with htmx's own complaint when something asks for eval.
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__violations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
    " at " + e.sourceFile + ":" + e.lineNumber);
});
document.addEventListener("htmx:evalDisallowedError", function () {
  window.__violations.push("htmx wanted eval");
});
"""


class Watcher:
    """CSP complaints of one browser context, from the page and from the console."""

    def __init__(self, context) -> None:
        self.console: list[str] = []
        context.add_init_script(WATCH)
        context.on("console", self._console)

    def _console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.console.append(text)

    def visit(self, page, url: str) -> None:
        response = page.goto(url)
        assert response is not None and response.status < 500, url
        page.wait_for_load_state("load")
        self.check(page, url)

    def check(self, page, where: str) -> None:
        found = page.evaluate("window.__violations || []") + self.console
        assert found == [], f"{where}: {found}"


@pytest.fixture
def shop(make):
    tenant = build_tenant(make, 1, send_documents=True)
    db.session.commit()
    return tenant


def _urls(app, tenant) -> dict[str, list[str]]:
    rows, job = tenant.rows, tenant.rows["job"]
    with app.test_request_context():
        office = [
            url_for("office.jobs"),
            url_for("office.jobs", tab="week"),
            url_for("office.job_new"),
            url_for("office.job_detail", job_id=job.id),
            url_for("office.job_schedule_edit", job_id=job.id),
            url_for("office.customers"),
            url_for("office.customer_new"),
            url_for("office.customer_detail", customer_id=rows["customer"].id),
            url_for("office.inbox"),
            url_for("office.conversation", conversation_id=rows["conversation"].id),
            url_for("office.estimates"),
            url_for("office.estimate_new"),
            url_for("office.estimate_detail", estimate_id=rows["estimate"].id),
            url_for("office.invoices"),
            url_for("office.invoice_new"),
            url_for("office.invoice_detail", invoice_id=rows["invoice"].id),
            url_for("office.billing_settings"),
            url_for("office.templates"),
            url_for("office.template_edit", kind="on_my_way"),
            url_for("office.settings"),
            url_for("office.company_profile"),
            url_for("office.number_setup"),
            url_for("office.number_setup", area_code="512"),
            url_for("office.point_of_contact"),
            url_for("office.team"),
            url_for("auth.profile"),
            url_for("dev.phone", customer=rows["customer"].id),
            url_for("dev.mail"),
            url_for("office.job_detail", job_id=999_999),  # the 404 page
        ]
        tech = [
            url_for("tech.index"),
            url_for("tech.job", job_id=job.id),
            url_for("tech.on_my_way", job_id=job.id),
            url_for("auth.profile"),
        ]
        public = [
            url_for("auth.login"),
            url_for("auth.signup"),
            url_for("auth.forgot_password"),
            url_for("auth.accept_invite", token=tenant.tokens["invitation"]),
            url_for("auth.reset_password_page", token=tenant.tokens["password_reset"]),
            url_for("public.estimate_page", token=rows["estimate"].public_token),
            url_for("public.invoice_page", token=rows["invoice"].public_token),
            url_for("dev.mail"),
        ]
    return {"office": office, "tech": tech, "public": public}


def test_no_page_violates_the_policy(app, browser, live_server, browser_login, shop, dev_mailbox):
    urls = _urls(app, shop)
    base = live_server.url

    # Anonymous: login, sign-up, the token pages, the customer's estimate and invoice.
    context = browser.new_context()
    watcher, page = Watcher(context), context.new_page()
    for path in urls["public"]:
        watcher.visit(page, base + path)
    context.close()

    # The owner at a desk.
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    watcher, page = Watcher(context), context.new_page()
    browser_login(page, shop.users[Role.OWNER])
    watcher.check(page, "login")
    for path in urls["office"]:
        watcher.visit(page, base + path)
    context.close()

    # The tech on a phone.
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    watcher, page = Watcher(context), context.new_page()
    browser_login(page, shop.users[Role.TECH])
    for path in urls["tech"]:
        watcher.visit(page, base + path)
    context.close()


def test_htmx_search_and_polls_work_under_the_policy(
    app, browser, live_server, browser_login, shop
):
    base = live_server.url
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    watcher, page = Watcher(context), context.new_page()
    # Playwright's clock (time still flows) lets the test jump to a poll instead of waiting
    # it out; installed before the first page so htmx's timers are the clock's.
    page.clock.install()
    browser_login(page, shop.users[Role.OWNER])

    # The jobs board's search swaps the board in place (htmx, no reload).
    watcher.visit(page, base + "/jobs?tab=all")
    with page.expect_response(re.compile(r"/jobs\?.*q=leak")):
        page.fill("input[type=search]", "leak")
        page.clock.fast_forward(300)  # the search's htmx delay after the last keystroke
    watcher.check(page, "jobs search")

    # The open conversation polls every 5 s while the tab is visible.
    conversation = shop.rows["conversation"]
    watcher.visit(page, f"{base}/inbox/{conversation.id}")
    with page.expect_request(re.compile(rf"/inbox/{conversation.id}\?.*v="), timeout=12_000):
        page.clock.fast_forward(5_000)
    watcher.check(page, "inbox poll")
    context.close()

    # The tech's job page polls its messages every 4 s.
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    watcher, page = Watcher(context), context.new_page()
    page.clock.install()
    browser_login(page, shop.users[Role.TECH])
    job = shop.rows["job"]
    watcher.visit(page, f"{base}/tech/jobs/{job.id}")
    with page.expect_request(re.compile(rf"/tech/jobs/{job.id}/messages"), timeout=12_000):
        page.clock.fast_forward(4_000)
    watcher.check(page, "tech poll")
    context.close()


def test_forgot_password_through_the_dev_mailbox(browser, live_server, shop, dev_mailbox):
    """The whole reset in the browser: ask, open /dev/mail, follow the link, log in."""
    base = live_server.url
    tech = shop.users[Role.TECH]
    for size in ({"width": 390, "height": 844}, {"width": 1280, "height": 800}):
        context = browser.new_context(viewport=size)
        watcher, page = Watcher(context), context.new_page()
        watcher.visit(page, base + "/login")
        page.get_by_role("link", name="Forgot password?").click()
        page.fill("input[name=email]", tech.email)
        page.get_by_role("button", name="Email me a link").click()
        expect(page.locator(".flash")).to_contain_text("If " + tech.email)
        watcher.visit(page, base + "/dev/mail")
        screenshot(page, f"dev-mail-{size['width']}")
        # The newest email's link (it opens in a new tab; follow it here).
        watcher.visit(page, page.locator(".mail-body a").first.get_attribute("href"))
        expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
        new_password = f"new-password-{size['width']}"
        page.fill("input[name=password]", new_password)
        page.fill("input[name=confirm]", new_password)
        page.get_by_role("button", name="Save the new password").click()
        expect(page.locator(".flash-success")).to_contain_text("Your password is changed")
        page.fill("input[name=email]", tech.email)
        page.fill("input[name=password]", new_password)
        page.click("button[type=submit]")
        expect(page).to_have_url(re.compile(r"/tech$"))
        watcher.check(page, "after the reset")
        context.close()

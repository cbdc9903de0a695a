"""Every office page is usable on a phone: at 390x844 nothing scrolls sideways.

The pages are read from the app's url_map (every GET route of the office blueprint, and the
profile), so a page added later is checked too; id arguments name a real row of the
company (tests/fixtures/tenants.py), with estimates and invoices that have long lines."""

from __future__ import annotations

import pytest
from flask import url_for
from werkzeug.routing import IntegerConverter

from app.extensions import db
from app.models import Role
from tests.fixtures.live import screenshot
from tests.fixtures.tenants import ARG_ROWS, build_tenant, url_map_rules

pytestmark = pytest.mark.browser

# Not pages: files, fragments for htmx, and actions reached by GET only as redirects.
NOT_PAGES = {"office.company_logo", "office.customer_search", "office.voicemail_audio"}
# Pages `make screenshots` saves even when they fit, to look at.
LOOK_AT = {"office.estimate_detail", "office.invoice_detail", "office.customer_detail"}


def _office_pages() -> list[tuple[str, list[str]]]:
    pages = []
    for rule in url_map_rules():
        if "GET" not in rule.methods:
            continue
        if not (rule.endpoint.startswith("office.") or rule.endpoint == "auth.profile"):
            continue
        if rule.endpoint in NOT_PAGES or rule.rule.endswith((".pdf", ".png", ".csv")):
            continue
        ids = [n for n, c in rule._converters.items() if isinstance(c, IntegerConverter)]
        if set(rule.arguments) - set(ids):
            continue  # a string argument (a token): not an office page
        pages.append((rule.endpoint, ids))
    return pages


@pytest.fixture
def tenant(make):
    tenant = build_tenant(
        make,
        1,
        text="Supercalifragilistic-Plumbing-and-Drain-Company ",
        send_documents=True,
    )
    db.session.commit()
    return tenant


def test_no_office_page_scrolls_sideways_on_a_phone(
    app, phone_page, live_server, browser_login, tenant
):
    page = phone_page
    browser_login(page, tenant.users[Role.OWNER])
    too_wide = []
    checked = 0
    for endpoint, ids in _office_pages():
        with app.test_request_context():
            rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
            url = url_for(endpoint, **{name: ARG_ROWS[name](tenant, rule.rule) for name in ids})
        response = page.goto(live_server.url + url)
        if response is None or "text/html" not in response.headers.get("content-type", ""):
            continue
        if not page.evaluate("!!document.querySelector('meta[name=viewport]')"):
            continue  # a fragment for htmx (the progress poll), not a page
        checked += 1
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390 or endpoint in LOOK_AT:
            # A page too wide is saved on every run: the picture shows what sticks out.
            name = endpoint.replace(".", "-")
            screenshot(page, f"phone-width-{name}", always=width > 390)
        if width > 390:
            too_wide.append(f"{url} ({endpoint}): {width} px")
    print(f"{checked} office pages checked at 390 px")
    assert checked >= 20, f"only {checked} pages were checked"
    assert not too_wide, "Wider than a 390 px phone:\n" + "\n".join(too_wide)

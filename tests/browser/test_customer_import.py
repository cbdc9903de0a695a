"""Importing a Housecall Pro export in real Chromium: upload -> columns -> dry run ->
import in the worker with the progress bar -> undo, axe-clean, at 1280 px and on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Customer, utcnow
from app.services import customer_imports as imports
from tests.fixtures.customer_files import HCP_HEADER, csv_bytes, hcp_file
from tests.fixtures.live import layout_problems, screenshot

pytestmark = pytest.mark.browser


def _file(tmp_path) -> Path:
    """The HCP export plus 24 more customers: 30 rows, more than the inline limit below."""
    extra = [
        [
            f"Customer {n}",
            "",
            "",
            f"c{n}@example.com",
            "",
            f"(737) 555-{n:04d}",
            "",
            "",
            "",
            f"{n} Pecan St",
            "",
            "Austin",
            "TX",
            "78704",
            "",
        ]
        for n in range(24)
    ]
    path = tmp_path / "hcp-customers.csv"
    path.write_bytes(hcp_file() + csv_bytes(HCP_HEADER, extra).split(b"\r\n", 1)[1])
    return path


@pytest.mark.parametrize(
    ("size", "viewport"), [("1280", {"width": 1280, "height": 800}), ("390", None)]
)
def test_import_a_housecall_pro_export_and_undo_it(
    app, live_server, browser, browser_login, make, tmp_path, monkeypatch, size, viewport
):
    monkeypatch.setitem(app.config, "IMPORT_INLINE_ROWS", 10)
    monkeypatch.setattr(imports, "BATCH_SIZE", 10)
    company = make.company(name="Fresh Start Plumbing")
    make.customer(company, name="Wade W.", phone="+15125550102")
    db.session.commit()
    if viewport:
        context = browser.new_context(viewport=viewport)
    else:
        context = browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
        )
    page = context.new_page()
    # The progress bar polls every second: with Playwright's clock (time still flows) the
    # test jumps to the next poll once the worker has run instead of waiting for it.
    page.clock.install()

    def look(step: str) -> None:
        screenshot(page, f"import-{step}-{size}")
        assert layout_problems(page) == [], step

    try:
        browser_login(page, company.owner, then="/customers")
        page.get_by_role("link", name="Import", exact=True).click()
        expect(page.locator("h1")).to_have_text("Import customers")
        look("upload")

        page.set_input_files("#file", str(_file(tmp_path)))
        page.get_by_role("button", name="Upload and check the columns").click()
        expect(page.locator("#map-title")).to_have_text("What is in each column?")
        expect(page.locator("#column-5")).to_have_value("mobile")  # "Mobile Phone"
        expect(page.locator("#column-9")).to_have_value("street")
        look("mapping")

        page.get_by_role("button", name="Check what will happen").click()
        expect(page.locator("#dry-title")).to_contain_text("nothing has been imported yet")
        expect(page.locator(".count-new")).to_contain_text("25 new customers")
        expect(page.locator(".count-merge")).to_contain_text("1 merged")
        expect(page.locator(".count-skip")).to_contain_text("4 skipped")
        expect(page.locator(".import-rows").first).to_contain_text("not a mobile number")
        assert page.get_by_role("link", name="Download them as CSV").is_visible()
        look("dry-run")
        assert db.session.scalar(sa.select(sa.func.count(Customer.id))) == 1

        page.get_by_role("button", name="Import 26 customers").click()
        # Too big to run in the request: the worker does it, the bar follows (htmx).
        progress = page.locator("#import-progress")
        expect(progress).to_contain_text("0 of 30 rows")
        look("queued")
        imports.run_queued_imports(now=utcnow(), budget_seconds=0)
        page.clock.fast_forward(1_000)
        expect(progress).to_contain_text("10 of 30 rows (33%)")
        look("progress")
        imports.run_queued_imports(now=utcnow(), budget_seconds=60)
        page.clock.fast_forward(1_000)
        expect(page.locator("#done-title")).to_have_text("Imported")
        expect(page.locator(".count-new")).to_contain_text("25 new customers")
        look("done")
        db.session.expire_all()
        assert db.session.scalar(sa.select(sa.func.count(Customer.id))) == 26

        page.get_by_role("button", name="Undo this import").click()
        expect(page.locator("#undone-title")).to_have_text("Undone")
        expect(page.locator(".flash-success")).to_contain_text("25 customers removed")
        look("undone")
        db.session.expire_all()
        assert db.session.scalar(sa.select(sa.func.count(Customer.id))) == 1
    finally:
        context.close()


def test_a_new_company_is_sent_to_import_before_choosing_an_area_code(
    live_server, browser, browser_login, make, numbers_fake
):
    company = make.company(name="Brand New Plumbing", business_phone="+15125550100")
    db.session.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        browser_login(page, company.owner, then="/settings/number")
        notice = page.get_by_test_id("import-first")
        expect(notice).to_contain_text("Import your customers first to get the best area code")
        screenshot(page, "import-number-onboarding-1280")
        assert layout_problems(page) == []
        notice.get_by_role("link", name="Import your customers").click()
        expect(page.locator("h1")).to_have_text("Import customers")
    finally:
        context.close()

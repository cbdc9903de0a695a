"""An owner whose company may not text yet goes through Settings → Texting registration:
the banner, the three steps with field errors before anything reaches Twilio, Submit, the
status page, and approval after the worker has talked to the (fake) Twilio."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import PhoneNumber, RegistrationStatus, utcnow
from app.services import registration as registration_service
from app.sms import gateway
from tests.fixtures.live import layout_problems, screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def unregistered_owner(make, fake):
    fake.set_registration_outcome("approve")
    company = make.company("Fresh Start Plumbing", registered=False, website="freshstart.example")
    bought = gateway.buy_number(
        phone_number="+15126660188", sms_url="https://a.example/s", voice_url="https://a.example/v"
    )
    db.session.add(PhoneNumber(company_id=company.id, e164=bought.e164, twilio_sid=bought.sid))
    db.session.commit()
    return company


@pytest.mark.parametrize(
    ("size", "viewport"), [("390", {"width": 390, "height": 844}), ("1280", None)]
)
def test_owner_registers_and_texting_turns_on(
    live_server, browser, browser_login, unregistered_owner, fake, size, viewport
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
        browser_login(page, unregistered_owner.owner, then="/jobs")
        expect(page.locator("#registration-notice")).to_contain_text("Texting is not on yet")
        page.locator("#registration-notice a").click()

        # Step 1: the business. A malformed EIN, a PO box and an http website are refused.
        expect(page.locator("legend")).to_contain_text("Step 1 of 3")
        page.fill("#legal_name", "Fresh Start Plumbing LLC")
        page.fill("#ein", "12-34567")
        page.select_option("#business_type", "Limited Liability Corporation")
        page.fill("#website", "http://freshstart.example.com")
        page.fill("#street", "PO Box 12")
        page.fill("#city", "Austin")
        page.select_option("#state", "TX")
        page.fill("#postal_code", "78704")
        page.fill("#rep_title", "Owner")
        page.fill("#rep_phone", "(512) 555-0100")
        page.get_by_role("button", name="Next: customers' consent").click()
        expect(page.locator("#ein-error")).to_contain_text("An EIN is 9 digits")
        expect(page.locator("#street-error")).to_contain_text("PO box")
        expect(page.locator("#website-error")).to_contain_text("https://")
        screenshot(page, f"registration-step1-errors-{size}")
        assert layout_problems(page, context="main") == []
        assert fake.requests == [r for r in fake.requests if "/IncomingPhoneNumbers" in r.path]

        page.fill("#ein", "12-3456789")
        page.fill("#street", "1500 S Congress Ave")
        page.fill("#website", "https://freshstart.example.com")
        page.get_by_role("button", name="Next: customers' consent").click()

        # Step 2: consent. Without the generated page, a privacy link is required.
        expect(page.locator("legend")).to_contain_text("Step 2 of 3")
        page.uncheck("input[name=use_generated_terms]")
        page.get_by_role("button", name="Next: review").click()
        expect(page.locator("#privacy_url-error")).to_contain_text("privacy policy")
        screenshot(page, f"registration-step2-errors-{size}")
        assert layout_problems(page, context="main") == []
        page.check("input[name=use_generated_terms]")
        page.get_by_role("button", name="Next: review").click()

        # Step 3: review, with samples from the templates, fees and the wait.
        expect(page.locator("legend")).to_contain_text("Step 3 of 3")
        expect(page.locator(".registration-summary")).to_contain_text("12-3456789")
        expect(page.locator("#sample-0")).not_to_be_empty()
        expect(page.get_by_role("note")).to_contain_text("1 to 3 weeks")
        screenshot(page, f"registration-step3-review-{size}")
        assert layout_problems(page, context="main") == []
        page.get_by_role("button", name="Submit").click()

        expect(page.locator("#status-heading")).to_contain_text("Submitting")
        expect(page.locator("#registration-status")).to_contain_text("pending since")
        screenshot(page, f"registration-submitted-{size}")
        assert layout_problems(page, context="main") == []

        # The worker talks to Twilio; the status page then shows each step approved.
        registration_service.work_due_registrations(now=utcnow())
        page.reload()
        expect(page.locator("#status-heading")).to_contain_text("Approved")
        expect(page.locator("#registration-status table")).to_contain_text("Approved")
        expect(page.locator("#registration-notice")).to_have_count(0)
        screenshot(page, f"registration-approved-{size}")
        assert layout_problems(page, context="main") == []
        db.session.expire_all()
        assert unregistered_owner.registration.status == RegistrationStatus.APPROVED
        assert fake.registrations.created["brand"] == 1

        # The public terms page the campaign points to.
        token = unregistered_owner.registration.public_token
        page.goto(f"{live_server.url}/c/{token}/sms-terms")
        expect(page.locator("h1")).to_contain_text("text message terms")
        screenshot(page, f"registration-terms-{size}")
        assert layout_problems(page, context="main") == []
    finally:
        context.close()


def test_rejected_registration_explains_and_resubmits(
    live_server, browser, browser_login, unregistered_owner, fake
):
    """A rejected brand: the reason in plain words, the wizard prefilled, Resubmit, and the
    same brand reviewed again."""
    from tests.services.test_registration import DETAILS

    fake.set_registration_outcome("fail:30799")
    registration_service.submit_registration(
        company=unregistered_owner,
        actor=unregistered_owner.owner,
        kind="10dlc_standard",
        data=DETAILS,
        now=utcnow(),
    )
    db.session.commit()
    registration_service.work_due_registrations(now=utcnow())
    registration_service.check_now(company=unregistered_owner, now=utcnow())
    db.session.commit()
    registration_service.work_due_registrations(now=utcnow())

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True)
    page = context.new_page()
    try:
        browser_login(page, unregistered_owner.owner, then="/settings/texting-registration")
        expect(page.locator("#status-heading")).to_contain_text("Needs changes")
        expect(page.get_by_role("alert")).to_contain_text("IRS letter CP 575")
        expect(page.locator("#legal_name")).to_have_value("Lone Star Plumbing LLC")
        screenshot(page, "registration-rejected-390")
        assert layout_problems(page, context="main") == []
        page.fill("#legal_name", "Lone Star Plumbing, LLC")
        fake.set_registration_outcome("approve")
        page.get_by_role("button", name="Next: customers' consent").click()
        page.get_by_role("button", name="Next: review").click()
        page.get_by_role("button", name="Resubmit").click()
        expect(page.locator("#status-heading")).to_contain_text("Submitting")
        registration_service.work_due_registrations(now=utcnow())
        page.reload()
        expect(page.locator("#status-heading")).to_contain_text("Approved")
        assert fake.registrations.created["brand"] == 1
    finally:
        context.close()

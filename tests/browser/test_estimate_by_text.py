"""Rule 3 end to end, at phone size: the office texts an estimate, the link arrives on the
simulated phone, the customer opens it, approves with a typed name and downloads the PDF;
the office sees Approved. axe-core checks every public page on the way."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import EstimateApproval, EstimateStatus, Message, MessageKind
from app.services import billing
from tests.fixtures.live import (
    ARTIFACTS,
    PHONE,
    screenshot,
    serious_axe_violations,
    taking_screenshots,
)

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]


def test_estimate_by_text_approved_on_the_phone(
    tmp_path, live_server, browser, browser_login, sms_world, bill, fake, dispatcher
):
    company, customer = sms_world.company, sms_world.customer
    company.address = "1200 Barton Springs Rd, Austin, TX 78704"
    company.email = "office@lonestarplumbing.test"
    estimate = bill.estimate(
        company,
        customer,
        tax="8.25",
        title="Water heater",
        options={
            "Repair": [("Replace the thermocouple and flush the tank", "1", "240.00", True)],
            "Replace": [
                ("50 gallon gas water heater", "1", "1,150.00", True),
                ("Installation labor", "3.5", "95.00", False),
                ("Haul away the old unit", "1", "45.00", False),
            ],
        },
        terms="Prices valid 30 days. 50% deposit due when work starts; balance on completion.",
    )
    invoice = bill.invoice(company, customer, lines=[("Service call", "1", "89.00", True)])
    db.session.commit()

    # The office sends the estimate by text, in one click.
    office_context = browser.new_context(viewport={"width": 1280, "height": 900})
    office = office_context.new_page()
    browser_login(office, company.owner, then=f"/estimates/{estimate.id}")
    # Add a line with htmx: the option's fragment swaps in place with the new total.
    repair = office.locator(f"#items-o{estimate.options[0].id}")
    repair.locator("input[name=description][placeholder]").fill("Drain valve gasket")
    repair.locator("input[name=unit_price][placeholder]").fill("12.50")
    repair.locator("button:has-text('Add item')").click()
    expect(repair.locator("tbody tr")).to_have_count(3)  # two lines and the add row
    expect(repair.locator(".billing-total")).to_contain_text("$273.33")  # 252.50 + 8.25 %
    screenshot(office, "estimate-office-draft-1280")
    office.click("#doc-send button[type=submit]:has-text('Send by text')")
    expect(office.locator("#doc-send")).to_contain_text("Resend text")
    db.session.expire_all()
    text = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.ESTIMATE)).one()
    assert dispatcher().run_once() == 1
    fake.run_all_callbacks()

    # The link arrives on the simulated phone.
    sim_context = browser.new_context(**PHONE)
    sim = sim_context.new_page()
    browser_login(sim, company.owner, then=f"/dev/phone?customer={customer.id}")
    bubble = sim.locator("#sim-thread .sim-theirs").last
    expect(bubble).to_contain_text(f"estimate #{estimate.number}")
    link = bubble.locator("a[href*='/e/']")
    href = link.get_attribute("href")
    assert href == billing.public_url(estimate)
    assert href in text.body
    screenshot(sim, "estimate-sms-on-phone-390")
    sim_context.close()

    # The customer opens it on their own phone (no office login there).
    phone_context = browser.new_context(**PHONE, accept_downloads=True)
    phone = phone_context.new_page()
    phone.goto(href)
    db.session.expire_all()
    replace_total = billing.money(billing.option_totals(estimate.options[1]).total_cents)
    expect(phone.locator("h1")).to_have_text("Water heater")
    expect(phone.locator("body")).to_contain_text("Drain valve gasket")
    expect(phone.locator(".pub-company").first).to_have_text("Lone Star Plumbing")
    expect(phone.locator("a[href^='sms:']").first).to_have_attribute(
        "href", f"sms:{sms_world.number.e164}"
    )
    screenshot(phone, "estimate-public-390")
    assert serious_axe_violations(phone) == []
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"

    phone.locator("label.pub-choice", has_text="Replace").click()
    phone.check("input[name=accept_terms]")
    phone.fill("#signed_name", "Avery Johnson")
    phone.click("button:has-text('Review and approve')")
    expect(phone.locator("h1")).to_have_text("Confirm your approval")
    expect(phone.locator(".pub-confirm")).to_contain_text(replace_total)
    screenshot(phone, "estimate-confirm-390")
    assert serious_axe_violations(phone) == []
    phone.click("button:has-text('Confirm approval')")
    expect(phone.locator(".pub-banner-ok")).to_contain_text("Approved by Avery Johnson")
    expect(phone.locator(".pub-flash-success")).to_contain_text("Thank you")
    screenshot(phone, "estimate-approved-390")
    assert serious_axe_violations(phone) == []

    with phone.expect_download() as download_info:
        phone.click("a:has-text('Download PDF')")
    download = download_info.value
    assert download.suggested_filename == f"Estimate-{estimate.number}.pdf"
    pdf_path = tmp_path / "estimate-approved.pdf"
    download.save_as(str(pdf_path))
    assert pdf_path.read_bytes().startswith(b"%PDF-")
    if taking_screenshots() and shutil.which("pdftoppm"):
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "70",
                "-f",
                "1",
                "-l",
                "1",
                str(pdf_path),
                str(ARTIFACTS / "estimate-approved-pdf"),
            ],
            check=True,
        )

    db.session.expire_all()
    approval = db.session.scalars(sa.select(EstimateApproval)).one()
    assert approval.signed_name == "Avery Johnson"
    assert approval.option_title == "Replace"
    assert approval.ip_address == "127.0.0.1"
    assert "Chrome" in approval.user_agent  # the customer's browser, as sent

    # The invoice page and a revoked link are public pages too.
    phone.goto(billing.public_url(invoice))
    expect(phone.locator(".pub-amount-due")).to_contain_text("$89.00")
    screenshot(phone, "invoice-public-390")
    assert serious_axe_violations(phone) == []
    old = invoice.public_token
    billing.revoke_link(document=invoice)
    db.session.commit()
    response = phone.goto(f"{live_server.url}/i/{old}")
    assert response.status == 410
    expect(phone.locator("h1")).to_have_text("This link is no longer valid")
    screenshot(phone, "link-gone-390")
    assert serious_axe_violations(phone) == []
    phone_context.close()

    # The office sees Approved, with the whole path of the text.
    office.reload()
    expect(office.locator("#doc-status")).to_have_text("Approved")
    steps = office.locator("#doc-progress .progress-step")
    expect(steps).to_have_count(4)
    expect(office.locator("#doc-progress .progress-done")).to_have_count(4)
    expect(office.locator("#outcome")).to_contain_text("Avery Johnson")
    screenshot(office, "estimate-office-approved-1280")
    office_context.close()
    db.session.expire_all()
    assert db.session.get(type(estimate), estimate.id).status == EstimateStatus.APPROVED

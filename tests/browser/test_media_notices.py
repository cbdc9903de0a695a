"""What a phone-sized thread (390x844) says of a customer's picture it cannot show, in
visible text: a refused file says why (not a picture we can show, too large), a fetch that
failed says it will be tried again. No tooltip: a phone has none."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import JobStatus, Role, utcnow
from app.services.job_status import job_set_status
from tests.fixtures.live import pictures_tried, screenshot, serious_axe_violations
from tests.fixtures.notifications import image_bytes

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]

WAIT = 15_000  # ms; the tech's job page polls every few seconds
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'
NUMBER = "+15126660078"
JANE = "+15125550178"


def test_refused_and_retried_pictures_say_so_on_the_tech_phone(
    browser, phone_page, live_server, browser_login, make, fake, request
):
    company = make.company("Drip Busters Plumbing")
    make.number(company, e164=NUMBER)
    tech = make.user(company, Role.TECH, name="Maria Lopez")
    jane = make.customer(company, name="Jane Doe", phone=JANE)
    job = make.job(
        company,
        customer=jane,
        techs=[tech],
        start=(utcnow() + timedelta(minutes=20)).replace(microsecond=0),
    )
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    db.session.commit()
    page = phone_page
    # The page's clock runs on its own but can be moved ahead: the thread's 4 s poll is
    # fast-forwarded once the worker has been through the pictures.
    page.clock.install()
    browser_login(page, tech, then=f"/tech/jobs/{job.id}")

    big = b"\xff\xd8\xff" + b"\x00" * (6 * 1024 * 1024)
    fake.send_inbound_sms(
        from_=JANE,
        to=NUMBER,
        body="Drawing and video",
        attachments=[(SVG, "image/svg+xml"), (big, "image/jpeg")],
    )
    pictures_tried("Drawing and video")
    page.clock.fast_forward(4000)
    notes = page.locator("#messages .msg-in", has_text="Drawing and video").locator(
        ".msg-media-note"
    )
    expect(notes.nth(0)).to_have_text(
        "Picture not shown: the file was not a picture we can show (SVG).", timeout=WAIT
    )
    expect(notes.nth(1)).to_have_text("Picture not shown: too large (over 5 MB).")

    fake.fail_media_next(1000, status=503)
    fake.send_inbound_sms(
        from_=JANE, to=NUMBER, body="The leak", attachments=[(image_bytes(), "image/png")]
    )
    pictures_tried("The leak")
    page.clock.fast_forward(4000)
    retrying = page.locator("#messages .msg-in", has_text="The leak").locator(".msg-media-note")
    expect(retrying).to_have_text(
        "Picture could not be fetched from Twilio yet; we'll try again.", timeout=WAIT
    )
    for note in (notes.nth(0), notes.nth(1), retrying):
        expect(note).to_be_visible()
        box = note.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390  # wraps, never off screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert serious_axe_violations(page, context="#messages") == []
    screenshot(page, "mms-notices-tech-390")
    screenshot(page, "media2-tech-390")

    # The office's inbox on a phone says the same.
    office = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    request.addfinalizer(office.close)
    page = office.new_page()
    browser_login(page, company.owner, then="/inbox")
    page.locator("a", has_text="Jane Doe").first.click()
    expect(page.get_by_text("the file was not a picture we can show (SVG)")).to_be_visible(
        timeout=WAIT
    )
    expect(page.get_by_text("we'll try again")).to_be_visible()
    screenshot(page, "media2-inbox-390")
    page.set_viewport_size({"width": 1280, "height": 800})
    expect(page.get_by_text("Picture not shown: too large (over 5 MB).")).to_be_visible()
    screenshot(page, "media2-inbox-1280")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/jobs/{job.id}")
    expect(page.get_by_text("Picture not shown: too large (over 5 MB).")).to_be_visible(
        timeout=WAIT
    )
    screenshot(page, "media2-job-390")

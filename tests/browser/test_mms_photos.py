"""Photos both ways on an iPhone-sized screen (390x844) in real headless Chromium: the
customer texts a photo from the simulated phone while the job is in progress, the tech
sees its thumbnail without reloading, answers with a photo picked in the file chooser,
and the customer's phone shows it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import JobStatus, MediaState, MessageMedia, Role, utcnow
from app.services.job_status import job_set_status
from tests.fixtures.live import pictures_tried, screenshot, serious_axe_violations
from tests.fixtures.notifications import image_bytes

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]

WAIT = 15_000  # ms; the tech's conversation polls every 4 s


@pytest.fixture
def job_in_progress(make):
    company = make.company("Drip Busters Plumbing")
    make.number(company, e164="+15126660077")
    tech = make.user(company, Role.TECH, name="Maria Lopez")
    jane = make.customer(company, name="Jane Doe", phone="+15125550177")
    job = make.job(
        company,
        customer=jane,
        techs=[tech],
        start=(utcnow() + timedelta(minutes=20)).replace(microsecond=0),
        description="Water under the sink",
    )
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    db.session.commit()
    return company, tech, jane, job


def test_photos_go_both_ways_between_the_phone_and_the_tech(
    browser, phone_page, live_server, browser_login, job_in_progress, dispatcher, request, tmp_path
):
    company, tech, jane, job = job_in_progress
    page = phone_page
    # The pages' clocks run on their own but can be moved ahead: a poll (every 4 s here, 2 s
    # on the simulator) is fast-forwarded once what it will show is in the database.
    page.clock.install()
    browser_login(page, tech, then=f"/tech/jobs/{job.id}")
    expect(page.locator("h1")).to_have_text("Jane Doe")

    # Jane texts the sample photo from her (simulated) phone.
    office = browser.new_context(viewport={"width": 1280, "height": 860})
    request.addfinalizer(office.close)
    sim = office.new_page()
    sim.clock.install()
    browser_login(sim, company.owner, then=f"/dev/phone?customer={jane.id}")
    sim.fill("#sim-body", "This is the leak")
    sim.locator(".sim-photo input[type=checkbox]").check()
    sim.locator(".sim-send").click()
    pictures_tried("This is the leak", until_fetched=True)
    sim.clock.fast_forward(2000)
    expect(sim.locator("#sim-thread .sim-mine .sim-media img")).to_have_count(1, timeout=WAIT)

    # Maria sees the thumbnail appear without reloading; it opens full size.
    page.clock.fast_forward(4000)
    incoming = page.locator("#messages .msg-in", has_text="This is the leak")
    thumb = incoming.locator(".msg-photo img")
    expect(thumb).to_have_count(1, timeout=WAIT)
    expect(thumb).to_have_js_property("complete", True)
    assert thumb.evaluate("img => img.naturalWidth") > 0
    item = db.session.scalar(sa.select(MessageMedia))
    assert item.state == MediaState.STORED
    assert incoming.locator(".msg-photo").get_attribute("href") == f"/media/{item.id}"
    screenshot(page, "mms-tech-thumbnail-390")
    screenshot(page, "media-tech-390")
    assert serious_axe_violations(page, context="#messages") == []

    # Maria answers with a photo picked in the file chooser.
    photo = tmp_path / "fixed.jpg"
    photo.write_bytes(image_bytes("JPEG", (1600, 1200)))
    with page.expect_file_chooser() as chooser:
        page.locator("#reply-photos").click()
    chooser.value.set_files(str(photo))
    page.locator("#reply-body").fill("All fixed, see photo")
    page.get_by_role("button", name="Send text").tap()
    mine = page.locator("#messages .msg-out", has_text="All fixed, see photo")
    expect(mine.locator(".msg-photo img")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#reply-body")).to_have_value("")

    # The worker sends it as MMS; the fake Twilio fetches the signed link; Jane's phone
    # shows the picture.
    dispatcher().run_once()
    sim.clock.fast_forward(2000)
    sent = sim.locator("#sim-thread .sim-theirs", has_text="All fixed, see photo")
    expect(sent.locator(".sim-media img")).to_have_count(1, timeout=WAIT)
    expect(sent.locator(".sim-media img")).to_have_js_property("complete", True)
    assert sent.locator(".sim-media img").evaluate("img => img.naturalWidth") > 0
    screenshot(sim, "media-sim-1280")

    # The office sees both pictures on the job page (the job photo and the customer's).
    desk = office.new_page()
    desk.goto(f"{live_server.url}/jobs/{job.id}")
    expect(desk.locator("#job-timeline .msg-photo img")).to_have_count(2)
    screenshot(desk, "media-office-job-1280")

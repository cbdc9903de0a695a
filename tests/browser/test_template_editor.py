"""The whole automated-text loop in a browser: the office edits the On My Way text and
watches the preview and segment count follow; a tech taps On My Way on their phone; the
customer's phone in /dev/phone shows the rendered text with the tech's photo."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app
from playwright.sync_api import expect

from app.extensions import db
from app.models import Message, MessageKind, Role, utcnow
from app.services.photos import store_profile_photo
from tests.fixtures.live import screenshot, serious_axe_violations
from tests.fixtures.notifications import image_bytes

pytestmark = pytest.mark.browser


def test_edit_preview_save_then_on_my_way_reaches_the_customers_phone(
    live_server, browser, phone_page, browser_login, make, fake, dispatcher
):
    company = make.company(name="Acme Plumbing")
    make.number(company)
    customer = make.customer(company, name="Ann Smith")
    sam = make.user(company, role=Role.TECH, name="Sam Lee")
    store_profile_photo(
        user=sam,
        data=image_bytes("PNG", (300, 300)),
        upload_folder=current_app.config["UPLOAD_FOLDER"],
    )
    job = make.job(company, customer=customer, techs=[sam], start=utcnow() + timedelta(minutes=45))
    db.session.commit()

    # The office edits the On My Way text on a desktop.
    desktop = browser.new_context(viewport={"width": 1280, "height": 900})
    office = desktop.new_page()
    # The preview follows the text 300 ms after the last keystroke (htmx delay): with
    # Playwright's clock (time still flows) the test skips that pause after each edit.
    office.clock.install()
    browser_login(office, company.owner, then="/texts")
    screenshot(office, "texts-list-1280")
    office.get_by_role("link", name="On My Way", exact=True).click()
    expect(office.locator("h1")).to_have_text("On My Way text")
    office.wait_for_load_state()  # htmx listens before the first keystroke

    body = office.locator("#template-body")
    summary = office.locator("[data-testid=segment-summary]")
    bubble = office.locator("#template-preview .bubble-text")
    expect(office.locator("#template-preview")).to_contain_text(f"#{job.number} for Ann Smith")
    default_summary = summary.inner_text()

    body.fill("Hi {customer_first_name}, ")
    office.locator("button.chip", has_text="{tech_first_name}").click()
    body.press("End")
    body.type(" is on the way. We\u2019ll see you soon!")
    office.clock.fast_forward(300)
    expect(bubble).to_have_text("Hi Ann, Sam is on the way. We\u2019ll see you soon!")
    expect(summary).to_have_text("46 characters · 1 segment · UCS-2")
    assert summary.inner_text() != default_summary
    warning = office.locator(".ucs2-warning")
    expect(warning).to_contain_text("right single quotation mark")
    screenshot(office, "template-editor-ucs2-1280")

    warning.get_by_role("button", name=re.compile("Replace with")).click()
    office.clock.fast_forward(300)
    expect(body).to_have_value(
        "Hi {customer_first_name}, {tech_first_name} is on the way. We'll see you soon!"
    )
    expect(summary).to_have_text("46 characters · 1 segment · GSM-7")
    expect(warning).to_have_count(0)

    # A longer text crosses into a second segment, live.
    body.press("End")
    body.type(" " + "Thanks for choosing us. " * 5)
    office.clock.fast_forward(300)
    expect(summary).to_contain_text("2 segments · GSM-7")
    # The keyboard of the page, not the locator: the same keystrokes into the focused
    # box, without finding and checking the box again before each one.
    for _ in range(len("Thanks for choosing us. ") * 5 + 1):
        office.keyboard.press("Backspace")
    office.clock.fast_forward(300)
    expect(summary).to_have_text("46 characters · 1 segment · GSM-7")

    office.get_by_role("button", name="Save text").click()
    expect(office.locator(".flash-success")).to_contain_text("Saved")
    screenshot(office, "template-editor-saved-1280")

    # Sam taps On My Way on his phone.
    browser_login(phone_page, sam, then=f"/tech/jobs/{job.id}")
    phone_page.get_by_role("link", name="On My Way", exact=True).click()
    phone_page.get_by_role("dialog").get_by_role("button", name="30 min").click()
    expect(phone_page.locator("#actions .status")).to_have_text("On my way")
    screenshot(phone_page, "tech-on-my-way-390")

    db.session.expire_all()
    (text,) = db.session.scalars(
        sa.select(Message).filter_by(job_id=job.id, kind=MessageKind.ON_MY_WAY)
    ).all()
    assert text.body == "Hi Ann, Sam is on the way. We'll see you soon!"
    assert text.media_urls == [f"{live_server.url}/p/{sam.photo_token}.jpg"]

    # The outbox sends it through the real SDK to the fake Twilio.
    assert dispatcher().run_once() >= 1
    fake.run_all_callbacks()

    office.goto(f"{live_server.url}/dev/phone?customer={customer.id}")
    thread = office.locator("#sim-thread")
    expect(thread.locator(".sim-theirs .sim-bubble").last).to_have_text(
        "Hi Ann, Sam is on the way. We'll see you soon!"
    )
    # The fake fetched the photo from its public link as Twilio does (no login), and the
    # phone shows its copy.
    db.session.expire_all()
    (held,) = fake.media_of(text.twilio_sid)
    assert held.content_type == "image/jpeg"
    photo = thread.locator(f".sim-theirs img[src='/dev/phone/media/{held.sid}']")
    expect(photo).to_be_visible()
    assert photo.evaluate("img => img.naturalWidth") == 480
    screenshot(office, "phone-on-my-way-1280")
    desktop.close()


def test_editor_at_phone_size(live_server, phone_page, browser_login, make):
    company = make.company(name="Acme Plumbing")
    db.session.commit()
    browser_login(phone_page, company.owner, then="/texts/job_scheduled")
    expect(phone_page.locator("[data-testid=segment-summary]")).to_contain_text("GSM-7")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the editor scrolls sideways at phone size ({width}px)"
    assert serious_axe_violations(phone_page) == []
    screenshot(phone_page, "template-editor-390")
    phone_page.goto(f"{live_server.url}/texts")
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the texts list scrolls sideways at phone size ({width}px)"
    assert serious_axe_violations(phone_page) == []
    screenshot(phone_page, "texts-list-390")


def test_a_tech_uploads_a_photo_from_the_phone(
    live_server, phone_page, browser_login, make, tmp_path
):
    company = make.company(name="Acme Plumbing")
    sam = make.user(company, role=Role.TECH, name="Sam Lee")
    db.session.commit()
    photo = tmp_path / "me.png"
    photo.write_bytes(image_bytes("PNG", (800, 600)))
    browser_login(phone_page, sam)
    phone_page.get_by_role("link", name="Profile").click()
    expect(phone_page.locator("h1")).to_have_text("Your profile")
    phone_page.set_input_files("input[name=photo]", str(photo))
    phone_page.get_by_role("button", name="Upload photo").click()
    expect(phone_page.locator(".flash-success")).to_contain_text("Photo saved")
    image = phone_page.get_by_role("img", name="Sam Lee's profile photo")
    expect(image).to_be_visible()
    assert image.evaluate("img => img.naturalWidth") == 480
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the profile page scrolls sideways at phone size ({width}px)"
    assert serious_axe_violations(phone_page) == []
    screenshot(phone_page, "profile-photo-390")

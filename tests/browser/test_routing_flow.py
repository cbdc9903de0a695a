"""Rule 4 in a real browser: a customer texts from the phone simulator while the job is in
progress and the text shows on the assigned tech's phone; after Finished, the next text
lands in the Point of Contact's inbox (with no reload: both pages poll)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import Role, utcnow
from tests.fixtures.live import past_arming, screenshot, serious_axe_violations, stored

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]

WAIT = 15_000  # ms: a poll is every 4-5 s, the webhook goes through the fake Twilio


def test_in_progress_text_reaches_the_tech_then_the_poc_after_finished(
    browser, page, phone_page, live_server, browser_login, make
):
    company = make.company("Acme Plumbing")
    company.owner.name = "Alice Smith"
    make.number(company, e164="+15126660001")
    bob = make.user(company, Role.OFFICE, name="Bob Office")
    maria = make.user(company, Role.TECH, name="Maria Lopez")
    company.poc_user_id = bob.id
    jane = make.customer(company, name="Jane Doe", phone="+15125550142")
    job = make.job(
        company,
        customer=jane,
        techs=[maria],
        start=(utcnow() + timedelta(minutes=30)).replace(microsecond=0),
    )
    db.session.commit()

    # Maria (on her phone) taps On My Way. (The pages' clocks run on their own but can be
    # moved ahead: a poll is fast-forwarded once what it will show is in the database.)
    phone_page.clock.install()
    browser_login(phone_page, maria, then=f"/tech/jobs/{job.id}")
    phone_page.get_by_role("link", name="On My Way", exact=True).click()
    phone_page.get_by_role("dialog").locator(".eta-chip").first.click()
    expect(phone_page.locator("#actions .status")).to_have_text("On my way", timeout=WAIT)

    # Jane texts back from the phone simulator (driven by the owner's session).
    browser_login(page, company.owner, then=f"/dev/phone?customer={jane.id}")
    page.fill("#sim-body", "Gate code is 1234, dog is friendly")
    page.locator(".sim-send").click()

    # It shows on Maria's phone without a reload.
    stored("Gate code is 1234, dog is friendly")
    phone_page.clock.fast_forward(4000)
    messages = phone_page.locator("#messages")
    expect(messages).to_contain_text("Gate code is 1234, dog is friendly", timeout=WAIT)
    screenshot(phone_page, "routing-flow-tech-phone")

    # Bob (the POC) opens his inbox: the text is there, routed to Maria, and says why.
    office = browser.new_context(viewport={"width": 1280, "height": 860})
    bob_page = office.new_page()
    bob_page.clock.install()
    try:
        browser_login(bob_page, bob, then="/inbox")
        bob_page.get_by_role("link", name="Jane Doe").first.click()
        # Typing before htmx has set up the new page loses the search (no request at all).
        bob_page.wait_for_load_state()
        route = bob_page.locator(".msg-in .msg-route").last
        expect(route).to_contain_text(f"Job #{job.number} is in progress: On My Way at")
        expect(route).to_contain_text("-> Maria Lopez")

        # Search filters the list as Bob types.
        bob_page.fill("#inbox-q", "nobody by that name")
        expect(bob_page.locator("#conversation-list")).to_contain_text("No conversations match")
        bob_page.fill("#inbox-q", "0142")
        expect(bob_page.locator("#conversation-list .conv-item")).to_have_count(1)
        bob_page.fill("#inbox-q", "")

        # Maria starts and finishes the job.
        phone_page.get_by_role("button", name="Start").click()
        finished = phone_page.get_by_role("button", name="Finished")
        expect(finished).to_be_visible()
        past_arming(phone_page)
        finished.click()
        expect(phone_page.locator("#actions .status")).to_have_text("Finished", timeout=WAIT)

        # Jane's next text goes to the Point of Contact and appears in Bob's open inbox.
        page.fill("#sim-body", "Thanks, all good now!")
        page.locator(".sim-send").click()
        stored("Thanks, all good now!")
        bob_page.clock.fast_forward(5000)
        list_item = bob_page.locator("#conversation-list .conv-item").first
        expect(list_item).to_contain_text("Thanks, all good now!", timeout=WAIT)
        last_route = bob_page.locator("#thread-messages .msg-in .msg-route").last
        expect(last_route).to_contain_text(f"job #{job.number} finished", timeout=WAIT)
        expect(last_route).to_contain_text("Point of Contact -> Bob Office")
        # Open on screen means read: the list's unread badge clears without a reload (at
        # the latest on the list's next poll, after the thread's poll marked it read).
        bob_page.clock.fast_forward(5000)
        expect(bob_page.locator("#conversation-list .badge-count")).to_have_count(0, timeout=WAIT)
        status = bob_page.locator("#thread-status")
        expect(status).to_contain_text("Finished")
        expect(status).to_contain_text("goes to: Bob Office")
        screenshot(bob_page, "routing-flow-poc-inbox", full_page=False)
        assert serious_axe_violations(bob_page) == []

        # Bob replies from the inbox; the segment counter counts as he types.
        bob_page.fill("#reply-body", "Glad to help, Jane!")
        expect(bob_page.locator("#reply-count")).to_contain_text("19 characters · 1 segment")
        bob_page.get_by_role("button", name="Send").click()
        expect(bob_page.locator("#thread-messages .msg-out").last).to_contain_text(
            "Glad to help, Jane!", timeout=WAIT
        )
        expect(bob_page.locator("#reply-body")).to_have_value("")

        # The owner's Point of Contact page says who gets texts today.
        page.goto(f"{live_server.url}/settings/point-of-contact")
        expect(page.locator(".poc-today")).to_contain_text(
            "Texts go to Bob Office, the Point of Contact."
        )
        assert serious_axe_violations(page) == []
    finally:
        office.close()

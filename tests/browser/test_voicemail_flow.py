"""A caller leaves a voicemail from the phone simulator (typing what they say), and the
office hears it in the inbox: the thread shows the call, an <audio> player that loads the
recording from the app (never from Twilio), and the transcript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import utcnow
from app.services.voicemail import fetch_due_voicemails
from tests.fixtures.live import screenshot, serious_axe_violations

pytestmark = [pytest.mark.browser]


def test_a_voicemail_left_on_the_simulated_phone_is_heard_in_the_inbox(
    live_server, phone_page, browser, browser_login, sms_world, fake
):
    page = phone_page
    browser_login(
        page, sms_world.company.owner, then=f"/dev/phone?customer={sms_world.customer.id}"
    )

    page.select_option("#outcome", "no-answer")
    page.fill("#voicemail", "Hi, it's Avery. The kitchen sink is leaking again, please call me.")
    page.click(".sim-call-submit")
    call = page.locator("#sim-call")
    expect(call).to_contain_text("Voicemail left: “Hi, it's Avery.")
    expect(call).to_contain_text("leave a message after the tone")
    screenshot(page, "simulator-voicemail-390")

    # What Twilio does a moment after the call, and the worker's fetch.
    fake.run_all_callbacks()
    fetch_due_voicemails(now=utcnow())
    db.session.commit()

    page.goto(f"{live_server.url}/inbox")
    page.locator(".conv-item", has_text="Avery Johnson").first.click()
    entry = page.locator(".msg-call")
    expect(entry).to_contain_text("Voicemail · 0:0")
    expect(entry).to_contain_text("Transcript (may contain mistakes): Hi, it's Avery.")
    audio = entry.locator("audio")
    src = audio.get_attribute("src")
    assert src.startswith("/voicemails/")
    # The browser loads the recording from the app and can play it.
    audio.evaluate("el => el.load()")
    page.wait_for_function(
        "el => el.readyState >= 1 && el.duration > 0", arg=audio.element_handle(), timeout=10000
    )
    assert audio.evaluate("el => el.error") is None
    assert serious_axe_violations(page, context="#thread-messages") == []
    screenshot(page, "inbox-voicemail-390")

    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    wide = desktop.new_page()
    browser_login(wide, sms_world.company.owner, then="/inbox")
    wide.locator(".conv-item", has_text="Avery Johnson").first.click()
    expect(wide.locator(".msg-call audio")).to_have_count(1)
    screenshot(wide, "inbox-voicemail-1280")
    desktop.close()

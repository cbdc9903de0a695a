"""A new user's first try of the product: the phone simulator shows a customer's phone,
the text the company sent with its delivery ticks, and a reply typed there arrives."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Direction, Message, MessageKind
from app.services.texting import queue_text
from tests.fixtures.live import screenshot, stored

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]


def test_reply_typed_on_the_simulated_phone_arrives(
    live_server, phone_page, browser, browser_login, sms_world, fake, dispatcher
):
    queue_text(
        company=sms_world.company,
        to_phone=sms_world.customer.mobile_phone,
        body="Hi Avery, Maria is on her way and will be there by 10:30. "
        "Track: https://example.com/t/42",
        kind=MessageKind.ON_MY_WAY,
        customer=sms_world.customer,
    )
    db.session.commit()
    dispatcher().run_once()
    fake.run_all_callbacks()

    page = phone_page
    # The page's clock runs on its own but can be moved ahead: the thread's 2 s poll is
    # fast-forwarded once the reply is in the database.
    page.clock.install()
    browser_login(
        page, sms_world.company.owner, then=f"/dev/phone?customer={sms_world.customer.id}"
    )
    thread = page.locator("#sim-thread")
    expect(thread.locator(".sim-theirs .sim-bubble")).to_contain_text("Maria is on her way")
    expect(thread.locator(".sim-theirs .sim-ticks")).to_have_text("✓✓ Delivered")
    link = thread.locator(".sim-theirs a[href='https://example.com/t/42']")
    expect(link).to_have_attribute("target", "_blank")

    page.fill("#sim-body", "Great, the side gate is open")
    page.click(".sim-send")
    stored("Great, the side gate is open")
    page.clock.fast_forward(2000)
    expect(thread.locator(".sim-mine .sim-bubble")).to_have_text("Great, the side gate is open")
    expect(page.locator("#sim-body")).to_have_value("")
    screenshot(page, "phone-simulator-390")

    # Calling the custom number from this phone shows what the app told Twilio to do.
    page.click(".sim-call-btn")
    expect(page.locator("#sim-call")).to_contain_text("Forwards the call to (512) 555-0000")

    db.session.expire_all()
    reply = db.session.scalars(
        sa.select(Message).filter_by(direction=Direction.IN, kind=MessageKind.INBOUND)
    ).one()
    assert reply.body == "Great, the side gate is open"
    assert reply.conversation.customer_id == sms_world.customer.id
    assert reply.routing_reason

    desktop = browser.new_context(viewport={"width": 1280, "height": 860})
    wide = desktop.new_page()
    browser_login(
        wide, sms_world.company.owner, then=f"/dev/phone?customer={sms_world.customer.id}"
    )
    expect(wide.locator("#sim-thread .sim-mine")).to_have_count(1)
    screenshot(wide, "phone-simulator-1280")
    desktop.close()

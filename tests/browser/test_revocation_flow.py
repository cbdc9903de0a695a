"""Issue 16's browser test: a customer texts "stop texting me" from the simulated phone;
the office sees the flag in the inbox and marks it as an opt-out; the phone receives the
one confirmation and nothing else (the booking text held meanwhile never goes)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Message, MessageKind, MessageStatus, OptOut, RevocationFlag
from tests.fixtures.live import screenshot, stored

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]


def test_office_opts_out_a_flagged_stop_texting_me(
    live_server, phone_page, browser, browser_login, sms_world, make, fake, dispatcher
):
    customer = sms_world.customer
    job = make.job(sms_world.company, customer=customer)  # its booking text waits to go
    db.session.commit()

    # The customer, on their phone, asks in their own words.
    phone = phone_page
    # The page's clock runs on its own but can be moved ahead: the thread's 2 s poll is
    # fast-forwarded once the text is in the database.
    phone.clock.install()
    browser_login(phone, sms_world.company.owner, then=f"/dev/phone?customer={customer.id}")
    phone.fill("#sim-body", "Please stop texting me")
    phone.click(".sim-send")
    stored("Please stop texting me")
    phone.clock.fast_forward(2000)
    expect(phone.locator("#sim-thread .sim-mine .sim-bubble")).to_have_text(
        "Please stop texting me"
    )
    flag = None
    for _ in range(50):  # the inbound worker routes it a moment later
        db.session.expire_all()
        flag = db.session.scalars(sa.select(RevocationFlag)).first()
        if flag is not None:
            break
        phone.wait_for_timeout(100)
    assert flag is not None
    booked = db.session.scalars(sa.select(Message).filter_by(job_id=job.id)).one()
    assert booked.next_attempt_at is None  # held while nobody has decided

    # The office sees the flag in the inbox and decides.
    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    office = desktop.new_page()
    browser_login(office, sms_world.company.owner, then=f"/inbox/{flag.message.conversation_id}")
    banner = office.locator("#revocation")
    expect(banner).to_contain_text("Please stop texting me")
    expect(banner).to_contain_text("10 business days left")
    expect(office.locator(f"#message-{booked.id}")).to_contain_text("Held")
    screenshot(office, "revocation-inbox-1280")
    office.click("#revocation button[value=opt_out]")
    expect(office.locator("#revocation")).to_have_count(0)
    expect(office.locator("#thread-messages")).to_contain_text("Automatic: opt-out confirmation")
    screenshot(office, "revocation-decided-1280")
    desktop.close()

    # The outbox sends what may go: only the confirmation reaches the phone.
    dispatcher().run_once()
    fake.run_all_callbacks()
    phone.goto(f"{live_server.url}/dev/phone?customer={customer.id}")
    received = phone.locator("#sim-thread .sim-theirs .sim-bubble")
    expect(received).to_have_count(1)
    expect(received).to_contain_text("You're unsubscribed")
    screenshot(phone, "revocation-phone-390")

    db.session.expire_all()
    assert [m.body for m in fake.outbound()] == [received.inner_text()]
    assert db.session.get(Message, booked.id).status == MessageStatus.CANCELED
    assert db.session.scalars(sa.select(OptOut)).one().source == "revocation"
    assert db.session.scalars(
        sa.select(Message).filter_by(kind=MessageKind.OPT_OUT_CONFIRMATION)
    ).one().status in (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.QUEUED)

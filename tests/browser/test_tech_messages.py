"""A technician who is the Point of Contact reads and answers customers' texts on an
iPhone-sized touch screen (390x844) in real headless Chromium: the unread count on My day,
the list of messages, the thread with the routing reason, a reply that reaches the
customer's phone (the simulator), a new text showing up without a reload, and the link of
a forwarded copy leading through the login to the thread. axe-core clean."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Conversation, Message, MessageKind, Role, utcnow
from app.services.thread_links import short_thread_link
from tests.fixtures.live import screenshot, serious_axe_violations, stored

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]

WAIT = 15_000  # ms; the thread polls every 4 s, the list every 5 s


@pytest.fixture
def poc_tech(make):
    company = make.company("Drip Busters Plumbing")
    make.number(company, e164="+15126660042")
    maria = make.user(company, Role.TECH, name="Maria Lopez")
    make.user(company, Role.TECH, name="Otto Other")
    company.poc_user_id = maria.id
    jane = make.customer(company, name="Jane Doe-Fitzgerald", phone="+15125550142")
    db.session.commit()
    return company, maria, jane


def _screenshot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, name)


def _no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_tech_reads_and_replies_in_messages_on_the_phone(
    browser, phone_page, live_server, browser_login, poc_tech, csrf_enabled, request
):
    company, maria, jane = poc_tech

    # Jane texts from her phone (the simulator, driven by the office in a desktop window).
    office = browser.new_context(viewport={"width": 1280, "height": 860})
    request.addfinalizer(office.close)
    sim = office.new_page()
    # The pages' clocks run on their own but can be moved ahead: a poll (every 4 s here, 2 s
    # on the simulator) is fast-forwarded once what it will show is in the database.
    sim.clock.install()
    browser_login(sim, company.owner, then=f"/dev/phone?customer={jane.id}")
    sim.fill("#sim-body", "Is the gate code still 4321? The dog is out.")
    sim.locator(".sim-send").click()

    page = phone_page
    page.clock.install()
    stored("Is the gate code still 4321?")
    browser_login(page, maria)
    expect(page).to_have_url(f"{live_server.url}/tech")
    badge = page.locator(".tech-messages-link .tech-badge")
    # The worker routes the text a moment later; My day's header counts it.
    for _ in range(20):
        if badge.count():
            break
        page.wait_for_timeout(500)
        page.reload()
    expect(badge).to_have_text(re.compile(r"^1\s*unread$"))
    _screenshot(page, "tech-messages-myday-390")

    page.locator(".tech-messages-link").tap()
    expect(page).to_have_url(f"{live_server.url}/tech/messages")
    row = page.locator(".message-row", has_text="Jane Doe-Fitzgerald")
    expect(row).to_contain_text("Is the gate code still 4321?")
    expect(row).to_contain_text("1 new")
    _screenshot(page, "tech-messages-list-390")
    assert _no_sideways_scroll(page)
    assert serious_axe_violations(page) == []

    row.tap()
    expect(page.locator("h1")).to_have_text("Texts with Jane Doe-Fitzgerald")
    expect(page.locator("#thread-route")).to_contain_text("Routed to you.")
    expect(page.locator("#thread-route")).to_contain_text("Point of Contact -> Maria Lopez")
    incoming = page.locator("#thread-messages .msg-in", has_text="Is the gate code still 4321?")
    expect(incoming).to_have_count(1)
    expect(incoming.locator(".msg-route")).to_have_count(0)  # the same as the box above
    _screenshot(page, "tech-messages-thread-390")
    assert _no_sideways_scroll(page)
    assert serious_axe_violations(page) == []

    # Maria answers; the text shows with its state and reaches Jane's phone once.
    page.locator("#reply-body").fill("Yes, 4321. I'll close the gate behind me.")
    page.get_by_role("button", name="Send text").tap()
    mine = page.locator("#thread-messages .msg-out", has_text="Yes, 4321.")
    expect(mine).to_have_count(1, timeout=WAIT)
    expect(mine).to_contain_text(re.compile("Waiting to send|Sending|Sent to carrier|Sent"))
    expect(page.locator("#reply-body")).to_have_value("")
    sim_texts = sim.locator("#sim-thread .sim-theirs .sim-bubble")
    stored("Yes, 4321.")
    sim.clock.fast_forward(2000)
    expect(sim_texts.filter(has_text="Yes, 4321.")).to_have_count(1, timeout=WAIT)
    reply = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.MANUAL)).one()
    assert reply.author_id == maria.id

    # Jane answers again: it appears on Maria's screen without a reload.
    sim.fill("#sim-body", "Thank you!")
    sim.locator(".sim-send").click()
    stored("Thank you!")
    page.clock.fast_forward(4000)
    expect(page.locator("#thread-messages .msg-in", has_text="Thank you!")).to_have_count(
        1, timeout=WAIT
    )
    _screenshot(page, "tech-messages-replied-390")
    assert serious_axe_violations(page) == []

    page.set_viewport_size({"width": 1280, "height": 800})
    assert _no_sideways_scroll(page)
    _screenshot(page, "tech-messages-thread-1280")


def test_the_link_of_a_forwarded_copy_opens_the_thread_after_login(
    phone_page, live_server, poc_tech, inbound
):
    company, maria, jane = poc_tech
    message = inbound(company, jane.mobile_phone, "Running late?")
    from app.services.routing import apply_routing

    apply_routing(message=message)
    db.session.commit()
    conversation = db.session.get(Conversation, message.conversation_id)
    link = short_thread_link(user=maria, conversation=conversation)
    assert link.startswith(live_server.url)

    page = phone_page
    page.goto(link)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.fill("input[name=email]", maria.email)
    from tests.fixtures.factories import PASSWORD

    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/tech/messages/{conversation.id}")
    expect(page.locator("#thread-messages")).to_contain_text("Running late?")
    assert urlsplit(link).path.startswith("/t/")

    # Her profile is where she turns the copies to her own mobile on.
    page.goto(f"{live_server.url}/me")
    card = page.locator("section", has=page.locator("#forwarding-title"))
    expect(card).to_contain_text("Add your mobile number above first")
    _screenshot(page, "tech-messages-profile-390")
    assert serious_axe_violations(page) == []


def test_the_messages_chip_counts_a_new_text_without_a_reload(
    browser, phone_page, live_server, browser_login, make, poc_tech, csrf_enabled, request
):
    company, maria, jane = poc_tech
    # A day long enough to scroll: the poll must leave the tech where she was.
    for n in range(4):
        make.job(
            company,
            customer=make.customer(company, name=f"Customer {n}", phone=f"+1512555030{n}"),
            techs=[maria],
            start=utcnow() + timedelta(days=1, hours=n),
            description="Water heater flush",
        )
    db.session.commit()

    page = phone_page
    # The page's clock runs on its own but can be moved ahead: My day's 10 s poll is
    # fast-forwarded once the text is in.
    page.clock.install()
    browser_login(page, maria)
    expect(page).to_have_url(f"{live_server.url}/tech")
    chip = page.locator("#messages-chip")
    expect(chip).to_have_text("Messages")
    page.evaluate("window.notReloaded = true")
    page.evaluate("document.getElementById('messages-chip').focus({preventScroll: true})")
    page.evaluate("window.scrollTo(0, 300)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 0

    # Jane texts from her phone (the simulator); the worker routes it to Maria (POC).
    office = browser.new_context(viewport={"width": 1280, "height": 860})
    request.addfinalizer(office.close)
    sim = office.new_page()
    browser_login(sim, company.owner, then=f"/dev/phone?customer={jane.id}")
    sim.fill("#sim-body", "Can you come an hour earlier?")
    sim.locator(".sim-send").click()
    stored("Can you come an hour earlier?")
    page.clock.fast_forward(10_000)

    # Within one poll of My day (every 10 s), with no reload, focus and scroll kept.
    expect(chip.locator(".tech-badge")).to_have_text(re.compile(r"^1\s*unread$"), timeout=25_000)
    assert page.evaluate("window.notReloaded") is True
    assert page.evaluate("document.activeElement.id") == "messages-chip"
    assert page.evaluate("window.scrollY") == scrolled
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "tech-myday-chip-390", full_page=False)
    assert serious_axe_violations(page) == []
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "tech-myday-chip-1280", full_page=False)
    assert _no_sideways_scroll(page)

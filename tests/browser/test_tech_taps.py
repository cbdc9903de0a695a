"""The tech's day in fewer taps, counted in real headless Chromium at 390x844: from My day
to the customer's On My Way text in 2 taps, a whole job in 4 (On My Way, an ETA, Start,
Finished; or without Start: On My Way, an ETA, Finished, Yes), the texts really reaching
the customer's phone (the fake Twilio's phone simulator); the bottom sheet as an
accessible dialog; Start without On My Way asking once; a double tap taking one step."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import JobStatus, Message, MessageKind, Role, utcnow
from app.services.job_events import job_status_changed
from app.services.job_status import job_set_status
from tests.fixtures.live import PHONE, past_arming, screenshot, serious_axe_violations

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]

WAIT = 15_000


@pytest.fixture
def transitions():
    calls = []

    def spy(transition, *, actor):
        calls.append((transition.job.id, transition.new_status))

    with job_status_changed.connected_to(spy):
        yield calls


@pytest.fixture
def day(make):
    company = make.company("Drip Busters Plumbing")
    make.number(company, e164="+15126660042")
    tech = make.user(company, Role.TECH, name="Maria Lopez")
    soon = (utcnow() + timedelta(minutes=30)).replace(microsecond=0)
    jane = make.customer(
        company, name="Jane Doe-Fitzgerald", phone="+15125550142", address="12 Elm St, Austin, TX"
    )
    first = make.job(
        company, customer=jane, techs=[tech], start=soon, description="Kitchen sink leaking"
    )
    # Later the same day if there is room before midnight, else right after: either way
    # on today's list or the next one, and after the first job.
    second = make.job(
        company,
        customer=make.customer(company, name="Sam Second", phone="+15125550143"),
        techs=[tech],
        start=soon + timedelta(minutes=10),
        description="Water heater flush",
    )
    db.session.commit()
    return company, tech, jane, first, second


class Taps:
    """Every tap the test makes goes through here, so the count is the count."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, locator) -> None:
        self.count += 1
        past_arming(locator.page)
        locator.tap()


def _texts(job, kind: str) -> list[Message]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Message).filter_by(job_id=job.id, kind=kind)))


def test_on_my_way_in_two_taps_and_a_whole_job_in_four(
    browser, phone_page, live_server, browser_login, day, transitions, csrf_enabled, request
):
    company, tech, jane, first, second = day
    page = phone_page
    page.clock.install()  # moved ahead past the panel's arming (_past_arming)
    tap = Taps()
    browser_login(page, tech)
    expect(page).to_have_url(f"{live_server.url}/tech")
    card = page.locator(".job-card", has_text="Jane Doe-Fitzgerald")

    # 1: On My Way on the card opens the sheet, focus inside it.
    tap(card.get_by_role("link", name="On My Way to Jane Doe-Fitzgerald"))
    sheet = page.get_by_role("dialog", name="On My Way to Jane Doe-Fitzgerald")
    expect(sheet).to_be_visible()
    expect(sheet.get_by_role("button", name="15 min")).to_be_focused()
    for chip in sheet.locator(".eta-chip").all():
        box = chip.bounding_box()
        assert box["height"] >= 48 and box["width"] >= 48
    screenshot(page, "tech-taps-day-sheet-390", full_page=False)
    assert serious_axe_violations(page) == []

    # 2: an ETA chip sends it; the job page opens with the text on its way.
    tap(sheet.get_by_role("button", name="30 min"))
    expect(page).to_have_url(f"{live_server.url}/tech/jobs/{first.id}")
    actions = page.locator("#actions")
    expect(actions.locator(".status")).to_have_text("On my way", timeout=WAIT)
    expect(actions).to_contain_text("by you at")
    expect(actions).to_contain_text("ETA 30 min")
    expect(page.get_by_text("On My Way: done.")).to_be_visible()
    assert tap.count == 2
    assert transitions == [(first.id, "on_my_way")]
    (on_my_way,) = _texts(first, MessageKind.ON_MY_WAY)
    assert "30" in on_my_way.body
    screenshot(page, "tech-taps-job-on-my-way-390", full_page=False)

    # 3 and 4: Finished (Start is optional), and its one question.
    tap(actions.get_by_role("link", name="Finished"))
    expect(page.get_by_text("Is the job finished?")).to_be_visible()
    tap(actions.get_by_role("button", name="Yes, it\u2019s finished"))
    expect(actions.locator(".status")).to_have_text("Finished", timeout=WAIT)
    assert tap.count == 4
    assert transitions == [(first.id, "on_my_way"), (first.id, "finished")]
    (finished,) = _texts(first, MessageKind.JOB_FINISHED)

    # The day's progress and the next job (the second job may fall on tomorrow's list
    # when the test runs just before midnight: then the day is done).
    next_job = actions.get_by_role("link", name="Open next job")
    if next_job.count():
        expect(actions).to_contain_text("1 of 2 done")
        expect(actions).to_contain_text("Next job: Sam Second")
    screenshot(page, "tech-taps-job-finished-390", full_page=False)
    assert serious_axe_violations(page) == []

    # Both texts reached Jane's phone, once each (the fake Twilio's phone simulator).
    office = browser.new_context(viewport={"width": 1280, "height": 800})
    request.addfinalizer(office.close)
    sim = office.new_page()
    browser_login(sim, company.owner, then=f"/dev/phone?customer={jane.id}")
    bubbles = sim.locator("#sim-thread .sim-theirs .sim-bubble")
    expect(bubbles.filter(has_text=on_my_way.body[:40])).to_have_count(1, timeout=WAIT)
    expect(bubbles.filter(has_text=finished.body[:40])).to_have_count(1, timeout=WAIT)

    if next_job.count():
        next_job.tap()
        expect(page).to_have_url(f"{live_server.url}/tech/jobs/{second.id}")

    # The same pages on a desktop screen.
    desktop = browser.new_context(viewport={"width": 1280, "height": 800})
    request.addfinalizer(desktop.close)
    desk = desktop.new_page()
    browser_login(desk, tech, then="/tech")
    desk.locator(".job-card", has_text="Sam Second").get_by_role("link", name="On My Way").click()
    expect(desk.get_by_role("dialog")).to_be_visible()
    screenshot(desk, "tech-taps-day-sheet-1280", full_page=False)
    desk.goto(f"{live_server.url}/tech/jobs/{first.id}")
    screenshot(desk, "tech-taps-job-finished-1280", full_page=False)


def test_a_whole_job_with_start_is_four_taps_and_a_double_tap_takes_one_step(
    phone_page, live_server, browser_login, day, transitions
):
    _, tech, _, first, _ = day
    page = phone_page
    page.clock.install()  # moved ahead past the panel's arming (_past_arming)
    tap = Taps()
    browser_login(page, tech)
    card = page.locator(".job-card", has_text="Jane Doe-Fitzgerald")
    tap(card.get_by_role("link", name="On My Way to Jane Doe-Fitzgerald"))
    tap(page.get_by_role("dialog").get_by_role("button", name="15 min"))
    actions = page.locator("#actions")
    expect(actions.locator(".status")).to_have_text("On my way", timeout=WAIT)

    # A double tap on Start whose second tap lands the moment the new panel is in, where
    # Finished now sits: it must not finish the job (the fresh panel ignores taps for a
    # moment: tech.js, "arming"). The second tap is made from the page itself, right when
    # htmx has settled the swap, so the test does not depend on the machine's speed.
    start = actions.get_by_role("button", name="Start", exact=True)
    box = start.bounding_box()
    page.evaluate(
        """([x, y]) => {
          document.addEventListener("htmx:afterSettle", function second(event) {
            if (!event.target || event.target.id !== "actions") { return; }
            document.removeEventListener("htmx:afterSettle", second);
            const hit = document.elementFromPoint(x, y);
            const button = hit && hit.closest("button");
            window.secondTapHit = button ? button.textContent.trim() : (hit ? hit.tagName : "");
            if (hit) { hit.click(); }
          });
        }""",
        [box["x"] + box["width"] / 2, box["y"] + box["height"] / 2],
    )
    tap(start)
    expect(actions.locator(".status")).to_have_text("Started", timeout=WAIT)
    # (Polled from here: wait_for_function would need eval, which the CSP forbids.)
    hit = None
    for _ in range(100):
        hit = page.evaluate("window.secondTapHit")
        if hit is not None:
            break
        page.wait_for_timeout(50)
    assert hit is not None and "Finished" not in hit
    page.wait_for_timeout(300)
    expect(actions.locator(".status")).to_have_text("Started")
    assert transitions == [(first.id, "on_my_way"), (first.id, "started")]

    tap(actions.get_by_role("button", name="Finished"))  # once the panel is armed again
    expect(actions.locator(".status")).to_have_text("Finished", timeout=WAIT)
    assert tap.count == 4
    assert transitions == [(first.id, "on_my_way"), (first.id, "started"), (first.id, "finished")]
    assert len(_texts(first, MessageKind.JOB_FINISHED)) == 1


def test_the_sheet_is_a_dialog_a_keyboard_can_use_and_leave(
    phone_page, live_server, browser_login, day, transitions
):
    _, tech, _, first, _ = day
    page = phone_page
    browser_login(page, tech)
    opener = page.locator(".job-card", has_text="Jane Doe-Fitzgerald").get_by_role(
        "link", name="On My Way"
    )

    opener.tap()
    sheet = page.get_by_role("dialog", name="On My Way to Jane Doe-Fitzgerald")
    expect(sheet).to_be_visible()
    # Tab goes round inside the sheet, never to the page behind it.
    for _ in range(12):
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.closest('dialog[open]') !== null")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.closest('dialog[open]') !== null")

    # The list's poll (here: the tab coming back to the foreground) leaves the sheet alone.
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "/tech?" in r.url else None)
    page.evaluate("document.body.dispatchEvent(new Event('page-visible'))")
    expect(sheet).to_be_visible()

    page.keyboard.press("Escape")
    expect(sheet).to_be_hidden()
    expect(opener).to_be_focused()
    with page.expect_request(lambda r: "/tech?" in r.url):
        page.evaluate("document.body.dispatchEvent(new Event('page-visible'))")
    # Closed: polling goes on. And the page's requests reach the test in the order they
    # were made, so a poll from the open sheet's turn would be in the list before this one.
    assert len(polls) == 1

    # Cancel closes it too; "Other" needs minutes before it sends.
    opener.tap()
    sheet.get_by_role("button", name="Send").tap()
    expect(sheet).to_be_visible()
    assert page.evaluate("document.activeElement.validity.valueMissing") is True
    sheet.get_by_role("button", name="Cancel").tap()
    expect(sheet).to_be_hidden()
    assert transitions == []

    # Typed minutes send as the ETA.
    opener.tap()
    sheet.get_by_label("Other").fill("25")
    sheet.get_by_role("button", name="Send").tap()
    expect(page).to_have_url(f"{live_server.url}/tech/jobs/{first.id}")
    expect(page.locator("#actions")).to_contain_text("ETA 25 min", timeout=WAIT)
    assert transitions == [(first.id, "on_my_way")]


def test_start_without_on_my_way_sits_below_it_and_asks_once(
    phone_page, live_server, browser_login, day, transitions
):
    _, tech, _, first, _ = day
    page = phone_page
    page.clock.install()  # moved ahead past the panel's arming (_past_arming)
    browser_login(page, tech)
    page.goto(f"{live_server.url}/tech/jobs/{first.id}/on-my-way")  # the sheet's own page
    assert serious_axe_violations(page) == []
    page.goto(f"{live_server.url}/tech/jobs/{first.id}")
    actions = page.locator("#actions")

    # The top bar shows the whole job number, down to the narrowest phone.
    for width in (320, 390):
        page.set_viewport_size({"width": width, "height": 844})
        fits = page.evaluate(
            """() => {
              const title = document.querySelector('.tech-bar-job');
              const next = document.querySelector('.tech-bar-end').getBoundingClientRect();
              const box = title.getBoundingClientRect();
              return title.scrollWidth <= title.clientWidth && box.right <= next.left &&
                document.documentElement.scrollWidth <= window.innerWidth;
            }"""
        )
        assert fits, width
        expect(page.locator(".tech-bar-job")).to_have_text(f"Job #{first.number}")
    go = actions.get_by_role("link", name="On My Way", exact=True)
    start = actions.get_by_role("link", name="Already there? Start without On My Way")
    assert go.bounding_box()["y"] + go.bounding_box()["height"] <= start.bounding_box()["y"]
    screenshot(page, "tech-taps-job-scheduled-390", full_page=False)

    start.tap()
    expect(page.get_by_text("Start without texting the customer?")).to_be_visible()
    screenshot(page, "tech-taps-job-start-question-390", full_page=False)
    past_arming(page)
    actions.get_by_role("link", name="Go back").tap()
    expect(go).to_be_visible()
    assert transitions == []

    past_arming(page)
    start.tap()
    yes = actions.get_by_role("button", name="Yes, start without a text")
    expect(yes).to_be_visible()
    past_arming(page)
    yes.tap()
    expect(actions.locator(".status")).to_have_text("Started", timeout=WAIT)
    assert transitions == [(first.id, "started")]
    assert _texts(first, MessageKind.ON_MY_WAY) == []


def test_without_javascript_on_my_way_is_still_two_taps(
    browser, live_server, browser_login, day, transitions, request
):
    _, tech, _, first, _ = day
    context = browser.new_context(**PHONE, java_script_enabled=False)
    request.addfinalizer(context.close)
    page = context.new_page()
    tap = Taps()
    browser_login(page, tech, then="/tech")

    tap(
        page.locator(".job-card", has_text="Jane Doe-Fitzgerald").get_by_role(
            "link", name="On My Way"
        )
    )
    expect(page).to_have_url(f"{live_server.url}/tech/jobs/{first.id}/on-my-way")
    screenshot(page, "tech-taps-sheet-page-nojs-390", full_page=False)
    tap(page.get_by_role("button", name="45 min"))

    expect(page).to_have_url(f"{live_server.url}/tech/jobs/{first.id}")
    expect(page.locator("#actions")).to_contain_text("ETA 45 min")
    assert tap.count == 2
    assert transitions == [(first.id, "on_my_way")]
    # Without JS the "done" message simply stays (nothing could take it away again).
    expect(page.get_by_role("status").filter(has_text="On My Way: done.")).to_be_visible()
    expect(page.locator(".flash-dismiss")).to_have_count(0)


def test_the_done_message_goes_by_itself_or_with_a_tap(phone_page, live_server, browser_login, day):
    _, tech, _, first, _ = day
    page = phone_page
    # The page's clock runs on its own but can be moved ahead: the message's 6 s are
    # fast-forwarded instead of waited out.
    page.clock.install()
    browser_login(page, tech)

    # On My Way from My day: the job page opens with "On My Way: done." on top, a status
    # message for screen readers, that stays long enough to read and then goes by itself.
    page.locator(".job-card", has_text="Jane Doe-Fitzgerald").get_by_role(
        "link", name="On My Way"
    ).tap()
    page.get_by_role("dialog").get_by_role("button", name="15 min").tap()
    expect(page).to_have_url(f"{live_server.url}/tech/jobs/{first.id}")
    done = page.get_by_role("status").filter(has_text="On My Way: done.")
    expect(done).to_be_visible()
    dismiss = done.get_by_role("button", name="Dismiss: On My Way: done.")
    box = dismiss.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    screenshot(page, "tech-taps-done-message-390", full_page=False)
    assert serious_axe_violations(page) == []
    page.clock.fast_forward(3000)
    expect(done).to_be_visible()
    page.clock.fast_forward(3000)
    expect(done).to_have_count(0, timeout=6000)
    expect(page.locator("#actions .status")).to_have_text("On my way")

    # A tap on its button takes it away at once; focus stays where it was. (The sheet's
    # own page of a job already on the way leads to the job with "Already on my way.")
    page.goto(f"{live_server.url}/tech/jobs/{first.id}/on-my-way")
    expect(page).to_have_url(f"{live_server.url}/tech/jobs/{first.id}")
    done = page.get_by_role("status").filter(has_text="Already on my way.")
    expect(done).to_be_visible()
    done.get_by_role("button", name="Dismiss: Already on my way.").tap()
    expect(done).to_have_count(0, timeout=1000)
    assert page.evaluate("document.activeElement.id") == "flashes"

    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/tech/jobs/{first.id}/on-my-way")
    expect(page.locator(".flash-dismiss")).to_have_count(1)
    screenshot(page, "tech-taps-done-message-1280", full_page=False)


@pytest.fixture
def two_jobs_today(make):
    """Two jobs of the same day whatever the hour the test runs (the day is UTC's)."""
    company = make.company("Drip Busters Plumbing", time_zone="UTC")
    make.number(company, e164="+15126660042")
    tech = make.user(company, Role.TECH, name="Maria Lopez")
    early = utcnow().replace(hour=0, minute=30, second=0, microsecond=0)
    jane = make.customer(company, name="Jane Doe-Fitzgerald", phone="+15125550142")
    sam = make.customer(company, name="Sam Second", phone="+15125550143")
    first = make.job(company, customer=jane, techs=[tech], start=early, description="Sink")
    second = make.job(
        company, customer=sam, techs=[tech], start=early + timedelta(hours=1), description="Flush"
    )
    job_set_status(job=first, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    job_set_status(job=first, status=JobStatus.STARTED, actor=tech)
    db.session.commit()
    return company, tech, first, second


def test_the_next_jobs_on_my_way_is_two_taps_from_finished(
    browser, phone_page, live_server, browser_login, two_jobs_today, request
):
    company, tech, first, second = two_jobs_today
    page = phone_page
    page.clock.install()  # moved ahead past the panel's arming (_past_arming)
    browser_login(page, tech, then=f"/tech/jobs/{first.id}")
    actions = page.locator("#actions")
    actions.get_by_role("button", name="Finished").tap()
    expect(actions.locator(".status")).to_have_text("Finished", timeout=WAIT)
    card = actions.get_by_role("group", name="Next job: Sam Second")
    expect(card).to_be_visible()
    expect(actions).to_contain_text("1 of 2 done")
    screenshot(page, "tech-taps-finished-next-job-390", full_page=False)
    assert serious_axe_violations(page) == []

    # From the Finished screen: On My Way on the next job's card, then an ETA.
    tap = Taps()
    tap(card.get_by_role("link", name="On My Way to Sam Second"))
    sheet = page.get_by_role("dialog", name="On My Way to Sam Second")
    expect(sheet).to_be_visible()
    expect(sheet.get_by_role("button", name="15 min")).to_be_focused()
    screenshot(page, "tech-taps-finished-next-sheet-390", full_page=False)
    assert serious_axe_violations(page) == []
    tap(sheet.get_by_role("button", name="30 min"))

    # The next job's page opens, its On My Way text on the way to Sam's phone.
    expect(page).to_have_url(f"{live_server.url}/tech/jobs/{second.id}")
    expect(actions.locator(".status")).to_have_text("On my way", timeout=WAIT)
    expect(actions).to_contain_text("ETA 30 min")
    assert tap.count == 2
    (on_my_way,) = _texts(second, MessageKind.ON_MY_WAY)
    assert "30" in on_my_way.body
    office = browser.new_context(viewport={"width": 1280, "height": 800})
    request.addfinalizer(office.close)
    sim = office.new_page()
    browser_login(sim, company.owner, then=f"/dev/phone?customer={second.customer.id}")
    bubbles = sim.locator("#sim-thread .sim-theirs .sim-bubble")
    expect(bubbles.filter(has_text=on_my_way.body[:40])).to_have_count(1, timeout=WAIT)

    # The first job's Finished screen on a desktop: the next job is on the way now, so
    # its card only opens it.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.goto(f"{live_server.url}/tech/jobs/{first.id}")
    expect(card.get_by_role("link", name="On My Way")).to_have_count(0)
    expect(card.get_by_role("link", name="Open next job")).to_be_visible()
    page.locator("#actions").scroll_into_view_if_needed()
    screenshot(page, "tech-taps-finished-next-job-1280", full_page=False)

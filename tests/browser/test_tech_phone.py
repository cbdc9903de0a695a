"""The tech's day on an iPhone-sized touch screen (390x844) in real headless Chromium:
On My Way with an ETA (tapped twice: one transition, one text on the customer's phone),
Start, Finished (one tap each, in order), a customer's reply showing up without a reload, a
reply going out, failures that keep what was typed, and an axe-core check of the pages."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Job, Message, MessageKind, Role, utcnow
from app.services.job_events import job_status_changed
from tests.fixtures.live import past_arming, screenshot, serious_axe_violations, stored

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]

WAIT = 15_000  # ms; the conversation polls every 4 s


@pytest.fixture
def transitions():
    """Status changes that really happened (the service announces each change once); the
    live server runs in this process, so the spy sees its requests too."""
    calls = []

    def spy(transition, *, actor):
        calls.append(transition.new_status)

    with job_status_changed.connected_to(spy):
        yield calls


@pytest.fixture
def day(make):
    company = make.company("Drip Busters Plumbing")
    make.number(company, e164="+15126660042")
    tech = make.user(company, Role.TECH, name="Maria Lopez")
    jane = make.customer(
        company,
        name="Jane Doe-Fitzgerald",
        phone="+15125550142",
        address="1234 Longhorn Meadow Boulevard, Apt 5B, Austin, TX 78701",
    )
    soon = (utcnow() + timedelta(minutes=30)).replace(microsecond=0)
    job = make.job(
        company,
        customer=jane,
        techs=[tech],
        start=soon,
        description="Kitchen sink leaking under the cabinet",
        notes="Side gate code 4321. Friendly dog named Biscuit.\nPark on the street.",
    )
    make.job(
        company,
        customer=make.customer(company, name="Tom Tomorrow", address="9 Oak Ave, Austin, TX"),
        techs=[tech],
        start=soon + timedelta(days=1),
        description="Water heater flush",
    )
    db.session.commit()
    return company, tech, jane, job


def _layout_problems(page) -> list[str]:
    """Horizontal scrolling and visible tap targets smaller than 44x44 px."""
    # Measured once the stylesheets are in: right after a tap opens a page, its text can
    # be there before its CSS (a link then measures 69x19).
    page.wait_for_load_state()
    return page.evaluate(
        """() => {
          const problems = [];
          if (document.documentElement.scrollWidth > window.innerWidth) {
            problems.push(`scrolls sideways: ${document.documentElement.scrollWidth}px`);
          }
          const targets = document.querySelectorAll(
            'main a, main button, main textarea, main input[type=number], .eta-chip span, ' +
            'header a, header button');
          for (const el of targets) {
            const box = el.getBoundingClientRect();
            if (box.width === 0 || box.height === 0) continue;  // hidden
            if (el.closest('.visually-hidden, .skip-link')) continue;
            if (box.width < 44 || box.height < 44) {
              problems.push(`${el.tagName} "${el.textContent.trim().slice(0, 30)}" ` +
                            `${Math.round(box.width)}x${Math.round(box.height)}`);
            }
          }
          return problems;
        }"""
    )


def _screenshot(page, name: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # full-page shots of a scrolled page misplace the bar
    screenshot(page, name)


def _job_messages(job: Job, kind: str) -> int:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(sa.func.count(Message.id)).filter_by(job_id=job.id, kind=kind)
    )


def test_a_tech_works_a_job_from_the_phone(
    browser, phone_page, live_server, browser_login, day, transitions, csrf_enabled, request
):
    company, tech, jane, job = day
    page = phone_page
    # The pages' clocks run on their own but can be moved ahead: a poll (every 4 s here, 2 s
    # on the simulator) is fast-forwarded once what it will show is in the database.
    page.clock.install()
    browser_login(page, tech)
    expect(page).to_have_url(f"{live_server.url}/tech")
    expect(page.locator(".job-card")).to_have_count(2)
    expect(page.locator(".job-card").first).to_contain_text("Jane Doe-Fitzgerald")
    _screenshot(page, "tech-index-390")
    assert _layout_problems(page) == []
    assert serious_axe_violations(page) == []

    page.locator(".job-card").first.get_by_role("link", name="Open job").tap()
    expect(page.locator("h1")).to_have_text("Jane Doe-Fitzgerald")
    _screenshot(page, "tech-job-390")
    assert _layout_problems(page) == []
    assert serious_axe_violations(page) == []
    go = page.get_by_role("link", name="On My Way", exact=True)
    box = go.bounding_box()
    assert box["height"] >= 56 and box["width"] >= 320

    # On My Way opens the ETA sheet; the 30 minute chip, tapped twice quickly, sends it.
    go.tap()
    chip = page.get_by_role("dialog").get_by_role("button", name="30 min")
    # Two taps in the same instant: the first one disables the chips while it runs.
    chip.evaluate("button => { button.click(); button.click(); }")
    actions = page.locator("#actions")
    expect(actions.locator(".status")).to_have_text("On my way", timeout=WAIT)
    expect(actions).to_contain_text("ETA 30 min")
    expect(page.get_by_role("link", name="On My Way", exact=True)).to_have_count(0)
    # A retry after a dropped connection replays the same form: still one transition.
    replay = page.evaluate(
        """async (url) => {
          const token = document.querySelector('input[name=csrf_token]').value;
          const body = new URLSearchParams({csrf_token: token, status: 'on_my_way', eta: '30'});
          const send = () => fetch(url, {method: 'POST', body, headers: {'HX-Request': 'true'}});
          const answers = await Promise.all([send(), send()]);
          return answers.map(a => a.status);
        }""",
        f"/tech/jobs/{job.id}/status",
    )
    assert replay == [200, 200]
    assert transitions == ["on_my_way"]
    assert _job_messages(job, MessageKind.ON_MY_WAY) == 1

    # The customer's phone (the simulator) shows the On My Way text once.
    office = browser.new_context(viewport={"width": 1280, "height": 860})
    request.addfinalizer(office.close)
    sim = office.new_page()
    sim.clock.install()
    browser_login(sim, company.owner, then=f"/dev/phone?customer={jane.id}")
    on_my_way = db.session.scalars(
        sa.select(Message).filter_by(job_id=job.id, kind=MessageKind.ON_MY_WAY)
    ).one()
    sim_texts = sim.locator("#sim-thread .sim-theirs .sim-bubble")
    expect(sim_texts.filter(has_text=on_my_way.body[:40])).to_have_count(1)

    # The On My Way text shows in the conversation on the tech's screen too.
    page.clock.fast_forward(4000)
    expect(page.locator("#messages .msg-out").last).to_contain_text(
        on_my_way.body[:40], timeout=WAIT
    )

    # Jane replies from her phone; it is routed to Maria (job in progress) and appears on
    # Maria's screen without a reload.
    sim.fill("#sim-body", "Gate is open, come on in!")
    sim.locator(".sim-send").click()
    stored("Gate is open, come on in!")
    page.clock.fast_forward(4000)
    incoming = page.locator("#messages .msg-in", has_text="Gate is open, come on in!")
    expect(incoming).to_have_count(1, timeout=WAIT)
    expect(incoming).to_contain_text("New")

    # Maria answers from the job page; the counter counts, the text shows with a tick and
    # reaches Jane's phone once.
    page.locator("#reply-body").fill("Thanks Jane, 5 minutes out.")
    expect(page.locator("#reply-count")).to_contain_text("27 characters · 1 segment")
    page.get_by_role("button", name="Send text").tap()
    mine = page.locator("#messages .msg-out", has_text="Thanks Jane, 5 minutes out.")
    expect(mine).to_contain_text(
        re.compile("Waiting to send|Sending|Sent to carrier"), timeout=WAIT
    )
    expect(page.locator("#reply-body")).to_have_value("")
    stored("Thanks Jane, 5 minutes out.")
    sim.clock.fast_forward(2000)
    expect(sim_texts.filter(has_text="Thanks Jane, 5 minutes out.")).to_have_count(1, timeout=WAIT)

    # Start, then Finished: the steps in order are one tap each.
    page.get_by_role("button", name="Start", exact=True).tap()
    expect(actions.locator(".status")).to_have_text("Started", timeout=WAIT)
    _screenshot(page, "tech-job-started-390")
    past_arming(page)
    page.get_by_role("button", name="Finished").tap()
    expect(actions.locator(".status")).to_have_text("Finished", timeout=WAIT)
    expect(actions.get_by_role("button")).to_have_count(0)
    expect(actions).to_contain_text("1 of 1 done")
    assert transitions == ["on_my_way", "started", "finished"]
    assert _job_messages(job, MessageKind.JOB_FINISHED) == 1
    finished = db.session.scalars(
        sa.select(Message).filter_by(job_id=job.id, kind=MessageKind.JOB_FINISHED)
    ).one()
    sim.clock.fast_forward(2000)
    expect(sim_texts.filter(has_text=finished.body[:40])).to_have_count(1, timeout=WAIT)
    expect(sim_texts.filter(has_text=on_my_way.body[:40])).to_have_count(1)
    _screenshot(page, "tech-job-finished-390")

    # The narrowest and widest phones, and a desktop: no sideways scrolling, big targets.
    for width, height in ((320, 568), (430, 932), (1280, 860)):
        page.set_viewport_size({"width": width, "height": height})
        for name, path in (("index", "/tech"), ("job", f"/tech/jobs/{job.id}")):
            page.goto(live_server.url + path)
            assert _layout_problems(page) == [], (width, name)
            _screenshot(page, f"tech-{name}-{width}")


def test_taps_show_progress_and_failures_keep_what_was_typed(
    phone_page, live_server, browser_login, day, transitions, csrf_enabled
):
    _, tech, _, job = day
    page = phone_page
    page.clock.install()  # moved ahead below, past a message's 8 s on screen
    browser_login(page, tech, then=f"/tech/jobs/{job.id}")

    # While a tap is on its way the button is disabled and says so (the request is held
    # here until the assertions are done).
    held = []

    def hold(route):
        held.append(route)

    page.route("**/tech/jobs/*/status", hold)
    page.get_by_role("link", name="Already there? Start without On My Way").tap()
    yes = page.get_by_role("button", name="Yes, start without a text")
    expect(yes).to_be_visible()
    past_arming(page)
    yes.tap()
    busy = page.locator("#actions").get_by_role("button", name="Sending…")
    expect(busy).to_be_visible()
    expect(busy).to_be_disabled()
    expect(page.locator("#actions button:enabled")).to_have_count(0)
    held[0].continue_()
    page.unroute("**/tech/jobs/*/status")
    expect(page.locator("#actions .status")).to_have_text("Started", timeout=WAIT)
    assert transitions == ["started"]

    # Offline: the tap fails with a plain message; the typed reply stays.
    page.locator("#reply-body").fill("Running 10 minutes late, sorry!")
    page.context.set_offline(True)
    page.get_by_role("button", name="Send text").tap()
    expect(page.locator("#request-problem")).to_contain_text("No connection")
    expect(page.locator("#reply-body")).to_have_value("Running 10 minutes late, sorry!")
    page.context.set_offline(False)

    # The CSRF token went stale (e.g. the session cookie was lost): a plain message, a
    # fresh token, and the next tap works.
    # (In one go: the page's own polling would otherwise refresh the token first.)
    page.get_by_role("button", name="Send text").evaluate(
        """button => {
          document.body.setAttribute('hx-headers', JSON.stringify({'X-CSRFToken': 'stale'}));
          document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'stale');
          button.click();
        }"""
    )
    expect(page.locator("#tech-problem")).to_contain_text("Please tap again.")
    expect(page.locator("#reply-body")).to_have_value("Running 10 minutes late, sorry!")
    page.get_by_role("button", name="Send text").tap()
    expect(page.locator("#messages .msg-out").last).to_contain_text(
        "Running 10 minutes late, sorry!", timeout=WAIT
    )
    # The offline tap's "No connection" went as soon as a request went through (app.js),
    # well before its own 8 s: left up, it would lie over what came next.
    assert page.locator("#request-problem").is_hidden()
    # The poll may show the text before the reply's own answer swaps in the fresh, empty
    # box: wait for that answer, or it would clear what is typed next.
    expect(page.locator("form[data-draft-key][data-sent]")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#tech-problem")).to_be_empty()

    # Logged out elsewhere: the tap says so with a login link; the typed text survives
    # the login (kept in the tab) and the tech lands back on the job.
    page.locator("#reply-body").fill("Parts are in the van")
    tech.session_version += 1
    db.session.commit()
    past_arming(page)
    page.get_by_role("button", name="Finished").tap()
    problem = page.locator("#tech-problem")
    expect(problem).to_contain_text("You were logged out")
    expect(page.get_by_role("button", name="Finished")).to_be_visible()  # the panel stayed
    expect(page.locator("#reply-body")).to_have_value("Parts are in the van")
    problem.get_by_role("link", name="Log in").tap()
    page.fill("input[name=email]", tech.email)
    page.fill("input[name=password]", "correct-horse-battery")
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/tech/jobs/{job.id}")
    expect(page.locator("#reply-body")).to_have_value("Parts are in the van")
    assert transitions == ["started"]


def test_the_tech_reads_the_profile_in_the_tech_layout_and_goes_back_to_my_day(
    browser, phone_page, live_server, browser_login, make, request
):
    company = make.company("Drip Busters Plumbing")
    tech = make.user(company, Role.TECH, name="Maria Lopez")
    db.session.commit()
    page = phone_page
    browser_login(page, tech)
    page.locator(".tech-bar").get_by_role("link", name="Profile").tap()

    expect(page).to_have_url(f"{live_server.url}/me")
    expect(page.locator(".tech-bar .tech-bar-title")).to_have_text("Profile")
    expect(page.locator(".mainnav")).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "tech-profile-390")
    assert serious_axe_violations(page) == []
    page.set_viewport_size({"width": 1280, "height": 800})
    screenshot(page, "tech-profile-1280")
    page.set_viewport_size({"width": 390, "height": 844})

    page.locator(".tech-bar").get_by_role("link", name="My day").tap()
    expect(page).to_have_url(f"{live_server.url}/tech")

    # An office user's profile keeps the office navigation.
    office = browser.new_context(viewport={"width": 1280, "height": 800})
    request.addfinalizer(office.close)
    desk = office.new_page()
    browser_login(desk, company.owner, then="/me")
    expect(desk.locator(".mainnav")).to_be_visible()
    expect(desk.locator(".tech-bar")).to_have_count(0)
    screenshot(desk, "office-profile-1280", full_page=False)

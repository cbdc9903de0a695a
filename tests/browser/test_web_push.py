"""Web Push in a real Chromium at 390x844, with a real service worker (app/static/sw.js):
a tech turns notifications on from the profile, a customer texts from the phone simulator,
the worker sends the push through pywebpush over HTTP to a fake push service this test runs
(it checks the VAPID signature and keeps the aes128gcm body), the service worker shows the
notification, tapping it opens the thread, and the tech reads and replies.

What a headless Chromium cannot do here, and what stands in for it:
- `PushManager.subscribe()` needs Google's push service (FCM), which is out of reach
  offline; headless Chromium answers "Registration failed - permission denied" even with
  the permission granted. An init script replaces only `subscribe`/`getSubscription` with a
  subscription whose endpoint is the local fake and whose keys the test generated (as the
  browser would). Everything else in push.js runs as shipped: the service worker
  registration, the permission prompt, the POST to the server.
- FCM would carry the push to the browser. Here the test decrypts what the fake received
  (with the subscription's private key, as the browser does) and hands the plaintext to the
  service worker with DevTools' `ServiceWorker.deliverPushMessage`: the real `push` event.
- A person taps the notification. DevTools cannot click an OS notification, so the test
  dispatches a `notificationclick` with that notification inside the service worker; the
  handler that runs is the shipped one.
"""

from __future__ import annotations

import base64
import json
import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from werkzeug.serving import make_server

from app.extensions import db
from app.models import Message, PushDelivery, PushStatus, PushSubscription, Role, utcnow
from app.push.fake_service import FakePushService, fake_push_service
from app.services import push
from app.services.routing import apply_routing
from tests.fixtures.inbox import store_inbound
from tests.fixtures.live import PHONE, screenshot, serious_axe_violations
from tests.push_support import BrowserKeys
from tests.support import serving

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]

WAIT = 15_000


@pytest.fixture
def push_service(app):
    """A fake push service on its own loopback port, and the gateway sending over HTTP."""
    fake = FakePushService()
    previous = app.config["WEB_PUSH_FAKE"]
    app.config["WEB_PUSH_FAKE"] = False  # to the endpoint itself, as in production
    with serving(make_server("127.0.0.1", 0, fake.wsgi, threaded=True)) as server:
        yield fake, f"http://127.0.0.1:{server.server_port}"
    app.config["WEB_PUSH_FAKE"] = previous


# Only subscribe/getSubscription: what FCM would have handed the browser.
STAND_IN_SUBSCRIPTION = """
(() => {
  const given = %s;
  // A browser keeps its subscription across page loads: so does the stand-in.
  const KEPT = "stand-in-push-subscription";
  const make = () => ({
    endpoint: given.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true },
    toJSON() { return { endpoint: given.endpoint, expirationTime: null, keys: given.keys }; },
    unsubscribe() { localStorage.removeItem(KEPT); return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function (options) {
    if (!options || !options.userVisibleOnly || !options.applicationServerKey) {
      return Promise.reject(new DOMException("bad options", "InvalidAccessError"));
    }
    const key = new Uint8Array(options.applicationServerKey);
    window.__pushApplicationServerKey = btoa(String.fromCharCode(...key));
    localStorage.setItem(KEPT, "1");
    return Promise.resolve(make());
  };
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(localStorage.getItem(KEPT) ? make() : null);
  };
})();
"""


TAP_THE_NOTIFICATION = """() => self.registration.getNotifications().then(([shown]) =>
  self.dispatchEvent(new NotificationEvent("notificationclick", {notification: shown})))"""


def _wait_for(page, predicate, timeout: float = 15.0):
    """Poll `predicate` until truthy; waiting through the page lets Playwright deliver
    DevTools events meanwhile (a plain sleep would not)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        page.wait_for_timeout(200)
    raise AssertionError("timed out")


def test_subscribe_get_a_push_tap_it_and_reply(
    app, browser, page, live_server, browser_login, make, push_service, dispatcher
):
    fake, push_base = push_service
    company = make.company("Acme Plumbing")
    make.number(company, e164="+15126660021")
    maria = make.user(company, Role.TECH, name="Maria Lopez")
    company.poc_user_id = maria.id  # a tech as Point of Contact: texts come to her phone
    jane = make.customer(company, name="Jane Doe", phone="+15125550162")
    db.session.commit()
    keys = BrowserKeys()

    context = browser.new_context(**PHONE)
    context.grant_permissions(["notifications"], origin=live_server.url)
    context.add_init_script(
        STAND_IN_SUBSCRIPTION
        % json.dumps(
            {
                "endpoint": keys.endpoint(push_base),
                "keys": {"p256dh": keys.p256dh, "auth": keys.auth},
            }
        )
    )
    phone = context.new_page()
    try:
        # Maria turns notifications on from her profile, with message previews.
        browser_login(phone, maria, then="/me")
        card = phone.locator("#push-settings")
        expect(card.get_by_role("button", name="Turn on notifications")).to_be_visible()
        card.get_by_label("Show the message text in notifications").check()
        card.get_by_role("button", name="Turn on notifications").click()
        expect(phone.locator("#push-settings")).to_contain_text(
            "Notifications are on for this device.", timeout=WAIT
        )
        expect(phone.locator("#push-settings .push-devices")).to_contain_text("Chrome on ")
        screenshot(phone, "push-profile-390")
        assert serious_axe_violations(phone, context="#push-settings") == []
        subscription = db.session.scalars(sa.select(PushSubscription)).one()
        assert (subscription.user_id, subscription.previews) == (maria.id, True)
        assert subscription.endpoint == keys.endpoint(push_base)
        # The page subscribed with the server's VAPID key.
        served_key = card.get_attribute("data-vapid-key")
        expected = base64.b64encode(base64.urlsafe_b64decode(served_key + "==")).decode()
        assert phone.evaluate("window.__pushApplicationServerKey") == expected
        # A real service worker, registered for the whole site and controlling the page.
        assert (
            phone.evaluate(
                "navigator.serviceWorker.ready.then(r => r.active.scriptURL + ' ' + r.scope)"
            )
            == f"{live_server.url}/sw.js {live_server.url}/"
        )

        # Jane texts from the phone simulator (the owner drives it on a computer).
        office = browser.new_context(viewport={"width": 1280, "height": 800})
        sim = office.new_page()
        browser_login(sim, company.owner, then=f"/dev/phone?customer={jane.id}")
        sim.fill("#sim-body", "Gate code is 1234, dog is friendly")
        sim.locator(".sim-send").click()

        # The webhook stored it; the worker routed it and queued one push for Maria.
        def queued():
            db.session.rollback()
            return db.session.scalars(sa.select(PushDelivery)).all()

        [delivery] = _wait_for(phone, queued)
        assert delivery.user_id == maria.id
        # The worker sends it: pywebpush over HTTP to the fake push service.
        dispatcher().run_once()
        db.session.rollback()
        assert db.session.get(PushDelivery, delivery.id).status == PushStatus.SENT
        [received] = fake.delivered(keys.token)
        assert received.content_encoding == "aes128gcm"
        assert received.vapid_subject.startswith("mailto:")
        payload = keys.decrypt(received.body)
        conversation_id = db.session.get(Message, delivery.message_id).conversation_id
        thread_url = f"{live_server.url}/tech/messages/{conversation_id}"
        assert payload["title"] == "Jane Doe"
        assert payload["body"] == "Gate code is 1234, dog is friendly"
        assert payload["url"] == thread_url

        # The push reaches the service worker, which shows the notification.
        cdp = context.new_cdp_session(phone)
        registrations: list[dict] = []
        cdp.on(
            "ServiceWorker.workerRegistrationUpdated",
            lambda event: registrations.extend(event["registrations"]),
        )
        cdp.send("ServiceWorker.enable")
        _wait_for(phone, lambda: registrations)
        registration_id = next(
            r["registrationId"] for r in registrations if r["scopeURL"] == f"{live_server.url}/"
        )
        cdp.send(
            "ServiceWorker.deliverPushMessage",
            {
                "origin": live_server.url,
                "registrationId": registration_id,
                "data": json.dumps(payload),
            },
        )
        shown = _wait_for(
            phone,
            lambda: phone.evaluate(
                "navigator.serviceWorker.ready.then(r => r.getNotifications())"
                ".then(ns => ns.map(n => ({title: n.title, body: n.body, url: n.data.url})))"
            ),
        )
        assert shown == [
            {"title": "Jane Doe", "body": "Gate code is 1234, dog is friendly", "url": thread_url}
        ]

        # Maria taps it: the shipped notificationclick handler takes her tab to the thread.
        [worker] = [w for w in context.service_workers if w.url.endswith("/sw.js")]
        worker.evaluate(TAP_THE_NOTIFICATION)
        phone.wait_for_url(thread_url, timeout=WAIT)
        expect(phone.locator("#thread-messages")).to_contain_text(
            "Gate code is 1234, dog is friendly"
        )

        # She reads and replies from the thread.
        phone.fill("#reply-body", "On my way, see you in 20!")
        phone.get_by_role("button", name="Send text").click()
        expect(phone.locator("#thread-messages .msg-out").last).to_contain_text(
            "On my way, see you in 20!", timeout=WAIT
        )
        screenshot(phone, "push-thread-390", full_page=False)
        assert serious_axe_violations(phone) == []
        office.close()

        # Back on her profile she turns notifications off on this phone.
        phone.goto(f"{live_server.url}/me")
        phone.get_by_role("button", name="Turn off on this device").click()
        expect(phone.get_by_role("button", name="Turn on notifications")).to_be_visible(
            timeout=WAIT
        )
        db.session.rollback()
        assert db.session.scalars(sa.select(PushSubscription)).all() == []
    finally:
        context.close()


IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)


def test_an_iphone_outside_the_home_screen_app_is_told_how(
    browser, live_server, browser_login, make
):
    """Safari on iOS offers Web Push only to a home-screen app: in a tab there is no
    PushManager, and the card says what to do instead of offering a button that fails."""
    company = make.company("Acme Plumbing")
    maria = make.user(company, Role.TECH, name="Maria Lopez")
    db.session.commit()
    context = browser.new_context(**PHONE, user_agent=IPHONE_SAFARI)
    context.add_init_script("delete window.PushManager;")
    page = context.new_page()
    try:
        browser_login(page, maria, then="/me")
        card = page.locator("#push-settings")
        expect(card.get_by_text("Add to Home Screen")).to_be_visible()
        expect(card.locator("[data-push-state=ios]")).to_contain_text("iOS 16.4 or later")
        expect(card.locator("[data-push-state=unsupported]")).to_be_hidden()
        expect(card.get_by_role("button", name="Turn on notifications")).to_be_hidden()
        card.scroll_into_view_if_needed()
        screenshot(page, "push-iphone-390", full_page=False)
        assert serious_axe_violations(page, context="#push-settings") == []
    finally:
        context.close()


def test_the_card_before_turning_on_at_desktop_width(
    app, browser, live_server, browser_login, make
):
    company = make.company("Acme Plumbing")
    db.session.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        browser_login(page, company.owner, then="/me")
        card = page.locator("#push-settings")
        expect(card.get_by_role("button", name="Turn on notifications")).to_be_visible()
        expect(card.get_by_label("Show the message text in notifications")).not_to_be_checked()
        card.scroll_into_view_if_needed()
        screenshot(page, "push-profile-1280", full_page=False)
        assert serious_axe_violations(page, context="#push-settings") == []

        # The fake push service's page (in-process, WEB_PUSH_FAKE on): a push it took.
        make.number(company, e164="+15126660031")
        keys = BrowserKeys()
        push.subscribe(
            user=company.owner,
            endpoint=keys.endpoint(),
            p256dh=keys.p256dh,
            auth=keys.auth,
            previews=False,
            device="Chrome on Android",
        )
        apply_routing(message=store_inbound(company, "+15125550163", "Is 3 pm still ok?"))
        db.session.commit()
        fake_push_service(app).reset()
        assert push.deliver_due_pushes(now=utcnow()) == 1
        page.goto(f"{live_server.url}/dev/push")
        expect(page.get_by_role("heading", name="Fake push service")).to_be_visible()
        expect(page.locator("tbody tr")).to_have_count(1)
        expect(page.locator("tbody")).to_contain_text("201")
        screenshot(page, "push-dev-1280")
        assert serious_axe_violations(page) == []
    finally:
        context.close()

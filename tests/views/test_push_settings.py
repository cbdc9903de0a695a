"""The profile's notifications card and its routes (app/auth/push_settings.py), and the
service worker served at the root."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import PushSubscription, Role
from app.services import push
from tests.push_support import BrowserKeys


def _make_tech(make, company=None):
    company = company or make.company()
    return make.user(company, role=Role.TECH, name="Sam Lee")


def _fields(keys: BrowserKeys, **extra):
    return {"endpoint": keys.endpoint(), "p256dh": keys.p256dh, "auth": keys.auth, **extra}


def test_the_profile_offers_to_turn_notifications_on(make, log_in, client):
    tech = _make_tech(make)
    db.session.commit()
    log_in(client, tech)
    page = client.get("/me").get_data(as_text=True)
    assert "Turn on notifications" in page
    assert "Show the message text in notifications" in page
    assert "iOS 16.4" in page and "Add to Home Screen" in page
    assert f'data-vapid-key="{push.vapid_keys().public_key}"' in page
    assert "/static/push.js" in page


def test_push_js_subscribes_and_gets_the_card_back(make, log_in, client):
    tech = _make_tech(make)
    db.session.commit()
    log_in(client, tech)
    keys = BrowserKeys()

    response = client.post(
        "/me/push/subscribe",
        data=_fields(keys, previews="y", device="Chrome on Android"),
        headers={"HX-Request": "true"},
    )

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<section class="card push-settings" id="push-settings"')
    assert "Chrome on Android" in html and keys.endpoint() in html
    subscription = db.session.scalars(sa.select(PushSubscription)).one()
    assert (subscription.user_id, subscription.previews) == (tech.id, True)


def test_a_refused_subscription_says_why(make, log_in, client):
    tech = _make_tech(make)
    db.session.commit()
    log_in(client, tech)
    keys = BrowserKeys()
    response = client.post(
        "/me/push/subscribe",
        data=_fields(keys, endpoint="http://10.1.2.3/push/x"),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 422
    assert 'role="alert">A push address must be an https:// URL.' in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PushSubscription)) == 0


def test_a_refused_subscription_without_javascript_flashes_why(make, log_in, client):
    tech = _make_tech(make)
    db.session.commit()
    log_in(client, tech)
    keys = BrowserKeys()
    response = client.post("/me/push/subscribe", data=_fields(keys, endpoint=""))
    assert response.status_code == 302 and response.location.endswith("/me")
    assert "This browser gave no usable push address." in client.get("/me").get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PushSubscription)) == 0


def test_previews_and_remove_work_as_plain_posts(make, log_in, client):
    tech = _make_tech(make)
    keys = BrowserKeys()
    subscription = push.subscribe(
        user=tech, endpoint=keys.endpoint(), p256dh=keys.p256dh, auth=keys.auth, previews=False
    )
    db.session.commit()
    log_in(client, tech)

    shown = client.post(f"/me/push/{subscription.id}/previews", data={"previews": "y"})
    assert shown.status_code == 302 and shown.location.endswith("/me")
    db.session.refresh(subscription)
    assert subscription.previews is True

    removed = client.post(f"/me/push/{subscription.id}/remove")
    assert removed.status_code == 302
    db.session.expire_all()
    assert db.session.get(PushSubscription, subscription.id) is None


def test_another_users_device_is_404(make, log_in, client):
    company = make.company()
    tech = _make_tech(make, company)
    colleague = make.user(company, role=Role.TECH)
    outsider = make.user(make.company(), role=Role.OWNER)
    keys = BrowserKeys()
    theirs = push.subscribe(
        user=colleague, endpoint=keys.endpoint(), p256dh=keys.p256dh, auth=keys.auth, previews=False
    )
    db.session.commit()
    for user in (tech, outsider):
        client.post("/logout")
        log_in(client, user)
        assert client.post(f"/me/push/{theirs.id}/remove").status_code == 404
        assert (
            client.post(f"/me/push/{theirs.id}/previews", data={"previews": "y"}).status_code == 404
        )
        # Nor can they drop it by its endpoint.
        client.post("/me/push/unsubscribe", data={"endpoint": keys.endpoint()})
    db.session.expire_all()
    assert db.session.get(PushSubscription, theirs.id).previews is False


def test_the_service_worker_is_served_for_the_whole_site(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert "notificationclick" in response.get_data(as_text=True)
    assert "worker-src 'self'" in response.headers["Content-Security-Policy"]


def test_the_dev_page_lists_pushes_and_sets_switches(app, make, log_in, client):
    from app.push.fake_service import fake_push_service

    tech = _make_tech(make)
    keys = BrowserKeys()
    subscription = push.subscribe(
        user=tech, endpoint=keys.endpoint(), p256dh=keys.p256dh, auth=keys.auth, previews=False
    )
    db.session.commit()
    log_in(client, tech)
    fake = fake_push_service(app)
    fake.reset()

    page = client.get("/dev/push").get_data(as_text=True)
    assert "Sam Lee" in page and "Expire (410 from now on)" in page

    client.post(f"/dev/push/{subscription.id}/switch", data={"outcome": "expire"})
    assert keys.token in fake.switches.expired
    fake.reset()


def test_log_out_everywhere_stops_notifications_on_every_device(make, log_in, client):
    tech = _make_tech(make)
    colleague = make.user(tech.company, role=Role.TECH)
    for user in (tech, tech, colleague):
        keys = BrowserKeys()
        push.subscribe(
            user=user, endpoint=keys.endpoint(), p256dh=keys.p256dh, auth=keys.auth, previews=False
        )
    db.session.commit()
    log_in(client, tech)

    assert client.post("/me/sessions/end").status_code == 302

    db.session.expire_all()
    owners = db.session.scalars(sa.select(PushSubscription.user_id)).all()
    assert owners == [colleague.id]  # only the user's own devices

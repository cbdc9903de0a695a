"""The fake push service checks what a real one checks (RFC 8030 / 8291 / 8292)."""

from __future__ import annotations

import time

import pytest
from py_vapid import Vapid
from pywebpush import WebPusher
from werkzeug.test import Client

from app.push.fake_service import FakePushService
from app.services.push import new_key_pair
from tests.push_support import BrowserKeys

ORIGIN = "http://localhost"


def _request(keys: BrowserKeys, *, claims=None, vapid_key=None, ttl="60", body=b'{"t":1}'):
    private, _public = vapid_key or new_key_pair()
    vapid = Vapid.from_raw(private.encode())
    claims = {
        "sub": "mailto:ops@example.com",
        "aud": ORIGIN,
        "exp": int(time.time()) + 600,
        **(claims or {}),
    }
    headers = dict(vapid.sign(claims))
    if ttl is not None:
        headers["TTL"] = ttl
    pusher = WebPusher(
        {"endpoint": keys.endpoint(ORIGIN), "keys": {"p256dh": keys.p256dh, "auth": keys.auth}}
    )
    prepared = pusher._prepare_send_data(body, headers=headers, ttl=int(ttl or 0))
    return dict(prepared["headers"]), prepared["data"]


@pytest.fixture
def service():
    fake = FakePushService()
    return fake, Client(fake.wsgi)


def test_a_valid_push_is_accepted_and_recorded(service):
    fake, client = service
    keys = BrowserKeys()
    headers, data = _request(keys)
    response = client.post(f"/push/{keys.token}", headers=headers, data=data)
    assert response.status_code == 201
    assert response.headers["Location"].startswith(f"{ORIGIN}/message/")
    [push] = fake.delivered(keys.token)
    assert keys.decrypt(push.body) == {"t": 1}
    assert push.vapid_subject == "mailto:ops@example.com" and push.ttl == 60


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"claims": {"aud": "https://elsewhere.example"}}, 403, "aud"),
        ({"claims": {"exp": int(time.time()) - 5}}, 403, "expired"),
        ({"claims": {"exp": int(time.time()) + 48 * 3600}}, 403, "24 hours"),
        ({"ttl": None}, 400, "TTL"),
    ],
)
def test_what_a_push_service_refuses(service, change, status, words):
    fake, client = service
    keys = BrowserKeys()
    headers, data = _request(keys, **change)
    if change.get("ttl", "x") is None:
        headers.pop("ttl", None)
        headers.pop("TTL", None)
    response = client.post(f"/push/{keys.token}", headers=headers, data=data)
    assert response.status_code == status
    assert words in response.json["message"]
    assert fake.delivered() == []


def test_a_forged_signature_is_refused(service):
    _fake, client = service
    keys = BrowserKeys()
    headers, data = _request(keys)
    other_public = new_key_pair()[1]
    authorization = next(v for k, v in headers.items() if k.lower() == "authorization")
    token = authorization.split("t=")[1].split(",")[0]
    headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
    headers["Authorization"] = f"vapid t={token},k={other_public}"
    response = client.post(f"/push/{keys.token}", headers=headers, data=data)
    assert response.status_code == 401


def test_switches_answer_as_a_real_service(service):
    fake, client = service
    keys = BrowserKeys()
    fake.fail_next(keys.token, 429, retry_after=90)
    headers, data = _request(keys)
    busy = client.post(f"/push/{keys.token}", headers=headers, data=data)
    assert busy.status_code == 429 and busy.headers["Retry-After"] == "90"
    assert client.post(f"/push/{keys.token}", headers=headers, data=data).status_code == 201
    fake.expire(keys.token)
    assert client.post(f"/push/{keys.token}", headers=headers, data=data).status_code == 410

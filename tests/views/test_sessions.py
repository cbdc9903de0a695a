"""Server-side sessions: logging out ends the session wherever its cookies were copied,
remember-me lasts at most 30 days, "log out everywhere", and where a redirect may go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Role, UserSession, utcnow
from app.redirects import local_target
from app.services.sessions import IDLE_LIFETIME, REMEMBER_LIFETIME
from tests.fixtures.factories import PASSWORD

COOKIES = ("session", "remember_token")


def _log_in(client, user, remember: bool = True):
    data = {"email": user.email, "password": PASSWORD}
    if remember:
        data["remember"] = "y"
    response = client.post("/login", data=data)
    assert response.status_code == 302
    return response


def _copy(app, browser, names=COOKIES):
    """Another browser holding copies of `browser`'s cookies (a stolen cookie)."""
    thief = app.test_client()
    for name in names:
        cookie = browser.get_cookie(name)
        assert cookie is not None, name
        thief.set_cookie(name, cookie.value)
    return thief


def _logged_in(client) -> bool:
    return client.get("/team").status_code == 200


@pytest.fixture
def office(make):
    company = make.company()
    user = make.user(company, Role.OFFICE)
    db.session.commit()
    return user


@pytest.mark.parametrize("names", [("session",), ("remember_token",), COOKIES])
def test_logout_ends_the_session_for_copied_cookies_too(app, office, names):
    browser = app.test_client()
    _log_in(browser, office)
    thief = _copy(app, browser, names)
    assert _logged_in(thief)
    browser.post("/logout")
    assert not _logged_in(browser)
    assert not _logged_in(thief)
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id))) == 0


def test_logging_out_one_browser_leaves_the_others(app, office):
    phone, laptop = app.test_client(), app.test_client()
    _log_in(phone, office)
    _log_in(laptop, office, remember=False)
    phone.post("/logout")
    assert not _logged_in(phone)
    assert _logged_in(laptop)


def test_the_cookie_holds_a_random_token_not_the_user_id(app, office):
    browser = app.test_client()
    _log_in(browser, office)
    row = db.session.scalar(sa.select(UserSession))
    remember = browser.get_cookie("remember_token").value
    token = remember.split("|")[0]
    assert len(token) >= 40 and token != str(office.id)
    assert row.token_hash not in remember  # only the hash is stored, never sent


def test_remember_me_lasts_at_most_30_days(app, office):
    browser = app.test_client()
    response = _log_in(browser, office)
    cookie = next(
        c for c in response.headers.getlist("Set-Cookie") if c.startswith("remember_token=")
    )
    expires = parsedate_to_datetime(cookie.split("Expires=")[1].split(";")[0])
    assert expires <= datetime.now(UTC) + timedelta(days=30, minutes=1)
    row = db.session.scalar(sa.select(UserSession))
    assert row.remember and row.expires_at <= utcnow() + REMEMBER_LIFETIME
    assert timedelta(days=30) >= REMEMBER_LIFETIME
    # After 30 days the server refuses it even if the browser still sends it.
    row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert not _logged_in(_copy(app, browser, ("remember_token",)))


def test_a_session_without_remember_me_ends_when_idle(app, office):
    browser = app.test_client()
    _log_in(browser, office, remember=False)
    assert browser.get_cookie("remember_token") is None
    row = db.session.scalar(sa.select(UserSession))
    row.last_seen_at = utcnow() - IDLE_LIFETIME - timedelta(minutes=1)
    db.session.commit()
    assert not _logged_in(browser)


def test_an_active_session_is_seen_again_without_a_write_per_request(app, office):
    browser = app.test_client()
    _log_in(browser, office, remember=False)
    row = db.session.scalar(sa.select(UserSession))
    hour_ago = utcnow() - timedelta(hours=2)
    row.last_seen_at = hour_ago
    db.session.commit()
    assert _logged_in(browser)
    db.session.expire_all()
    seen = db.session.scalar(sa.select(UserSession)).last_seen_at
    assert seen > hour_ago + timedelta(hours=1)


def test_log_out_everywhere_on_the_profile_page(app, office):
    here, there = app.test_client(), app.test_client()
    _log_in(here, office)
    _log_in(there, office)
    page = here.get("/me").get_data(as_text=True)
    assert "Log out everywhere" in page and "<strong>2</strong>" in page
    response = here.post("/me/sessions/end")
    assert response.headers["Location"] == "/login"
    assert not _logged_in(here)
    assert not _logged_in(there)


def test_login_without_a_server_session_is_impossible(office):
    """Flask-Login's own login_user cannot issue an unrevocable session."""
    with pytest.raises(RuntimeError, match="log_in"):
        office.get_id()


# --- Redirect targets ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "/\t/evil.example/",
        "/\t\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "\t//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\\/evil.example",
        "https://evil.example/",
        "https:evil.example",
        "javascript:alert(1)",
        "evil.example",
        " //evil.example",
        "/%09/evil.example",
        "///evil.example",
        "/\x00/evil.example",
        "/\x7f/evil.example",
    ],
)
def test_login_next_never_leaves_the_site(client, office, target):
    response = client.post(
        "/login", query_string={"next": target}, data={"email": office.email, "password": PASSWORD}
    )
    assert response.status_code == 302, target
    assert response.headers["Location"] == "/jobs", target


def test_login_next_from_a_raw_query_string(client, office):
    """The issue's exact URLs: %09 became //evil.example, %0a was a 500."""
    data = {"email": office.email, "password": PASSWORD}
    for raw in ("/login?next=/%09/evil.example/", "/login?next=/%0a/evil.example/"):
        response = client.post(raw, data=data)
        assert response.status_code == 302, raw
        assert response.headers["Location"] == "/jobs", raw
        client.post("/logout")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/team", "/team"),
        ("/jobs?tab=today&q=a%20b", "/jobs?tab=today&q=a%20b"),
        ("/tech/jobs/7", "/tech/jobs/7"),
        ("//evil.example", None),
        ("/\t/evil.example", None),
        ("", None),
        (None, None),
    ],
)
def test_local_target(target, expected):
    assert local_target(target) == expected


@pytest.mark.parametrize(
    "referer",
    [
        "http://localhost//evil.example/x",
        "//evil.example/x",
        "https://evil.example/tech",
        "http://localhost/\t/evil.example",
        "http://localhost/\\evil.example",
        "javascript:alert(1)",
    ],
)
def test_back_here_never_leaves_the_site(client, make, log_in, referer):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    response = client.post("/inbox/forwarding", data={"enabled": "1"}, headers={"Referer": referer})
    assert response.status_code == 302
    assert response.headers["Location"] == "/inbox", referer


def test_back_here_returns_to_the_page_on_this_site(client, make, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    response = client.post(
        "/inbox/forwarding",
        data={"enabled": "1"},
        headers={"Referer": "http://localhost/me?x=1"},
    )
    assert response.headers["Location"] == "/me?x=1"


def test_the_profile_counts_only_sessions_that_still_work(app, office):
    here, idle = app.test_client(), app.test_client()
    _log_in(here, office)
    _log_in(idle, office, remember=False)
    stale = db.session.scalar(sa.select(UserSession).where(UserSession.remember.is_(False)))
    stale.last_seen_at = utcnow() - IDLE_LIFETIME - timedelta(minutes=1)
    db.session.commit()
    assert "<strong>1</strong> browser or device" in here.get("/me").get_data(as_text=True)

"""Passwords: change on /me, "Forgot password?" with a single-use 30-minute emailed link,
an owner sending a teammate a link, /dev/mail, login timing and the limit message."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from app.models import PasswordReset, Role, UserSession, utcnow
from app.services import passwords
from tests.fixtures.factories import PASSWORD

NEW_PASSWORD = "a-brand-new-password"
HTMX = {"HX-Request": "true"}


@pytest.fixture
def office(make):
    company = make.company()
    user = make.user(company, Role.OFFICE, name="Olive Office")
    db.session.commit()
    return user


def _log_in(client, user, password=PASSWORD):
    return client.post("/login", data={"email": user.email, "password": password})


def _logged_in(client) -> bool:
    return client.get("/team").status_code == 200


def _html(response) -> str:
    return unescape(response.get_data(as_text=True))


# --- Change on /me ---------------------------------------------------------------------------


def test_change_password_needs_the_current_one(client, office):
    _log_in(client, office)
    response = client.post(
        "/me/password",
        data={"current_password": "wrong", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 422
    assert "That isn't your current password." in _html(response)
    db.session.refresh(office)
    assert office.check_password(PASSWORD)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"password": "short", "confirm": "short"}, "At least 8 characters."),
        ({"password": NEW_PASSWORD, "confirm": "other-password"}, "don't match"),
        ({"password": PASSWORD, "confirm": PASSWORD}, "different from the current one"),
    ],
)
def test_change_password_refusals_name_the_field(client, office, data, message):
    _log_in(client, office)
    response = client.post("/me/password", data={"current_password": PASSWORD, **data})
    assert response.status_code == 422
    assert message in _html(response)


def test_changing_the_password_ends_the_other_sessions_only(app, office):
    here, phone = app.test_client(), app.test_client()
    _log_in(here, office)
    phone.post("/login", data={"email": office.email, "password": PASSWORD, "remember": "y"})
    response = here.post(
        "/me/password",
        data={"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response.headers["Location"] == "/me"
    assert "1 other session logged out" in _html(here.get("/me"))
    assert _logged_in(here)
    assert not _logged_in(phone)
    db.session.refresh(office)
    assert office.check_password(NEW_PASSWORD) and not office.check_password(PASSWORD)


def test_the_profile_page_has_the_password_form(client, office):
    _log_in(client, office)
    html = _html(client.get("/me"))
    assert 'name="current_password"' in html and 'autocomplete="current-password"' in html


# --- Forgot password -------------------------------------------------------------------------


def _forgot(client, email):
    return client.post("/password/forgot", data={"email": email}, follow_redirects=True)


def _reset_path(dev_mailbox, address) -> str:
    links = dev_mailbox.links(address)
    assert links, dev_mailbox.messages()
    return urlsplit(links[0]).path


def test_the_login_page_links_to_forgot_password_and_the_dev_mailbox(client):
    html = _html(client.get("/login"))
    assert 'href="/password/forgot"' in html
    assert 'href="/dev/mail"' in html  # no SMTP here
    assert 'href="/dev/mail"' in _html(client.get("/password/forgot"))


def test_forgot_password_answers_the_same_for_any_address(client, office, dev_mailbox):
    known = _forgot(client, office.email)
    unknown = _forgot(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200

    def words(response, email):
        found = re.search(r'<div class="flash[^>]*>(.*?)</div>', _html(response), re.S)
        return found[1].replace(email, "EMAIL").strip()

    assert words(known, office.email) == words(unknown, "nobody@example.com")
    assert "If EMAIL belongs to a ProSMS account" in words(known, office.email)
    assert len(dev_mailbox.to(office.email)) == 1
    assert dev_mailbox.to("nobody@example.com") == []


def test_the_reset_link_works_once_and_ends_every_session(app, office, dev_mailbox):
    logged_in = app.test_client()
    _log_in(logged_in, office)
    client = app.test_client()
    _forgot(client, office.email)
    (email,) = dev_mailbox.to(office.email)
    assert email.subject == "Choose a new ProSMS password"
    assert "30 minutes" in email.body
    path = _reset_path(dev_mailbox, office.email)
    page = client.get(path)
    assert page.status_code == 200 and office.email in _html(page)
    assert page.headers["Referrer-Policy"] == "no-referrer"

    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert not _logged_in(logged_in)
    assert db.session.scalar(sa.select(sa.func.count(UserSession.id))) == 0
    assert _log_in(client, office, NEW_PASSWORD).status_code == 302
    # Single use.
    again = app.test_client().post(path, data={"password": "x" * 12, "confirm": "x" * 12})
    assert again.status_code == 410
    assert app.test_client().get(path).status_code == 410


def test_a_reset_link_expires_after_30_minutes(client, office, dev_mailbox):
    _forgot(client, office.email)
    path = _reset_path(dev_mailbox, office.email)
    reset = db.session.scalar(sa.select(PasswordReset))
    assert reset.expires_at - reset.created_at == timedelta(minutes=30)
    reset.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    response = client.get(path)
    assert response.status_code == 410 and "expired" in _html(response)
    response = client.post(path, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 410
    db.session.refresh(office)
    assert office.check_password(PASSWORD)


def test_a_newer_link_replaces_the_older_one(client, office, dev_mailbox):
    _forgot(client, office.email)
    _forgot(client, office.email)
    newest, older = dev_mailbox.links(office.email)
    assert client.get(urlsplit(older).path).status_code == 410
    assert client.get(urlsplit(newest).path).status_code == 200


def test_unknown_or_mangled_reset_tokens_are_gone(client):
    for token in ("nope", "A" * 43):
        assert client.get(f"/password/reset/{token}").status_code == 410


def test_a_reset_refuses_a_short_password_and_keeps_the_link(client, office, dev_mailbox):
    _forgot(client, office.email)
    path = _reset_path(dev_mailbox, office.email)
    response = client.post(path, data={"password": "short", "confirm": "short"})
    assert response.status_code == 400
    assert "At least 8 characters." in _html(response)
    assert client.get(path).status_code == 200


def test_one_address_gets_at_most_three_reset_emails_an_hour(client, office, dev_mailbox):
    for _ in range(passwords.RESETS_PER_ADDRESS_PER_HOUR + 2):
        assert _forgot(client, office.email).status_code == 200
    assert len(dev_mailbox.to(office.email)) == passwords.RESETS_PER_ADDRESS_PER_HOUR


def test_forgot_password_is_rate_limited_per_client(app, client, office, rate_limits):
    app.config["PASSWORD_RESET_RATE_LIMIT"] = "2 per 15 minutes"
    try:
        for _ in range(2):
            assert (
                client.post("/password/forgot", data={"email": "a@example.com"}).status_code == 302
            )
        response = client.post("/password/forgot", data={"email": "a@example.com"})
        assert response.status_code == 429
        assert "Please wait 15 minutes and try again." in _html(response)
    finally:
        app.config["PASSWORD_RESET_RATE_LIMIT"] = "5 per 15 minutes;20 per day"


def test_a_deactivated_account_gets_no_reset_link(client, make, dev_mailbox):
    company = make.company()
    tech = make.user(company, Role.TECH)
    tech.active = False
    db.session.commit()
    _forgot(client, tech.email)
    assert dev_mailbox.to(tech.email) == []


# --- An owner sends a teammate a link ----------------------------------------------------------


def test_an_owner_sends_a_teammate_a_reset_link(client, make, log_in, dev_mailbox):
    company = make.company()
    tech = make.user(company, Role.TECH, name="Tina Tech")
    db.session.commit()
    log_in(client, company.owner)
    assert "Send password reset" in _html(client.get("/team"))
    response = client.post(f"/team/{tech.id}/password-reset", headers=HTMX)
    assert response.status_code == 200
    assert "We emailed Tina Tech a link" in _html(response)
    (email,) = dev_mailbox.to(tech.email)
    assert company.owner.name in email.body
    reset = db.session.scalar(sa.select(PasswordReset))
    assert reset.requested_by_id == company.owner.id
    # Plain POST too.
    response = client.post(f"/team/{tech.id}/password-reset")
    assert response.status_code == 302 and response.headers["Location"] == "/team"
    assert len(dev_mailbox.to(tech.email)) == 2
    # The tech uses the newest link.
    path = _reset_path(dev_mailbox, tech.email)
    assert client.get(path).status_code == 200


def test_only_managers_send_reset_links_and_only_to_their_team(client, make, log_in, dev_mailbox):
    company = make.company()
    office = make.user(company, Role.OFFICE)
    tech = make.user(company, Role.TECH)
    stranger = make.user(make.company("Elsewhere"), Role.TECH)
    db.session.commit()
    log_in(client, office)
    assert client.post(f"/team/{tech.id}/password-reset").status_code == 403
    client.post("/logout")
    log_in(client, company.owner)
    assert client.post(f"/team/{stranger.id}/password-reset").status_code == 404
    response = client.post(f"/team/{company.owner.id}/password-reset", headers=HTMX)
    assert response.status_code == 403
    assert dev_mailbox.messages() == []


# --- /dev/mail -------------------------------------------------------------------------------


def test_dev_mail_lists_what_was_sent_with_working_links(client, office, dev_mailbox):
    _forgot(client, office.email)
    page = client.get("/dev/mail")  # no login: the person forgot their password
    assert page.status_code == 200
    html = _html(page)
    assert office.email in html and "Choose a new ProSMS password" in html
    link = re.search(r'<a href="(http[^"]+/password/reset/[^"]+)"', html)[1]
    assert client.get(urlsplit(link).path).status_code == 200


def _app(app, **overrides):
    return create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            **overrides,
        }
    )


def test_dev_mail_exists_only_without_smtp_and_outside_production(app):
    with_smtp = _app(app, TWILIO_FAKE=True, SMTP_HOST="smtp.example.com")
    assert with_smtp.test_client().get("/dev/mail").status_code == 404
    assert "/dev/mail" not in with_smtp.test_client().get("/login").get_data(as_text=True)
    assert "dev" in with_smtp.blueprints  # the phone simulator still is there
    demo = _app(
        app,
        ENV_NAME="production",
        SECRET_KEY="f3" + "0123456789abcdef" * 4,
        TWILIO_FAKE=True,
        ALLOW_FAKE_TWILIO_IN_PRODUCTION=True,
    )
    assert demo.test_client().get("/dev/mail").status_code == 404
    # Real Twilio, no SMTP, development: the mailbox without the phone simulator.
    mail_only = _app(app, TWILIO_FAKE=False)
    client = mail_only.test_client()
    assert client.get("/dev/mail").status_code == 200
    assert client.get("/dev/phone").status_code == 404


# --- Login timing and the limit message -------------------------------------------------------


def test_login_checks_a_password_hash_whether_or_not_the_account_exists(
    client, office, monkeypatch
):
    """Unknown addresses used to answer 15x faster than known ones. Both paths now check
    exactly one hash made the same way (deterministic: counted, not timed)."""
    from app.models import user as user_module

    checked: list[str] = []
    real = user_module.check_password_hash

    def counting(pwhash, password):
        checked.append(pwhash.split("$")[0])
        return real(pwhash, password)

    monkeypatch.setattr(user_module, "check_password_hash", counting)
    _log_in(client, office, "wrong-password")
    _log_in(client, type(office)(email="nobody@example.com"), "wrong-password")
    assert len(checked) == 2
    assert checked[0] == checked[1]  # the same method and cost


def test_the_login_limit_says_how_long_to_wait(app, client, office, rate_limits):
    app.config["LOGIN_RATE_LIMIT"] = "2 per hour"
    try:
        for _ in range(2):
            _log_in(client, office, "wrong-password")
        response = _log_in(client, office, "wrong-password")
    finally:
        app.config["LOGIN_RATE_LIMIT"] = "10 per minute;50 per hour"
    assert response.status_code == 429
    retry_after = int(response.headers["Retry-After"])
    assert 3500 < retry_after <= 3601
    html = _html(response)
    assert "wait a minute" not in html
    assert "Please wait 1 hour and try again." in html or "Please wait 60 minutes" in html


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (5, "a minute"),
        (60, "a minute"),
        (61, "a minute"),
        (100, "2 minutes"),
        (2500, "42 minutes"),
        (3600, "1 hour"),
        (3700, "1 hour 2 minutes"),
        (7200, "2 hours"),
        (86400, "about a day"),
    ],
)
def test_wait_in_words(seconds, words):
    from app.errors import wait_in_words

    assert wait_in_words(seconds) == words

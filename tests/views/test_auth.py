"""Sign-up, login/logout, sessions, cookies, CSRF and the error pages."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa
from flask import abort

from app import create_app
from app.extensions import db
from app.models import Company, Role, User
from app.services.accounts import deactivate_user
from tests.fixtures.factories import PASSWORD
from tests.support import HX

SIGNUP = {
    "company_name": "Acme Plumbing",
    "name": "Ada Lovelace",
    "email": "ada@example.com",
    "password": PASSWORD,
    "business_phone": "(512) 555-0188",
    "time_zone": "America/New_York",
}


def _csrf_token(html: str) -> str:
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert found, "no CSRF token in the page"
    return found.group(1)


# --- Sign-up ---------------------------------------------------------------------------------


def test_signup_page_lists_us_time_zones_first(client):
    html = client.get("/signup").get_data(as_text=True)
    assert "Create your account" in html
    options = re.findall(r'<option[^>]*value="([^"]+)"', html)
    assert options[:5] == [
        "America/New_York",
        "America/Chicago",
        "America/Denver",
        "America/Phoenix",
        "America/Los_Angeles",
    ]
    assert "Europe/London" in options
    assert 'selected value="America/Chicago"' in html or (
        'value="America/Chicago" selected' in html
    )


def test_signup_creates_company_and_owner_and_logs_in(client):
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings"
    owner = db.session.scalar(sa.select(User).filter_by(email="ada@example.com"))
    assert owner.role == Role.OWNER and owner.name == "Ada Lovelace"
    company = owner.company
    assert (company.name, company.business_phone, company.time_zone) == (
        "Acme Plumbing",
        "+15125550188",
        "America/New_York",
    )
    page = client.get("/settings")
    assert page.status_code == 200
    assert "Welcome to ProSMS, Ada!" in page.get_data(as_text=True)


def test_signup_without_business_phone(client):
    response = client.post("/signup", data={**SIGNUP, "business_phone": ""})
    assert response.status_code == 302
    assert db.session.scalar(sa.select(Company.business_phone)) is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("business_phone", "555-01", "is not a valid phone number"),
        ("email", "not-an-email", "Enter a valid email address."),
        ("password", "short", "At least 8 characters."),
        ("company_name", "", "Enter your company&#39;s name."),
        ("time_zone", "Mars/Base", "Not a valid choice"),
    ],
)
def test_signup_errors_name_the_field(client, field, value, message):
    response = client.post("/signup", data={**SIGNUP, field: value})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert error, html
    assert message in error.group(1)
    assert db.session.scalar(sa.select(sa.func.count(Company.id))) == 0
    # What was typed is kept (except the password).
    if field != "password":
        assert 'value="Ada Lovelace"' in html


def test_signup_with_an_email_in_use(client, make):
    taken = make.company().owner.email
    db.session.commit()
    response = client.post("/signup", data={**SIGNUP, "email": taken.upper()})
    assert response.status_code == 400
    html = unescape(response.get_data(as_text=True))
    # Refused, without confirming the address belongs to someone else's account.
    assert "This email address can't be used for a new account." in html
    assert "already has an account" not in html and "already exists" not in html
    assert db.session.scalar(sa.select(sa.func.count(Company.id))) == 1


# --- Login -----------------------------------------------------------------------------------


def test_login_and_logout(client, make):
    company = make.company()
    office = make.user(company, Role.OFFICE)
    db.session.commit()
    response = client.post("/login", data={"email": office.email.upper(), "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/jobs"
    assert client.get("/team").status_code == 200
    response = client.post("/logout")
    assert response.headers["Location"] == "/login"
    assert client.get("/team").status_code == 302


def test_login_goes_to_next_only_on_this_site(client, make):
    company = make.company()
    db.session.commit()
    data = {"email": company.owner.email, "password": PASSWORD}
    assert client.post("/login?next=/team", data=data).headers["Location"] == "/team"
    client.post("/logout")
    for evil in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = client.post("/login", query_string={"next": evil}, data=data)
        assert response.headers["Location"] == "/jobs", evil
        client.post("/logout")


@pytest.mark.parametrize("email", ["owner1@example.com", "nobody@example.com"])
def test_login_failure_says_the_pair_does_not_match(client, make, email):
    make.company()
    db.session.commit()
    response = client.post("/login", data={"email": email, "password": "wrong-password"})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    # The same words whether or not the email exists: no account enumeration.
    assert "That email and password don&#39;t match." in html
    assert client.get("/team").status_code == 302


def test_login_form_requires_both_fields(client):
    html = client.post("/login", data={"email": "", "password": ""}).get_data(as_text=True)
    assert 'id="email-error"' in html and 'id="password-error"' in html


def test_a_deactivated_user_cannot_log_in(client, make):
    company = make.company()
    tech = make.user(company, Role.TECH)
    deactivate_user(actor=company.owner, user=tech)
    db.session.commit()
    response = client.post("/login", data={"email": tech.email, "password": PASSWORD})
    assert response.status_code == 200
    assert "This account has been deactivated" in response.get_data(as_text=True)
    assert client.get("/team").status_code == 302


def test_deactivation_ends_an_open_session_on_its_next_request(app, make, log_in):
    company = make.company()
    office = make.user(company, Role.OFFICE)
    db.session.commit()
    their_browser = app.test_client()
    log_in(their_browser, office)
    # "Keep me logged in" too: the remember cookie carries the same session version.
    remembered = app.test_client()
    remembered.post("/login", data={"email": office.email, "password": PASSWORD, "remember": "y"})
    assert their_browser.get("/team").status_code == 200

    owner_browser = app.test_client()
    log_in(owner_browser, company.owner)
    response = owner_browser.post(f"/team/{office.id}/deactivate")
    assert response.status_code == 302

    for browser in (their_browser, remembered):
        response = browser.get("/team")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
    # Still out after a reactivation: the old sessions stay ended.
    owner_browser.post(f"/team/{office.id}/reactivate")
    assert their_browser.get("/team").status_code == 302
    assert remembered.get("/team").status_code == 302


def test_login_is_rate_limited(client, make, rate_limits):
    make.company()
    db.session.commit()
    for attempt in range(10):
        response = client.post("/login", data={"email": "x@example.com", "password": "nope"})
        assert response.status_code == 200, attempt
    response = client.post("/login", data={"email": "x@example.com", "password": "nope"})
    assert response.status_code == 429
    assert "Too many attempts" in response.get_data(as_text=True)
    # Looking at the form is not limited.
    assert client.get("/login").status_code == 200


def test_logged_in_user_visiting_login_or_signup_goes_home(client, make, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    assert client.get("/login").headers["Location"] == "/jobs"
    assert client.get("/signup").headers["Location"] == "/jobs"
    assert client.get("/").headers["Location"] == "/jobs"


def test_home_sends_anonymous_people_to_login(client):
    assert client.get("/").headers["Location"] == "/login"


# --- Cookies ---------------------------------------------------------------------------------


def _login_cookies(app, user) -> list[str]:
    client = app.test_client()
    response = client.post(
        "/login", data={"email": user.email, "password": PASSWORD, "remember": "y"}
    )
    assert response.status_code == 302
    return response.headers.getlist("Set-Cookie")


def test_session_cookie_is_httponly_lax_and_not_secure_over_http(app, make):
    company = make.company()
    db.session.commit()
    cookies = _login_cookies(app, company.owner)
    session = next(c for c in cookies if c.startswith("session="))
    assert "HttpOnly" in session and "SameSite=Lax" in session
    assert "Secure" not in session


def test_session_cookies_are_secure_when_served_over_https(app, make, monkeypatch):
    company = make.company()
    db.session.commit()
    # Configuration comes from the environment, as in production.
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://sms.example.com")
    https_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
        }
    )
    assert https_app.config["PUBLIC_BASE_URL"] == "https://sms.example.com"
    try:
        with https_app.app_context():
            cookies = _login_cookies(https_app, company.owner)
    finally:
        with https_app.app_context():
            db.session.remove()
            db.engine.dispose()
    session = next(c for c in cookies if c.startswith("session="))
    remember = next(c for c in cookies if c.startswith("remember_token="))
    for cookie in (session, remember):
        assert "Secure" in cookie
        assert "HttpOnly" in cookie
        assert "SameSite=Lax" in cookie


# --- CSRF ------------------------------------------------------------------------------------


def test_login_form_needs_its_csrf_token(client, make, csrf_enabled):
    company = make.company()
    db.session.commit()
    data = {"email": company.owner.email, "password": PASSWORD}
    refused = client.post("/login", data=data)
    assert refused.status_code == 400
    assert "Reload the page and try again" in refused.get_data(as_text=True)
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={**data, "csrf_token": token}).status_code == 302


def test_htmx_post_needs_the_csrf_header(client, make, csrf_enabled):
    company = make.company()
    tech = make.user(company, Role.TECH)
    db.session.commit()
    page = client.get("/login").get_data(as_text=True)
    client.post(
        "/login",
        data={
            "email": company.owner.email,
            "password": PASSWORD,
            "csrf_token": _csrf_token(page),
        },
    )
    team_page = client.get("/team").get_data(as_text=True)
    header_token = re.search(r'hx-headers=\'\{"X-CSRFToken": "([^"]+)"\}\'', team_page).group(1)
    htmx = {"HX-Request": "true", "HX-Target": f"user-{tech.id}"}

    refused = client.post(f"/team/{tech.id}/role", data={"role": "office"}, headers=htmx)
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, tech.id).role == Role.TECH

    accepted = client.post(
        f"/team/{tech.id}/role",
        data={"role": "office"},
        headers={**htmx, "X-CSRFToken": header_token},
    )
    assert accepted.status_code == 200
    db.session.expire_all()
    assert db.session.get(User, tech.id).role == Role.OFFICE


def test_logout_needs_csrf(client, make, log_in, csrf_enabled):
    company = make.company()
    db.session.commit()
    with client.session_transaction() as session:
        session.clear()
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    client.post(
        "/login",
        data={"email": company.owner.email, "password": PASSWORD, "csrf_token": token},
    )
    # A cross-site form cannot log people out.
    assert client.post("/logout").status_code == 400
    assert client.get("/team").status_code == 200


# --- Error pages -----------------------------------------------------------------------------


def test_404_page_is_friendly(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<!doctype html>" in html
    assert "We couldn&#39;t find that" in html
    assert 'href="/"' in html


def test_404_for_htmx_is_a_fragment(client):
    response = client.get("/no-such-page", headers=HX)
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "<html" not in html
    assert 'class="error-page"' in html


def test_403_page_is_friendly(client, make, log_in):
    company = make.company()
    tech = make.user(company, Role.TECH)
    db.session.commit()
    log_in(client, tech)
    response = client.get("/team")
    assert response.status_code == 403
    html = response.get_data(as_text=True)
    assert "You don&#39;t have access to this page" in html
    assert "<!doctype html>" in html


def test_500_page_is_friendly_and_hides_the_error(app):
    broken = create_app(
        {
            "TESTING": False,  # as in production: the error handler answers
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
        }
    )

    def explode():
        raise RuntimeError("secret internals")

    def gone():
        abort(410)

    broken.add_url_rule("/explode", view_func=explode)
    broken.add_url_rule("/gone", view_func=gone)
    try:
        with broken.app_context():
            response = broken.test_client().get("/explode")
            assert response.status_code == 500
            html = response.get_data(as_text=True)
            assert "Something went wrong on our side" in html
            assert "secret internals" not in html and "Traceback" not in html
            assert broken.test_client().get("/gone").status_code == 410
    finally:
        with broken.app_context():
            db.session.remove()
            db.engine.dispose()


def test_form_fields_carry_no_empty_aria_references(client):
    page = client.get("/signup").get_data(as_text=True)
    assert 'aria-invalid="false"' in page
    assert '="None"' not in page  # a field without an error points at no error text

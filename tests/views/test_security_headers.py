"""Security headers: a Content-Security-Policy without inline scripts, no framing,
nosniff, no Referer from token pages, HSTS behind https. The browser check that pages
raise no CSP violation is tests/browser/test_content_security_policy.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app import create_app
from app.extensions import db
from app.models import Role
from app.security_headers import CONTENT_SECURITY_POLICY

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


def _directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


def test_the_policy_allows_no_inline_script_eval_or_framing():
    policy = _directives(CONTENT_SECURITY_POLICY)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["object-src"] == ["'none'"]
    assert not any("unsafe" in value for values in policy.values() for value in values)


@pytest.mark.parametrize("path", ["/login", "/signup", "/password/forgot", "/static/app.css"])
def test_every_response_carries_the_headers(client, path):
    response = client.get(path)
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers  # http public URL


def test_logged_in_pages_and_errors_carry_them_too(client, make, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    for path in ("/jobs", "/team", "/me", "/jobs/999999"):
        assert "frame-ancestors 'none'" in client.get(path).headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "path",
    ["/e/unknown-token", "/i/unknown-token", "/invite/unknown-token", "/password/reset/nope"],
)
def test_token_pages_send_no_referrer(client, path):
    response = client.get(path)
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_an_invitation_page_sends_no_referrer(client, make, log_in):
    from app.services.accounts import invite_user

    company = make.company()
    _, token = invite_user(
        company=company, inviter=company.owner, email="new@example.com", role=Role.TECH
    )
    db.session.commit()
    response = client.get(f"/invite/{token}")
    assert response.status_code == 200
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_hsts_when_the_public_url_is_https(app):
    https_app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "UPLOAD_FOLDER": app.config["UPLOAD_FOLDER"],
            "PUBLIC_BASE_URL": "https://sms.example.com",
        }
    )
    response = https_app.test_client().get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(response.headers["Strict-Transport-Security"].split("=")[1]) >= 31536000


def test_webhooks_stay_lean(client):
    response = client.post("/webhooks/twilio/sms", data={})  # unsigned: 403
    assert response.status_code == 403
    assert "Content-Security-Policy" not in response.headers


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_HANDLER = re.compile(
    r"\son(?:click|submit|change|input|load|error|key\w+|focus\w*|blur|mouse\w+|touch\w+|reset)\s*=",
    re.I,
)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)
# An htmx trigger filter ("every 5s [document.hidden]") is evaluated with eval; a CSS
# selector ("from:find input[type=search]") is not.
EVAL_FILTER = re.compile(r"hx-trigger=\"[^\"]*\[[^\]]*(?:==|&&|\|\||\(|\.)")


@pytest.mark.parametrize(
    "template",
    sorted(
        str(p.relative_to(TEMPLATES))
        for p in TEMPLATES.rglob("*.html")
        if p.name != "document_pdf.html"  # WeasyPrint's, never served to a browser
    ),
)
def test_templates_hold_no_inline_script_handler_style_or_eval(template):
    text = (TEMPLATES / template).read_text()
    assert not INLINE_SCRIPT.search(text), "inline <script>: move it to app/static/"
    assert not INLINE_HANDLER.search(text), "on*= handler: move it to app/static/"
    assert not STYLE_ATTRIBUTE.search(text), "style= attribute: use a class"
    assert not EVAL_FILTER.search(text), "hx-trigger [filter] needs eval"
    assert "hx-on" not in text and "js:" not in text

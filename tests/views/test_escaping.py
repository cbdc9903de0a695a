"""User-typed text is shown as text on every page, never as markup.

Every name and free-text field of a company (its name, its people, a customer, a job's
description and notes, a text message, an invitation, estimates and invoices) holds
HTML. Every GET route of the app is opened (as the owner and as a tech): no page may
contain that HTML unescaped. The pages that show these fields must show them escaped.
"""

from __future__ import annotations

import pytest
from flask import url_for
from werkzeug.routing import IntegerConverter

from app.extensions import db
from app.models import Role
from tests.fixtures.tenants import (
    ARG_ROWS,
    Tenant,
    unknown_argument,
    url_map_rules,
)
from tests.support import HX

SCRIPT = "<script>alert(1)</script>"
IMG = "<img src=x onerror=alert(2)>"
TEXT = SCRIPT + IMG
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"

# Pages that show the company's user-typed text in their body (beyond the header).
MUST_SHOW = {
    "office.jobs",
    "office.job_detail",
    "office.customers",
    "office.customer_search",  # the picker's matches: with no text, the newest customers
    "office.customer_detail",
    "office.customer_edit",
    "office.team",
    "office.settings",
    "office.company_profile",
    "office.inbox",
    "office.conversation",
    "office.estimates",
    "office.estimate_detail",
    "office.invoices",
    "office.invoice_detail",
    "auth.accept_invite",
    "public.estimate_page",
    "public.invoice_page",
}

# The tech's pages show their own jobs (the tenant's job is assigned to its tech).
TECH_MUST_SHOW = {"tech.index", "tech.job"}

# Values for URL arguments that are not row ids.
STRING_ARGS = {
    "kind": lambda tenant, endpoint: "on_my_way",
    "filename": lambda tenant, endpoint: tenant.company.logo_filename or "none.png",
    "token": lambda tenant, endpoint: _token(tenant, endpoint),
    "session_id": lambda tenant, endpoint: _fake_stripe_ids(tenant)[0],
    "link_id": lambda tenant, endpoint: _fake_stripe_ids(tenant)[1],
    # A picture on a simulated phone, by its Media SID at the fake Twilio (none here: 404).
    "sid": lambda tenant, endpoint: "ME" + "0" * 32,
}


def _fake_stripe_ids(tenant: Tenant) -> tuple[str, str]:
    """A Checkout Session and an Account Link in the fake Stripe, for the company and its
    invoice (their pages show the company's name and the invoice's label)."""
    from app.services import online_payments
    from tests.fixtures.payments import connect_company

    if "stripe" not in tenant.tokens:
        from app.payments.fake_stripe import fake_stripe

        fake = fake_stripe()
        connect_company(tenant.company, fake)
        invoice = tenant.rows["invoice"]
        session = online_payments.start_checkout(
            invoice=invoice,
            version=invoice.version,
            amount_cents=online_payments.payable_cents(invoice),
            success_url="http://testserver.local/s",
            cancel_url="http://testserver.local/c",
        )
        db.session.commit()
        link = fake.create_account_link(
            {
                "account": session.account_id,
                "refresh_url": "http://testserver.local/r",
                "return_url": "http://testserver.local/ok",
            }
        )
        tenant.tokens["stripe"] = (session.stripe_session_id, link["url"].rsplit("/", 1)[1])
    return tenant.tokens["stripe"]


def _token(tenant: Tenant, endpoint: str) -> str | None:
    if endpoint == "auth.accept_invite":
        return tenant.tokens["invitation"]
    if endpoint == "auth.reset_password_page":
        return tenant.tokens["password_reset"]
    if endpoint.startswith("public.estimate") and "estimate" in tenant.rows:
        return tenant.rows["estimate"].public_token
    if endpoint.startswith("public.invoice") and "invoice" in tenant.rows:
        return tenant.rows["invoice"].public_token
    if endpoint == "public.photo":
        return tenant.users[Role.TECH].photo_token
    if endpoint == "public.sms_terms":
        return tenant.company.registration.public_token
    if endpoint == "auth.thread_link":
        from app.services.thread_links import thread_link_token

        return thread_link_token(
            user=tenant.users[Role.TECH], conversation=tenant.rows["conversation"]
        )
    if endpoint == "public.signed_media":
        from app.services.message_media import media_token

        return media_token(tenant.rows["media"])
    return None


def _get_rules():
    return [rule for rule in url_map_rules() if "GET" in rule.methods and rule.endpoint != "static"]


CASES = [
    pytest.param(rule.endpoint, role, id=f"{rule.rule} as {role}")
    for rule in _get_rules()
    for role in (Role.OWNER, Role.TECH)
]


@pytest.fixture
def tenant(tenants_once):
    (tenant,) = tenants_once(1, text=TEXT, send_documents=True)
    return tenant


def _url(app, endpoint: str, tenant: Tenant) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter) and name in ARG_ROWS:
            values[name] = ARG_ROWS[name](tenant, rule.rule)
        elif name in STRING_ARGS and STRING_ARGS[name](tenant, endpoint) is not None:
            values[name] = STRING_ARGS[name](tenant, endpoint)
        else:
            pytest.fail(unknown_argument(rule.rule, endpoint, name))
    with app.test_request_context():
        return url_for(endpoint, **values)


def _assert_no_markup(html: str, where: str) -> None:
    for raw in (SCRIPT, IMG, "<script>alert", "<img src=x"):
        assert raw not in html, f"{where} shows user text as markup: {raw!r}"


@pytest.mark.parametrize(("endpoint", "role"), CASES)
def test_every_page_shows_user_text_as_text(app, client, tenant, log_in, endpoint, role):
    log_in(client, tenant.users[role])
    url = _url(app, endpoint, tenant)
    response = client.get(url)
    html = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
    _assert_no_markup(html, f"GET {url} as {role}")
    must_show = endpoint in (MUST_SHOW if role == Role.OWNER else TECH_MUST_SHOW)
    if must_show:
        assert response.status_code == 200, f"GET {url} as {role}: {response.status_code}"
    if must_show or (endpoint in MUST_SHOW and response.status_code == 200):
        assert ESCAPED_SCRIPT in html, f"GET {url} as {role} does not show the escaped text"


def test_form_errors_echo_typed_html_as_text(client):
    response = client.post(
        "/signup",
        data={
            "company_name": TEXT,
            "name": TEXT,
            "email": "not-an-email",
            "password": "correct-horse-battery",
            "time_zone": "America/Chicago",
        },
    )
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    _assert_no_markup(html, "the sign-up form")
    assert ESCAPED_SCRIPT in html


def test_htmx_fragments_escape_names(client, tenant, log_in):
    log_in(client, tenant.users[Role.OWNER])
    tech = tenant.users[Role.TECH]
    response = client.post(f"/team/{tech.id}/role", data={"role": "office"}, headers=HX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    _assert_no_markup(html, "the team row")
    assert ESCAPED_SCRIPT in html
    response = client.post(
        "/team/invitations",
        data={"email": "bad", "name": TEXT, "role": "tech"},
        headers=HX,
    )
    html = response.get_data(as_text=True)
    _assert_no_markup(html, "the invitation form")
    assert ESCAPED_SCRIPT in html

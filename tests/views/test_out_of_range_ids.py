"""Ids beyond the id columns' range (PostgreSQL `integer`) are 404s or form errors, never 500s.

Every rule with an `<int:...>` argument is walked from the app's url_map (a route added later
is walked too), with each id 3000000000 (past PostgreSQL's integer) and 2**70 (past SQLite's
64 bits), by GET and POST as the rule allows, logged in as an owner. Then the ids that come
in query strings and forms.
"""

from __future__ import annotations

import pytest
from flask import url_for
from werkzeug.routing import IntegerConverter

from app.extensions import db
from app.models import Role
from app.tenancy import MAX_ID, IdConverter, get_in_company, is_valid_id
from tests.fixtures.tenants import url_map_rules

HUGE = (3_000_000_000, 2**70)
METHODS = ("GET", "POST")


def _cases():
    cases = []
    for rule in url_map_rules():
        names = sorted(
            name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)
        )
        if not names:
            continue
        for method in METHODS:
            if method not in rule.methods:
                continue
            for big in HUGE:
                cases.append(
                    pytest.param(
                        rule.endpoint, names, method, big, id=f"{method} {rule.rule} {big}"
                    )
                )
    return cases


@pytest.fixture
def owner_client(app, client, tenants_once, log_in):
    (tenant,) = tenants_once(1)
    log_in(client, tenant.users[Role.OWNER])
    return client, tenant


def test_every_int_argument_uses_the_ranged_converter(app):
    for rule in app.url_map.iter_rules():
        for name, conv in rule._converters.items():
            if isinstance(conv, IntegerConverter):
                assert isinstance(conv, IdConverter), f"{rule.rule} <{name}>"


@pytest.mark.parametrize(("endpoint", "names", "method", "big"), _cases())
def test_huge_ids_in_urls_are_404(owner_client, endpoint, names, method, big):
    client, tenant = owner_client
    # Each argument huge in turn, the others naming a real row of the owner's company.
    real = tenant.rows["job"].id
    for huge_name in names:
        values = {name: (big if name == huge_name else real) for name in names}
        with client.application.test_request_context():
            url = url_for(endpoint, **values)
        response = client.open(url, method=method, data={})
        assert response.status_code in (400, 404, 405), f"{method} {url}: {response.status_code}"


@pytest.mark.parametrize("big", HUGE)
@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("GET", "/me?user_id={big}", None),
        ("GET", "/jobs/new?customer_id={big}", None),
        ("GET", "/estimates/new?customer_id={big}", None),
        ("GET", "/estimates/new?job_id={big}", None),
        ("GET", "/invoices/new?job_id={big}", None),
        ("GET", "/dev/phone?customer={big}", None),
        ("GET", "/inbox?selected={big}", None),
        ("POST", "/estimates/new", {"customer_id": "{big}", "title": "x", "job_id": "{big}"}),
        ("POST", "/jobs/new", {"customer_id": "{big}", "tech_ids": "{big}"}),
        ("POST", "/settings/point-of-contact", {"poc_user_id": "{big}", "escalation_minutes": "5"}),
    ],
)
def test_huge_ids_in_query_strings_and_forms(owner_client, method, path, data, big):
    client, _ = owner_client
    url = path.format(big=big)
    form = {k: v.format(big=big) for k, v in (data or {}).items()}
    response = client.open(url, method=method, data=form)
    # A 404 for an id that names the page's subject, a form error (200/400/422) otherwise.
    assert response.status_code in (200, 400, 404, 422), f"{method} {url}: {response.status_code}"


def test_get_in_company_refuses_out_of_range_ids(app, make):
    from app.models import Customer

    company = make.company()
    for ident in (0, -1, MAX_ID + 1, 2**70, True, None):
        assert not is_valid_id(ident)
        assert get_in_company(Customer, ident, company_id=company.id) is None
    assert is_valid_id(MAX_ID)


NOT_IDS = ("²", "1" * 30, "3000000000")


@pytest.mark.parametrize("raw", NOT_IDS)
def test_text_that_is_not_an_id_in_other_forms(owner_client, raw):
    """Digits to str.isdigit that are no id: "²" (int() refuses it), 30 digits."""
    client, tenant = owner_client
    responses = [
        client.get(f"/jobs?q=%23{raw}"),
        client.post(
            "/settings/point-of-contact", data={"poc_user_id": raw, "escalation_minutes": ""}
        ),
        client.post(f"/inbox/{tenant.rows['conversation'].id}/assign", data={"user_id": raw}),
        client.post(
            "/billing/settings",
            data={"invoice_due_days": raw, "estimate_valid_days": "30", "default_tax_rate": ""},
        ),
    ]
    for response in responses:
        assert response.status_code in (200, 302, 400, 404, 422), response.request.path


@pytest.mark.parametrize("field", ["option_id", "version"])
@pytest.mark.parametrize("raw", NOT_IDS)
def test_the_public_estimate_refuses_text_that_is_not_an_id(client, make, bill, field, raw):
    from app.models import EstimateStatus

    estimate = bill.estimate(make.company())
    estimate.status = EstimateStatus.SENT
    db.session.commit()
    data = {
        "version": str(estimate.version),
        "option_id": str(estimate.options[0].id),
        "signed_name": "Dana Whitfield",
        "accept_terms": "yes",
        field: raw,
    }
    response = client.post(f"/e/{estimate.public_token}/approve", data=data)
    assert response.status_code in (200, 400, 409, 422)
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.SENT

"""Every route with an id, as every role of company 1, with ids of company 2's rows: 404.

The rules are read from the app's url_map, so a route added later is walked too. Each
int argument is filled from ARG_ROWS, which builds the row for a company; an argument
missing there fails the test, telling the next developer to add it.

A 403 (or a redirect, for a tech sent to their own pages) is accepted only when the role
may not open that route at all: the same request with the role's OWN company's ids must
give the same answer. Any other answer for a foreign id (200, 302, 400, 409, ...) means
the route looked at, or changed, another company's row.

Routes with several ids are also walked with one foreign id at a time and the others
the user's own (a job of mine, a tech of theirs): that is where a check is most often
forgotten.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from werkzeug.routing import IntegerConverter
from werkzeug.security import generate_password_hash

from app import create_app
from app.extensions import db
from app.models import Role
from app.services.accounts import invite_user
from tests.fixtures.factories import Factory
from tests.fixtures.inbox import store_inbound

ROLES = (Role.OWNER, Role.ADMIN, Role.OFFICE, Role.TECH)
IGNORED_METHODS = {"HEAD", "OPTIONS"}


# --- The rows each company gets, and which URL argument names them ----------------------------


@dataclass
class Tenant:
    company: Any
    users: dict[str, Any]
    rows: dict[str, Any] = field(default_factory=dict)


def _billing_rows(tenant: Tenant, make: Factory) -> None:
    """Estimates, invoices and their parts, when the billing module exists."""
    try:
        from app.services import billing
    except ImportError:
        return
    from tests.fixtures.billing import BillingFactory

    bill = BillingFactory(make)
    customer = tenant.rows["customer"]
    estimate = bill.estimate(tenant.company, customer)
    invoice = bill.invoice(tenant.company, customer)
    tenant.rows.update(estimate=estimate, invoice=invoice)
    tenant.rows["option"] = estimate.options[0]
    tenant.rows["estimate_item"] = estimate.options[0].items[0]
    tenant.rows["invoice_item"] = invoice.items[0]
    from app.models import utcnow

    tenant.rows["payment"] = billing.record_payment(
        invoice=invoice, amount_cents=1000, method="cash", received_at=utcnow()
    )


def _tenant(make: Factory, n: int) -> Tenant:
    company = make.company(name=f"Tenant {n}")
    users = {Role.OWNER: company.owner}
    for role in (Role.ADMIN, Role.OFFICE, Role.TECH):
        users[role] = make.user(company, role, mobile_phone=f"+1512555{n}{len(users):03d}")
    tenant = Tenant(company, users)
    customer = make.customer(company, phone=f"+1512777{n:04d}")
    number = make.number(company, e164=f"+1512888{n:04d}")
    job = make.job(company, customer=customer, techs=[users[Role.TECH]])
    message = store_inbound(company, customer.mobile_phone, "Hello?")
    invitation, _ = invite_user(
        company=company, inviter=company.owner, email=f"invitee{n}@example.com", role=Role.TECH
    )
    tenant.rows.update(
        customer=customer,
        job=job,
        number=number,
        message=message,
        conversation=message.conversation,
        invitation=invitation,
    )
    _billing_rows(tenant, make)
    return tenant


def _row(name: str) -> Callable[[Tenant], int]:
    def pick(tenant: Tenant) -> int:
        if name not in tenant.rows:
            pytest.fail(f"{name!r} rows are not built for this test: see _tenant().")
        return tenant.rows[name].id

    return pick


# URL argument -> the row of a tenant it names. Add yours here when you add a route.
ARG_ROWS: dict[str, Callable[[Tenant], int]] = {
    "job_id": _row("job"),
    "customer_id": _row("customer"),
    # The tech: assigned to the tenant's job, so /jobs/<job>/techs/<user>/remove is real.
    "user_id": lambda tenant: tenant.users[Role.TECH].id,
    "tech_id": lambda tenant: tenant.users[Role.TECH].id,
    "conversation_id": _row("conversation"),
    "message_id": _row("message"),
    "invitation_id": _row("invitation"),
    "number_id": _row("number"),
    "estimate_id": _row("estimate"),
    "option_id": _row("option"),
    "invoice_id": _row("invoice"),
    "payment_id": _row("payment"),
}


def _item_id(tenant: Tenant, rule: str) -> int:
    # A line item belongs to an estimate option or to an invoice; pick the kind the URL is about.
    key = "estimate_item" if "/estimates/" in rule else "invoice_item"
    return _row(key)(tenant)


RULE_AWARE_ARGS: dict[str, Callable[[Tenant, str], int]] = {"item_id": _item_id}


# --- Collecting the routes -------------------------------------------------------------------


def _url_map_rules():
    """The rules of an app built like the test app (same blueprints, fake Twilio on)."""
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "collect",
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "UPLOAD_FOLDER": tempfile.mkdtemp(prefix="tenancy-"),
            "TWILIO_FAKE": True,
            "RATELIMIT_ENABLED": False,
            "OUTBOX_THREAD": False,
        }
    )
    return list(app.url_map.iter_rules())


def _int_args(rule) -> list[str]:
    return sorted(
        name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)
    )


def _cases():
    cases = []
    for rule in sorted(_url_map_rules(), key=lambda r: (r.rule, r.endpoint)):
        int_args = _int_args(rule)
        if not int_args:
            continue
        variants = ["all"] + (int_args if len(int_args) > 1 else [])
        for method in sorted(rule.methods - IGNORED_METHODS):
            for variant in variants:
                for role in ROLES:
                    label = f"{method} {rule.rule} [{variant} foreign] as {role}"
                    cases.append(
                        pytest.param(rule.endpoint, rule.rule, method, variant, role, id=label)
                    )
    return cases


CASES = _cases()


# --- The test --------------------------------------------------------------------------------


@pytest.fixture
def fast_passwords(monkeypatch):
    # Eight users per test: the production hash (scrypt) would make this file take minutes.
    # Cheap hashes change nothing about who may see what.
    monkeypatch.setattr(
        "app.models.user.generate_password_hash",
        partial(generate_password_hash, method="pbkdf2:sha256:1"),
    )


@pytest.fixture
def tenants(make, fast_passwords):
    mine, theirs = _tenant(make, 1), _tenant(make, 2)
    db.session.commit()
    return mine, theirs


def _values(rule_text: str, endpoint: str, app, tenant_for: Callable[[str], Tenant]) -> dict:
    rule = next(
        r for r in app.url_map.iter_rules() if r.rule == rule_text and r.endpoint == endpoint
    )
    values = {}
    for name, conv in rule._converters.items():
        if not isinstance(conv, IntegerConverter):
            pytest.fail(
                f"{rule.rule} mixes an id with the non-integer argument {name!r}: teach "
                f"tests/views/test_tenancy.py which value to use for it."
            )
        tenant = tenant_for(name)
        if name in ARG_ROWS:
            values[name] = ARG_ROWS[name](tenant)
        elif name in RULE_AWARE_ARGS:
            values[name] = RULE_AWARE_ARGS[name](tenant, rule.rule)
        else:
            pytest.fail(
                f"{rule.rule} ({endpoint}) takes <int:{name}>, which the tenancy test does not "
                f"know. Add {name!r} to ARG_ROWS in tests/views/test_tenancy.py (and build the "
                f"row in _tenant()), so every role is checked against another company's row."
            )
    return values


def _request(client, method: str, endpoint: str, values: dict):
    from flask import url_for

    with client.application.test_request_context():
        url = url_for(endpoint, **values)
    response = client.open(url, method=method, data={})
    return url, response


@pytest.mark.parametrize(("endpoint", "rule", "method", "variant", "role"), CASES)
def test_another_companys_ids_are_404(
    app, client, tenants, log_in, endpoint, rule, method, variant, role
):
    mine, theirs = tenants
    log_in(client, mine.users[role])

    def foreign_for(name: str) -> Tenant:
        return theirs if variant in ("all", name) else mine

    url, response = _request(client, method, endpoint, _values(rule, endpoint, app, foreign_for))
    if response.status_code == 404:
        return

    # Not a 404: acceptable only if this role may not use the route even with its own ids.
    _, own = _request(client, method, endpoint, _values(rule, endpoint, app, lambda _: mine))
    barred = response.status_code == own.status_code == 403 or (
        role == Role.TECH
        and response.status_code == own.status_code == 302
        and response.headers["Location"] == own.headers["Location"]
        and "/tech" in response.headers["Location"]
    )
    assert barred, (
        f"{method} {url} as {role} of company 1 with company 2's ids answered "
        f"{response.status_code} (with company 1's own ids: {own.status_code}). Another "
        f"company's row must be 404: look it up with app.tenancy.get_or_404 before anything "
        f"else, and check child rows (options, items, users) belong to the parent's company."
    )

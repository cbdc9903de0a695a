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

import pytest
import sqlalchemy as sa
from flask import url_for
from werkzeug.routing import IntegerConverter

from app.extensions import db
from app.models import Role
from tests.fixtures.tenants import (
    ARG_ROWS,
    ROLES,
    Tenant,
    unknown_argument,
    url_map_rules,
)

IGNORED_METHODS = {"HEAD", "OPTIONS"}


# --- Collecting the routes -------------------------------------------------------------------


def _int_args(rule) -> list[str]:
    return sorted(
        name for name, conv in rule._converters.items() if isinstance(conv, IntegerConverter)
    )


def _cases():
    cases = []
    for rule in sorted(url_map_rules(), key=lambda r: (r.rule, r.endpoint)):
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
def tenants(tenants_once):
    return tenants_once(1, 2)


def _values(app, endpoint: str, rule_text: str, tenant_for) -> dict:
    rule = next(
        r for r in app.url_map.iter_rules() if r.rule == rule_text and r.endpoint == endpoint
    )
    values = {}
    for name, converter in rule._converters.items():
        if not isinstance(converter, IntegerConverter) or name not in ARG_ROWS:
            pytest.fail(unknown_argument(rule.rule, endpoint, name))
        values[name] = ARG_ROWS[name](tenant_for(name), rule.rule)
    return values


def _stored_state(tenant: Tenant) -> tuple[dict, dict]:
    """Row counts of every table, and every column of the tenant's own rows, as committed."""
    # What a real request leaves uncommitted dies with its session; the test shares one.
    db.session.rollback()
    db.session.expire_all()
    tables = db.metadata.sorted_tables
    # One query for every table's count.
    counted = db.session.execute(
        sa.select(*(sa.select(sa.func.count()).select_from(t).scalar_subquery() for t in tables))
    ).one()
    counts = dict(zip((table.name for table in tables), counted, strict=True))
    # The tenant's rows read as plain rows, a query a table: through the ORM (the session
    # refreshing every object) this was two thirds of the test's time.
    ids: dict[sa.Table, set[int]] = {}
    for row in (tenant.company, *tenant.users.values(), *tenant.rows.values()):
        state = sa.inspect(row)  # the identity, not `row.id`: that would load the row
        ids.setdefault(state.mapper.local_table, set()).add(state.identity[0])
    rows = {
        f"{table.name} {row.id}": dict(row._mapping)
        for table, table_ids in ids.items()
        for row in db.session.execute(sa.select(table).where(table.c.id.in_(table_ids)))
    }
    return counts, rows


def _request(client, method: str, endpoint: str, values: dict):
    with client.application.test_request_context():
        url = url_for(endpoint, **values)
    return url, client.open(url, method=method, data={})


@pytest.mark.parametrize(("endpoint", "rule", "method", "variant", "role"), CASES)
def test_another_companys_ids_are_404(
    app, client, tenants, log_in, endpoint, rule, method, variant, role
):
    mine, theirs = tenants
    log_in(client, mine.users[role])

    def foreign_for(name: str) -> Tenant:
        return theirs if variant in ("all", name) else mine

    before = _stored_state(theirs)
    url, response = _request(client, method, endpoint, _values(app, endpoint, rule, foreign_for))
    counts, rows = _stored_state(theirs)
    assert rows == before[1], f"{method} {url} as {role} changed company 2's rows"
    changed = {name for name, n in counts.items() if n != before[0][name]}
    assert not changed, f"{method} {url} as {role} added or removed rows in {sorted(changed)}"
    if response.status_code == 404:
        return

    # Not a 404: acceptable only if this role may not use the route even with its own ids.
    _, own = _request(client, method, endpoint, _values(app, endpoint, rule, lambda _: mine))
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

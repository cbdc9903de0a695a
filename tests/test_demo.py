"""`flask demo` seeds a usable demo company, and running it twice changes nothing."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Company, Customer, Job, JobStatus, Role, User


def _counts() -> dict[str, int]:
    return {
        model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
        for model in (Company, User, Customer, Job)
    }


def test_demo_seeds_a_company_and_prints_the_logins(runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert "owner@example.com" in result.output
    assert "maria@example.com" in result.output
    assert "demo-password" in result.output

    users = db.session.scalars(sa.select(User)).all()
    roles = sorted(user.role for user in users)
    assert roles.count(Role.TECH) == 3
    assert Role.OWNER in roles and Role.OFFICE in roles
    assert all(user.photo_filename for user in users if user.role == Role.TECH)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Customer)) >= 20
    statuses = set(db.session.scalars(sa.select(Job.status)))
    assert statuses == set(JobStatus.ALL)  # every status is there to look at


def test_demo_is_idempotent(runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    before = _counts()
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    assert "already present" in second.output
    assert _counts() == before


def test_demo_owner_can_log_in(runner, client):
    runner.invoke(args=["demo"])
    response = client.post(
        "/login", data={"email": "owner@example.com", "password": "demo-password"}
    )
    assert response.status_code == 302


def test_demo_company_takes_payments_with_the_fake_stripe(runner):
    from app.models import StripeAccount

    result = runner.invoke(args=["demo"])
    assert "Online payments: connected to the fake Stripe" in result.output
    account = db.session.scalars(sa.select(StripeAccount)).one()
    assert account.active

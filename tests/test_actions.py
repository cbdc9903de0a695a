"""app/actions.py: how a route runs a service (commit, or roll back and show why)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import get_flashed_messages
from flask_wtf import FlaskForm
from wtforms import StringField

from app.actions import service_call
from app.extensions import db
from app.models import Company
from app.services.errors import Conflict, DomainError


class NameForm(FlaskForm):
    name = StringField("Name")


def _names() -> list[str]:
    db.session.remove()
    return list(db.session.scalars(sa.select(Company.name).order_by(Company.name)))


def test_success_commits(app):
    with service_call() as call:
        db.session.add(Company(name="Kept"))
    assert call.ok and call.error is None and call.status_code == 200
    assert _names() == ["Kept"]


def test_a_refusal_rolls_back_and_lands_on_the_field_it_names(app):
    with app.test_request_context(method="POST", data={"name": "x"}):
        form = NameForm(meta={"csrf": False})
        with service_call(form) as call:
            db.session.add(Company(name="Dropped"))
            db.session.flush()
            raise DomainError("Pick another name.", field="name")
        assert not call.ok and call.message == "Pick another name."
        assert form.name.errors == ["Pick another name."]
    db.session.commit()  # nothing left to commit: the refusal rolled the flush back
    assert _names() == []


def test_a_refusal_without_a_field_goes_above_the_form_and_can_be_flashed(app):
    with app.test_request_context(method="POST"):
        form = NameForm(meta={"csrf": False})
        with service_call(form, flash_error=True) as call:
            raise Conflict("Someone else changed it.")
        assert call.status_code == 409
        assert form.form_errors == ["Someone else changed it."]
        assert get_flashed_messages(with_categories=True) == [("error", "Someone else changed it.")]


def test_anything_but_a_domain_error_is_a_bug_and_propagates(app):
    with pytest.raises(ZeroDivisionError), service_call():
        _ = 1 / 0

"""Templates: placeholders from a fixed list, filled from plain strings, never evaluated."""

from __future__ import annotations

import pytest

from app.models import MessageKind, MessageTemplate
from app.services.message_templates import (
    KINDS,
    PLACEHOLDERS,
    TemplateInvalid,
    get_template,
    render_text,
    reset_template,
    save_template,
    validate_template,
)


def test_every_default_template_is_valid_and_renders_without_braces():
    values = {name: f"<{name}>" for name in PLACEHOLDERS}
    for kind, spec in KINDS.items():
        assert validate_template(spec.default_body, kind=kind) == [], kind
        rendered = render_text(body=spec.default_body, values=values)
        assert "{" not in rendered and "}" not in rendered, kind


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("Hi {customer.__class__}", "{customer.__class__}"),
        ("Hi {customer_name.upper}", "{customer_name.upper}"),
        ("Hi {0}", "{0}"),
        ("Hi {}", "{}"),
        ("Hi {a[0]}", "{a[0]}"),
        ("Hi {customer_name!r}", "{customer_name!r}"),
        ("Hi {customer_name:>30}", "{customer_name:>30}"),
        ("Hi {cutsomer_name}", "{cutsomer_name}"),
        ("Hi {{ customer_name }}", "{{"),
        ("Hi {% if x %}yes{% endif %}", "{%"),
        ("Hi {# note #}", "{#"),
        ("Hi { there", "“{”"),
        ("Hi } there", "“}”"),
    ],
)
def test_validation_refuses_and_names_the_offending_text(body, named):
    problems = validate_template(body, kind=MessageKind.ON_MY_WAY)
    assert problems, body
    assert any(named in p for p in problems), problems


def test_validation_explains_the_kind_of_mistake():
    (attr,) = validate_template("{customer.__class__}")
    assert "attribute" in attr
    (index,) = validate_template("{a[0]}")
    assert "index" in index
    (positional,) = validate_template("{0}")
    assert "positional" in positional
    (typo,) = validate_template("{cutsomer_name}")
    assert "Did you mean {customer_name}?" in typo
    (spec,) = validate_template("{customer_name:>30}")
    assert "format spec" in spec


def test_placeholder_from_another_kind_is_refused_with_its_name():
    problems = validate_template("Pay here {invoice_link}", kind=MessageKind.ON_MY_WAY)
    assert problems == ["{invoice_link} can't be used in the On My Way text."]
    assert validate_template("Pay here {invoice_link}", kind=MessageKind.INVOICE) == []


def test_empty_and_overlong_texts_are_refused():
    assert validate_template("   ") == ["The text can't be empty."]
    assert "keep it under 1000" in validate_template("a" * 1001)[0]


def test_render_fills_from_plain_strings_in_one_pass():
    body = "Hi {customer_first_name}, {tech_name} is coming. {unknown} {0}"
    values = {"customer_first_name": "{tech_name}", "tech_name": "Sam"}
    assert render_text(body=body, values=values) == "Hi {tech_name}, Sam is coming. {unknown} {0}"


def test_render_never_evaluates_attribute_lookups():
    text = render_text(body="x {customer_name.__class__} y", values={"customer_name": "Ann"})
    assert text == "x {customer_name.__class__} y"


def test_render_tidies_around_empty_values():
    body = "Hi {customer_first_name}, {change} See you {job_date}."
    values = {"customer_first_name": "Ann", "change": "", "job_date": ""}
    assert render_text(body=body, values=values) == "Hi Ann, See you."


def test_get_template_creates_the_default_once(make, db):
    company = make.company()
    first = get_template(company=company, kind=MessageKind.ON_MY_WAY)
    second = get_template(company=company, kind=MessageKind.ON_MY_WAY)
    assert first.id == second.id
    assert first.body == KINDS[MessageKind.ON_MY_WAY].default_body
    assert first.enabled is True
    reminder = get_template(company=company, kind=MessageKind.REMINDER)
    assert reminder.enabled is False
    assert reminder.lead_minutes == 24 * 60
    assert db.session.query(MessageTemplate).filter_by(company_id=company.id).count() == 2


def test_save_refuses_with_every_problem_and_keeps_the_old_text(make):
    company = make.company()
    with pytest.raises(TemplateInvalid) as refused:
        save_template(
            company=company, kind=MessageKind.ON_MY_WAY, body="{0} and {customer.__class__}"
        )
    assert len(refused.value.problems) == 2
    template = get_template(company=company, kind=MessageKind.ON_MY_WAY)
    assert template.body == KINDS[MessageKind.ON_MY_WAY].default_body


def test_save_and_reset(make):
    company = make.company()
    saved = save_template(
        company=company, kind=MessageKind.JOB_FINISHED, body="All done, {customer_first_name}!\r\n"
    )
    assert saved.body == "All done, {customer_first_name}!"
    reset = reset_template(company=company, kind=MessageKind.JOB_FINISHED)
    assert reset.id == saved.id
    assert reset.body == KINDS[MessageKind.JOB_FINISHED].default_body


def test_templates_belong_to_their_company(make):
    a, b = make.company(), make.company()
    save_template(company=a, kind=MessageKind.ON_MY_WAY, body="A's text {tech_name}")
    assert get_template(company=b, kind=MessageKind.ON_MY_WAY).body != "A's text {tech_name}"

"""The /texts pages: list, editor, live preview, save (refused with named errors), reset,
on/off, identity settings; and who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import MessageKind, Role, SenderIdentity, SkippedText, utcnow
from app.services.message_templates import KINDS, get_template
from tests.support import HX


@pytest.fixture
def office(make, log_in, client):
    company = make.company(name="Acme Plumbing")
    user = make.user(company, role=Role.OFFICE, name="Olivia Office")
    db.session.commit()
    log_in(client, user)
    return company, user


def test_list_shows_every_notification_with_its_state(office, client):
    response = client.get("/texts")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for spec in KINDS.values():
        assert spec.label in html
    assert "Turn off" in html  # job scheduled etc. are on
    assert "Turn on" in html  # the reminder is off by default
    assert "An owner or admin can change these." in html  # office can't change identity


def test_tech_cannot_open_the_texts_pages(make, log_in, client):
    company = make.company()
    tech = make.user(company, role=Role.TECH)
    db.session.commit()
    log_in(client, tech)
    assert client.get("/texts").status_code == 403
    assert client.get("/texts/on_my_way").status_code == 403
    assert client.post("/texts/on_my_way", data={"body": "x"}).status_code == 403


def test_unknown_kind_is_404(office, client):
    assert client.get("/texts/nope").status_code == 404
    assert client.post("/texts/nope/preview", data={"body": "x"}).status_code == 404


def test_preview_renders_with_sample_values_and_counts_segments(office, client):
    response = client.post(
        "/texts/on_my_way/preview",
        data={"body": "Hi {customer_first_name}, {tech_name} is on the way"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'id="template-preview"' in html
    # A sample is a new customer, so the preview carries the first-contact footer.
    assert "Hi Jordan, Sam Lee is on the way Reply STOP to opt out." in html
    assert "55 characters · 1 segment · GSM-7" in html
    assert "it is the first text to a new customer" in html
    assert "With sample values" in html


def test_preview_uses_the_next_real_job(office, make, client):
    company, _ = office
    customer = make.customer(company, name="Ann Smith")
    job = make.job(company, customer=customer, start=utcnow() + timedelta(days=1))
    db.session.commit()
    html = client.post(
        "/texts/job_scheduled/preview", data={"body": "Hi {customer_first_name}"}
    ).get_data(as_text=True)
    assert "Hi Ann" in html
    assert f"#{job.number} for Ann Smith" in html


def test_preview_warns_about_the_character_that_makes_it_ucs2(office, client):
    html = client.post("/texts/on_my_way/preview", data={"body": "We\u2019re on the way"}).get_data(
        as_text=True
    )
    assert "UCS-2" in html
    assert "right single quotation mark" in html
    assert 'data-replace="\u2019"' in html
    assert "Replace with <kbd>&#39;</kbd>" in html


def test_preview_lists_problems_as_you_type(office, client):
    html = client.post(
        "/texts/on_my_way/preview", data={"body": "Hi {customer.__class__}"}
    ).get_data(as_text=True)
    assert "{customer.__class__} looks up an attribute" in html
    assert "Hi {customer.__class__}" in html  # shown literally, never evaluated


def test_preview_escapes_what_was_typed(office, client):
    html = client.post(
        "/texts/on_my_way/preview", data={"body": "<script>alert(1)</script>"}
    ).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("Hi {customer.__class__}", "{customer.__class__}"),
        ("Hi {0}", "{0}"),
        ("Hi {{ customer_name }}", "{{"),
        ("Hi {nope}", "{nope}"),
    ],
)
def test_save_is_refused_with_an_error_naming_the_text(office, client, body, named):
    company, _ = office
    response = client.post("/texts/on_my_way", data={"body": body, "enabled": "y"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "This text can't be saved yet" in html
    assert named in html
    assert f">{body}</textarea>" in html  # what was typed is kept, not lost
    db.session.expire_all()
    assert get_template(company=company, kind=MessageKind.ON_MY_WAY).body == (
        KINDS[MessageKind.ON_MY_WAY].default_body
    )


def test_save_reset_and_toggle(office, client):
    company, _ = office
    response = client.post(
        "/texts/on_my_way",
        data={"body": "{tech_first_name} is coming, {customer_first_name}!", "enabled": "y"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    template = get_template(company=company, kind=MessageKind.ON_MY_WAY)
    assert template.body == "{tech_first_name} is coming, {customer_first_name}!"
    assert template.enabled is True

    assert client.post("/texts/on_my_way/reset").status_code == 302
    db.session.expire_all()
    assert template.body == KINDS[MessageKind.ON_MY_WAY].default_body

    response = client.post("/texts/on_my_way/toggle", data={"enabled": "0"}, headers=HX)
    assert response.status_code == 200
    assert 'id="template-row-on_my_way"' in response.get_data(as_text=True)
    db.session.expire_all()
    assert template.enabled is False


def test_reminder_lead_time_is_saved_and_checked(office, client):
    company, _ = office
    response = client.post(
        "/texts/reminder",
        data={
            "body": KINDS[MessageKind.REMINDER].default_body,
            "enabled": "y",
            "lead_minutes": "120",
        },
    )
    assert response.status_code == 302
    db.session.expire_all()
    reminder = get_template(company=company, kind=MessageKind.REMINDER)
    assert (reminder.enabled, reminder.lead_minutes) == (True, 120)
    response = client.post(
        "/texts/reminder",
        data={"body": KINDS[MessageKind.REMINDER].default_body, "lead_minutes": "7"},
    )
    assert response.status_code == 422
    assert "Not a valid choice" in response.get_data(as_text=True)


def test_replace_without_javascript_keeps_the_text_unsaved(office, client):
    company, _ = office
    response = client.post(
        "/texts/on_my_way/replace", data={"body": "We\u2019re \u201cclose\u201d", "char": "\u2019"}
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "We&#39;re \u201cclose\u201d" in html
    db.session.expire_all()
    assert get_template(company=company, kind=MessageKind.ON_MY_WAY).body == (
        KINDS[MessageKind.ON_MY_WAY].default_body
    )


def test_only_managers_change_the_identity(office, make, client, log_in):
    company, _ = office
    response = client.post("/texts/settings", data={"sender_identity": SenderIdentity.COMPANY})
    assert response.status_code == 403
    client.post("/logout")
    log_in(client, company.owner)
    response = client.post(
        "/texts/settings",
        data={"sender_identity": SenderIdentity.COMPANY, "finished_text_invoice_link": "y"},
    )
    assert response.status_code == 302
    db.session.expire_all()
    assert company.sender_identity == SenderIdentity.COMPANY
    assert company.finished_text_invoice_link is True
    bad = client.post("/texts/settings", data={"sender_identity": "anonymous"})
    assert bad.status_code == 422
    assert "Not a valid choice" in bad.get_data(as_text=True)


def test_skipped_texts_are_listed_with_the_reason(office, make, client):
    company, _ = office
    job = make.job(company)  # no custom number: the booking text is skipped
    db.session.commit()
    assert db.session.query(SkippedText).count() == 1
    html = client.get("/texts").get_data(as_text=True)
    assert f"job #{job.number}" in html
    assert "Not sent: " in html and "no custom SMS number" in html


def test_csrf_is_required_for_saving(office, client, csrf_enabled):
    response = client.post("/texts/on_my_way", data={"body": "Hello"})
    assert response.status_code in (400, 422)
    assert get_template(company=office[0], kind=MessageKind.ON_MY_WAY).body != "Hello"


def test_estimate_and_invoice_texts_are_edited_but_not_switched(office, client):
    html = client.get("/texts").get_data(as_text=True)
    assert html.count("Sent by you") == 2
    assert client.post("/texts/estimate/toggle", data={"enabled": "0"}).status_code == 404
    page = client.get("/texts/invoice").get_data(as_text=True)
    assert "Send this text automatically" not in page
    assert "{invoice_link}" in page


def test_preview_with_the_company_identity_names_no_tech(office, client):
    company, _ = office
    company.sender_identity = SenderIdentity.COMPANY
    db.session.commit()
    html = client.post(
        "/texts/on_my_way/preview", data={"body": "{tech_name} from {company_name} is coming"}
    ).get_data(as_text=True)
    assert "Our technician from Acme Plumbing is coming" in html  # a value, capitalised
    assert "No technician name or photo is sent" in html

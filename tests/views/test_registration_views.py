"""Settings → Texting registration: field errors before anything reaches Twilio, submit,
attach, the banner, the public terms page, a refused reply."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import RegistrationStatus
from tests.services.test_registration import DETAILS

URL = "/settings/texting-registration"


def _form(**changes):
    data = {**DETAILS, **changes}
    form = {k: v for k, v in data.items() if k not in ("samples", "use_generated_terms")}
    form["kind"] = data.get("kind", "10dlc_standard")
    form["samples"] = data["samples"]
    if data.get("use_generated_terms"):
        form["use_generated_terms"] = "on"
    return form


@pytest.fixture
def owner_client(client, make, log_in):
    company = make.company("Lone Star Plumbing", registered=False)
    make.number(company, e164="+15126660142")
    db.session.commit()
    log_in(client, company.owner)
    client.company = company
    return client


def test_page_prefills_from_the_company(owner_client):
    html = owner_client.get(URL).get_data(as_text=True)
    assert "Step 1 of 3" in html and "Step 3 of 3" in html
    assert "/sms-terms" in html
    assert "Texting registration" in html


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ein", "12-34", "An EIN is 9 digits"),
        ("ein", "00-1234567", "An EIN is 9 digits"),
        ("website", "http://lonestarplumbing.example.com", "https://"),
        ("street", "PO Box 1234", "PO box"),
        ("street", "P.O. Box 77", "PO box"),
    ],
)
def test_field_errors_before_anything_is_sent(owner_client, fake, field, value, message):
    response = owner_client.post(URL, data=_form(**{field: value}))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert fake.requests == []
    db.session.refresh(owner_client.company.registration)
    assert owner_client.company.registration.status == RegistrationStatus.NOT_STARTED


def test_missing_privacy_link_is_a_field_error(owner_client, fake):
    response = owner_client.post(
        URL, data=_form(use_generated_terms=False, privacy_url="", terms_url="https://x.example/t")
    )
    assert response.status_code == 422
    assert "privacy policy" in response.get_data(as_text=True)
    assert fake.requests == []


def test_submit_hands_it_to_the_worker(owner_client, fake):
    response = owner_client.post(URL, data=_form())
    assert response.status_code == 302
    registration = owner_client.company.registration
    db.session.refresh(registration)
    assert registration.status == RegistrationStatus.IN_PROGRESS
    assert registration.details["ein"] == "12-3456789"
    page = owner_client.get(URL).get_data(as_text=True)
    assert "Submitting" in page


def test_banner_on_office_pages_until_texting_is_on(owner_client):
    html = owner_client.get("/jobs").get_data(as_text=True)
    assert 'id="registration-notice"' in html
    assert "Texting is not on yet" in html
    registration = owner_client.company.registration
    registration.status = RegistrationStatus.APPROVED
    db.session.commit()
    assert 'id="registration-notice"' not in owner_client.get("/jobs").get_data(as_text=True)


def test_terms_page_is_public(client, make):
    company = make.company("Terms Co", registered=False)
    db.session.commit()
    token = company.registration.public_token
    html = client.get(f"/c/{token}/sms-terms").get_data(as_text=True)
    assert "Msg &amp; data rates may apply" in html
    assert "STOP" in html and "HELP" in html and "never shared" in html
    assert client.get("/c/not-a-token/sms-terms").status_code == 404


def test_office_staff_cannot_open_it(client, make, log_in):
    company = make.company("Staff Co", registered=False)
    office = make.user(company, role="office")
    db.session.commit()
    log_in(client, office)
    assert client.get(URL).status_code in (403, 404)

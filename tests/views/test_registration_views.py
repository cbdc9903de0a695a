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
    assert "Step 1 of 3" in html and 'value="Lone Star Plumbing"' in html
    assert "as on your IRS records" in html
    review = owner_client.get(URL + "?step=review").get_data(as_text=True)
    assert "Step 3 of 3" in review and "Fees and wait" in review
    # Samples come from the enabled templates, placeholders in brackets.
    assert "[" in review and "Lone Star Plumbing" in review


def _step(client, step, form):
    slug = {1: "business", 2: "consent", 3: "review"}[step]
    return client.post(f"{URL}/{slug}", data=form)


def test_wizard_three_steps_to_submission(owner_client, fake):
    form = _form()
    step1 = {
        k: form[k]
        for k in (
            "kind",
            "legal_name",
            "ein",
            "business_type",
            "industry",
            "website",
            "street",
            "city",
            "state",
            "postal_code",
            "rep_first_name",
            "rep_last_name",
            "rep_title",
            "rep_email",
            "rep_phone",
            "mobile_phone",
        )
    }
    response = _step(owner_client, 1, step1)
    assert response.status_code == 302 and response.headers["Location"].endswith("step=consent")
    response = _step(owner_client, 2, {"opt_in_method": "VERBAL", "use_generated_terms": "on"})
    assert response.headers["Location"].endswith("step=review")
    assert fake.requests == []  # drafts stay in the app
    review = owner_client.get(URL + "?step=review").get_data(as_text=True)
    assert "Lone Star Plumbing LLC" in review and "12-3456789" in review
    response = _step(
        owner_client,
        3,
        {
            "description": form["description"],
            "message_flow": form["message_flow"],
            "samples": form["samples"],
        },
    )
    assert response.status_code == 302
    registration = owner_client.company.registration
    db.session.refresh(registration)
    assert registration.status == RegistrationStatus.IN_PROGRESS
    assert registration.details["legal_name"] == "Lone Star Plumbing LLC"
    assert registration.details["samples"] == DETAILS["samples"]


def test_wizard_step_errors_name_only_that_step(owner_client, fake):
    response = _step(owner_client, 1, {**_form(), "ein": "123"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "An EIN is 9 digits" in html and "Step 1 of 3" in html
    response = _step(owner_client, 2, {"opt_in_method": "VERBAL", "privacy_url": ""})
    assert response.status_code == 422
    assert "privacy policy" in response.get_data(as_text=True)
    assert fake.requests == []


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


def test_a_second_submission_is_refused_and_changes_nothing(owner_client, fake):
    assert owner_client.post(URL, data=_form()).status_code == 302
    response = owner_client.post(URL, data=_form(legal_name="Other Name LLC"))
    assert response.status_code == 409
    # The wizard is hidden once submitted, so the reason shows under the status.
    status = response.get_data(as_text=True).split('id="registration-status"')[1]
    assert "already" in status.split("</section>")[0].lower()
    registration = owner_client.company.registration
    db.session.refresh(registration)
    assert registration.details["legal_name"] == DETAILS["legal_name"]


def test_attaching_a_malformed_sid_is_a_field_error(owner_client, fake):
    response = owner_client.post(URL + "/attach", data={"messaging_service": "MG123"})
    assert response.status_code == 422
    assert "MG followed by 32 letters and digits." in response.get_data(as_text=True)
    registration = owner_client.company.registration
    db.session.refresh(registration)
    assert registration.status == RegistrationStatus.NOT_STARTED


def test_resending_without_a_confirmation_text_says_why(owner_client, fake):
    response = owner_client.post(URL + "/resend")
    assert response.status_code == 302
    page = owner_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "There is no confirmation text to resend." in page


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


def test_dev_review_page_answers_the_confirmation_and_decides(owner_client, fake, app):
    """/dev/registration (fake only): the owner's phone answers YES to The Campaign
    Registry, and the reviewer rejects the brand with a code."""
    from app.models import PhoneNumber
    from app.services import registration as reg
    from app.sms import gateway

    company = owner_client.company
    number = db.session.scalar(db.select(PhoneNumber).filter_by(company_id=company.id))
    bought = gateway.buy_number(
        phone_number="+15126660143", sms_url="https://a.example/s", voice_url="https://a.example/v"
    )
    number.e164, number.twilio_sid = bought.e164, bought.sid
    db.session.commit()
    fake.set_registration_outcome("pending")
    owner_client.post(URL, data=_form(kind="10dlc_sole_prop", ein="", business_type=""))
    reg.work_due_registrations(now=fake.clock())
    html = owner_client.get("/dev/registration").get_data(as_text=True)
    assert "reply YES to confirm" in html
    owner_client.post("/dev/registration/answer", data={"answer": "YES"})
    registration = company.registration
    db.session.refresh(registration)
    brand = fake.registrations.brands[registration.brand_sid]
    assert brand["_otp_verified"] is True
    owner_client.post(
        "/dev/registration/review", data={"decision": "reject", "target": "brand", "code": "30799"}
    )
    reg.work_due_registrations(now=fake.clock())
    db.session.refresh(registration)
    assert registration.status == RegistrationStatus.REJECTED
    assert registration.failure_code == 30799
    page = owner_client.get(URL).get_data(as_text=True)
    assert "error 30799" in page
    assert "IRS letter CP 575" in page  # the plain-words explanation
    assert "Resubmit" in owner_client.get(URL + "?step=review").get_data(as_text=True)


def test_skipped_texts_show_the_reason_on_the_timeline_and_texts_page(owner_client, make):
    from datetime import timedelta

    from app.models import utcnow

    company = owner_client.company
    job = make.job(company, start=utcnow() + timedelta(days=1))
    db.session.commit()
    timeline = owner_client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Not sent" in timeline and "Texting is not on yet" in timeline
    texts = owner_client.get("/texts").get_data(as_text=True)
    assert "Not sent: Texting is not on yet" in texts


def test_sole_proprietor_status_page_offers_to_resend_the_text(owner_client, fake):
    from app.models import PhoneNumber
    from app.services import registration as reg
    from app.sms import gateway
    from app.sms.fake_twilio.registration import OTP_SENDER

    company = owner_client.company
    number = db.session.scalar(db.select(PhoneNumber).filter_by(company_id=company.id))
    bought = gateway.buy_number(
        phone_number="+15126660144", sms_url="https://a.example/s", voice_url="https://a.example/v"
    )
    number.e164, number.twilio_sid = bought.e164, bought.sid
    db.session.commit()
    fake.set_registration_outcome("approve")
    owner_client.post(URL, data=_form(kind="10dlc_sole_prop", ein="", business_type=""))
    reg.work_due_registrations(now=fake.clock())
    page = owner_client.get(URL).get_data(as_text=True)
    assert "Reply YES to that text within 24 hours" in page
    response = owner_client.post(URL + "/resend", follow_redirects=True)
    assert "We texted the confirmation again" in response.get_data(as_text=True)
    assert len([m for m in fake.messages.values() if m.from_ == OTP_SENDER]) == 2


def test_trusthub_webhook_checks_its_input(client, signed_post, app):
    path = "/webhooks/twilio/trusthub"
    assert client.post(
        path, data={"BundleSid": "BU1", "Status": "twilio-approved"}
    ).status_code in (
        401,
        403,
    )
    assert signed_post(client, path, {"Status": "twilio-approved"}).status_code == 400
    unknown = signed_post(client, path, {"BundleSid": "BU" + "9" * 32, "Status": "in-review"})
    assert unknown.status_code == 204

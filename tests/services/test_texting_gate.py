"""The `not_registered` gate: a company whose registration is not approved or attached
may not text. Automated texts are skipped with the reason, a reply is refused, inbound
keeps working, and an approved company sends through its Messaging Service."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Message,
    MessagingRegistration,
    RegistrationStatus,
    SkippedText,
    utcnow,
)
from app.services.texting import TextingUnavailable, queue_text, texting_blocker


@pytest.fixture
def unregistered(make):
    company = make.company("New Signup Plumbing", registered=False)
    make.number(company, e164="+15126660199")
    customer = make.customer(company, phone="+15125550123")
    db.session.commit()
    return company, customer


def test_a_fresh_signup_starts_not_started(make):
    company = make.company("Fresh", registered=False)
    assert company.registration.status == RegistrationStatus.NOT_STARTED


def test_blocker_names_the_reason(unregistered):
    company, customer = unregistered
    blocker = texting_blocker(company=company, phone=customer.mobile_phone)
    assert blocker is not None
    assert blocker.reason == TextingUnavailable.NOT_REGISTERED
    assert blocker.message.startswith("Texting is not on yet")


def test_pending_sentence_says_since_when(unregistered):
    company, customer = unregistered
    registration = company.registration
    registration.status = RegistrationStatus.PENDING
    registration.submitted_at = utcnow().replace(month=3, day=3, hour=18)
    blocker = texting_blocker(company=company, phone=customer.mobile_phone)
    assert blocker.message == "Texting is not on yet: registration pending since Mar 3."


def test_a_manual_text_is_refused(unregistered):
    company, customer = unregistered
    with pytest.raises(TextingUnavailable) as refused:
        queue_text(company=company, to_phone=customer.mobile_phone, body="Hi", kind="reply")
    assert refused.value.reason == "not_registered"


def test_an_automated_text_is_skipped_with_the_reason(make, unregistered):
    company, customer = unregistered
    make.job(company, customer, start=utcnow() + timedelta(days=1))
    skipped = db.session.scalars(sa.select(SkippedText).filter_by(company_id=company.id)).all()
    assert skipped, "creating a job queues the scheduled text, which must be skipped"
    assert {s.reason for s in skipped} == {"not_registered"}
    assert skipped[0].detail.startswith("Texting is not on yet")


@pytest.mark.parametrize("status", [RegistrationStatus.APPROVED, RegistrationStatus.ATTACHED])
def test_approved_or_attached_may_text(unregistered, status):
    company, customer = unregistered
    company.registration.status = status
    assert texting_blocker(company=company, phone=customer.mobile_phone) is None


def test_sending_goes_through_the_messaging_service(sms_world, fake, dispatcher):
    registration = db.session.scalar(
        sa.select(MessagingRegistration).filter_by(company_id=sms_world.company.id)
    )
    registration.messaging_service_sid = "MG" + "1" * 32
    queue_text(
        company=sms_world.company, to_phone=sms_world.customer.mobile_phone, body="Hi", kind="reply"
    )
    db.session.commit()
    dispatcher().run_once()
    (request,) = fake.message_requests()
    form = request.form_dict()
    assert form["MessagingServiceSid"] == ["MG" + "1" * 32]
    assert form["From"] == [sms_world.number.e164]
    (sent,) = fake.outbound()
    assert sent.messaging_service_sid == "MG" + "1" * 32


def test_inbound_texts_and_calls_work_before_registration(client, text_in, signed_post, make):
    company = make.company("Day One Plumbing", registered=False, business_phone="+15125550100")
    make.number(company, e164="+15126660133")
    make.customer(company, phone="+15125550144")
    db.session.commit()
    form = {
        "MessageSid": "SM" + "a" * 32,
        "SmsSid": "SM" + "a" * 32,
        "AccountSid": "AC00000000000000000000000000000000",
        "From": "+15125550144",
        "To": "+15126660133",
        "Body": "Are you coming today?",
        "NumMedia": "0",
    }
    assert text_in(client, "/webhooks/twilio/sms", form).status_code == 200
    db.session.expire_all()
    (received,) = db.session.scalars(
        sa.select(Message).filter_by(company_id=company.id, direction="in")
    ).all()
    assert received.body == "Are you coming today?"
    call = signed_post(
        client,
        "/webhooks/twilio/voice",
        {
            "CallSid": "CA" + "b" * 32,
            "AccountSid": "AC00000000000000000000000000000000",
            "From": "+15125550144",
            "To": "+15126660133",
            "CallStatus": "ringing",
            "Direction": "inbound",
        },
    )
    assert call.status_code == 200
    assert "+15125550100" in call.get_data(as_text=True)  # forwarded to the business phone


def test_a_reply_from_the_inbox_is_refused_with_the_sentence(client, log_in, inbound, make):
    company = make.company("Inbox Plumbing", registered=False)
    make.number(company, e164="+15126660134")
    make.customer(company, phone="+15125550145")
    db.session.commit()
    message = inbound(company, "+15125550145", "hello?")
    db.session.commit()
    log_in(client, company.owner)
    response = client.post(
        f"/inbox/{message.conversation_id}/reply",
        data={"body": "On our way"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 409
    assert "Texting is not on yet" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(Message).filter_by(direction="out")) is None


def test_carriers_block_an_unregistered_number_and_the_office_reads_why(
    make, fake, dispatcher, clock
):
    """With the fake enforcing carriers' rule, a text the app sends from a number outside an
    approved campaign is accepted, then fails with 30034, explained in plain words: the
    failure the gate exists to prevent (here the company was marked approved by hand)."""
    from app.models import PhoneNumber
    from app.sms import gateway
    from app.sms.error_codes import error_explanation

    fake.enforce_registration = True
    company = make.company("Marked Approved")
    bought = gateway.buy_number(
        phone_number="+15126660155", sms_url="https://a.example/s", voice_url="https://a.example/v"
    )
    db.session.add(PhoneNumber(company_id=company.id, e164=bought.e164, twilio_sid=bought.sid))
    customer = make.customer(company, phone="+15125550166")
    message = queue_text(company=company, to_phone=customer.mobile_phone, body="Hi", kind="reply")
    db.session.commit()
    dispatcher().run_once()
    fake.run_all_callbacks()
    db.session.expire_all()
    sent = db.session.get(Message, message.id)
    assert sent.status == "undelivered"
    assert sent.error_code == 30034
    assert "not registered for business texting" in error_explanation(30034)

"""`flask registration show|attach|retry|reset`."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import MessagingRegistration, PhoneNumber, RegistrationStatus
from app.services import registration as reg
from app.sms import gateway, trust_hub
from tests.services.test_registration import DETAILS


def _company_with_number(make):
    company = make.company("Lone Star Plumbing", registered=False)
    bought = gateway.buy_number(
        phone_number="+15126660177", sms_url="https://a.example/s", voice_url="https://a.example/v"
    )
    db.session.add(PhoneNumber(company_id=company.id, e164=bought.e164, twilio_sid=bought.sid))
    db.session.commit()
    return company


def test_show_a_fresh_company(runner, make, fake):
    company = make.company("Fresh Co", registered=False)
    db.session.commit()
    result = runner.invoke(args=["registration", "show", str(company.id)])
    assert result.exit_code == 0, result.output
    assert "Business profile: to do" in result.output
    assert result.output.strip().endswith("status: not_started")


def test_show_unknown_company(runner, app):
    result = runner.invoke(args=["registration", "show", "9999"])
    assert result.exit_code != 0
    assert "No company 9999" in result.output


def test_attach_then_show(runner, make, fake):
    company = _company_with_number(make)
    service = trust_hub.create_messaging_service(
        friendly_name="console",
        inbound_url="https://x.example/s",
        status_callback="https://x.example/c",
    )
    result = runner.invoke(
        args=["registration", "attach", str(company.id), "--messaging-service", service.sid]
    )
    assert result.exit_code == 0, result.output
    assert service.sid in result.output
    assert "status: attached" in result.output


def test_attach_refuses_a_bad_sid(runner, make, fake):
    company = _company_with_number(make)
    result = runner.invoke(
        args=["registration", "attach", str(company.id), "--messaging-service", "MGnope"]
    )
    assert result.exit_code != 0
    assert "MG followed by 32" in result.output


def test_retry_resumes_a_rejected_brand(runner, make, fake, clock):
    company = _company_with_number(make)
    fake.set_registration_outcome("fail:30792")
    reg.submit_registration(
        company=company, actor=company.owner, kind="10dlc_standard", data=DETAILS, now=clock()
    )
    db.session.commit()
    reg.work_due_registrations(now=clock())
    clock.advance(900)
    reg.work_due_registrations(now=clock())
    result = runner.invoke(args=["registration", "show", str(company.id)])
    assert "status: rejected" in result.output and "[30792]" in result.output

    fake.set_registration_outcome("approve")
    result = runner.invoke(args=["registration", "retry", str(company.id)])
    assert result.exit_code == 0, result.output
    # retry works at once with the real clock; the fake's clock is the test's.
    registration = db.session.scalar(sa.select(MessagingRegistration))
    db.session.refresh(registration)
    assert registration.status in (RegistrationStatus.PENDING, RegistrationStatus.APPROVED)
    assert fake.registrations.created["brand"] == 1


def test_reset_goes_back_to_not_started(runner, make, fake):
    company = make.company("Was Attached")
    db.session.commit()
    result = runner.invoke(args=["registration", "reset", str(company.id), "--yes"])
    assert result.exit_code == 0, result.output
    assert "status: not_started" in result.output

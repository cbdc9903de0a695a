"""Texting registration through the real twilio SDK against the fake Twilio over HTTP:
the whole 10DLC flow to approval, rejection with fix and resubmit, a crash after every
step, Sole Proprietor with its confirmation text, toll-free, attach, polling backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import MessagingRegistration, PhoneNumber, RegistrationStatus
from app.services import registration as reg
from app.sms import gateway, trust_hub
from app.sms.fake_twilio.registration import OTP_SENDER
from app.sms.fake_twilio.state import _Fault

pytestmark = pytest.mark.usefixtures("over_http")

DETAILS = {
    "legal_name": "Lone Star Plumbing LLC",
    "ein": "12-3456789",
    "business_type": "Limited Liability Corporation",
    "industry": "CONSTRUCTION",
    "website": "https://lonestarplumbing.example.com",
    "street": "1500 S Congress Ave",
    "city": "Austin",
    "state": "TX",
    "postal_code": "78704",
    "rep_first_name": "Alice",
    "rep_last_name": "Owner",
    "rep_email": "alice@lonestarplumbing.example.com",
    "rep_phone": "+15125550100",
    "rep_title": "Owner",
    "mobile_phone": "+15125550177",
    "opt_in_method": "VERBAL",
    "use_generated_terms": True,
    "description": "Lone Star Plumbing texts its own customers about the jobs they booked.",
    "message_flow": "Customers give their mobile number when they book a job by phone and "
    "agree to receive texts about it.",
    "samples": [
        "Lone Star Plumbing: your appointment is confirmed for [date] at [time].",
        "Lone Star Plumbing: [tech name] is on the way. Reply STOP to opt out.",
    ],
}


@pytest.fixture
def world(make, fake, clock):
    """An unregistered company whose number the fake Twilio sold it."""
    company = make.company("Lone Star Plumbing", registered=False)
    bought = gateway.buy_number(
        phone_number="+15126660155",
        sms_url="https://app.example/webhooks/twilio/sms",
        voice_url="https://app.example/webhooks/twilio/voice",
    )
    db.session.add(PhoneNumber(company_id=company.id, e164=bought.e164, twilio_sid=bought.sid))
    db.session.commit()
    return company


def _submit(company, kind="10dlc_standard", **changes):
    registration = reg.submit_registration(
        company=company,
        actor=company.owner,
        kind=kind,
        data={**DETAILS, **changes},
        now=reg_now(),
    )
    db.session.commit()
    return registration


def reg_now():
    from app.sms.fake_twilio import fake_twilio

    return fake_twilio().clock()


def _run(clock, *, rounds: int = 1) -> MessagingRegistration:
    for _ in range(rounds):
        reg.work_due_registrations(now=clock())
    return db.session.scalars(db.select(MessagingRegistration)).one()


def test_whole_flow_to_approval(world, fake, clock):
    fake.set_registration_outcome("approve_after:600")
    registration = _submit(world)
    assert registration.status == RegistrationStatus.IN_PROGRESS
    assert not reg.may_text(world)

    registration = _run(clock)
    # Everything up to the brand and the service is done; the brand is in review.
    assert registration.status == RegistrationStatus.PENDING
    assert registration.customer_profile_sid.startswith("BU")
    assert registration.trust_product_sid.startswith("BU")
    assert registration.brand_sid.startswith("BN")
    assert registration.messaging_service_sid.startswith("MG")
    assert registration.campaign_sid is None
    assert registration.next_poll_at == clock() + timedelta(minutes=15)

    clock.advance(15 * 60)
    registration = _run(clock)
    assert registration.brand_status == "APPROVED"
    assert registration.campaign_sid.startswith("QE")
    assert registration.campaign_use_case == "LOW_VOLUME"
    # The campaign is reviewed under the same switch: 10 minutes after it was made.
    assert registration.status == RegistrationStatus.PENDING

    clock.advance(15 * 60)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.APPROVED
    assert reg.may_text(world)
    counts = fake.registrations.created
    assert counts["brand"] == 1 and counts["campaign"] == 1
    assert counts["messaging_service"] == 1 and counts["customer_profile"] == 1
    # What Twilio was sent: the profile assigned to the ISV's primary profile, the number
    # in the service, the campaign's samples and generated terms page.
    service = fake.registrations.services[registration.messaging_service_sid]
    assert world.phone_number.twilio_sid in service["_numbers"]
    campaign = fake.registrations.campaigns[registration.campaign_sid]
    assert campaign["message_samples"] == DETAILS["samples"]
    assert campaign["has_embedded_links"] is False and campaign["has_embedded_phone"] is False
    assert campaign["opt_out_keywords"][0] == "STOP" and campaign["help_keywords"][0] == "HELP"
    assert f"/c/{registration.public_token}/sms-terms" in campaign["privacy_policy_url"]
    profile = fake.registrations.profiles[registration.customer_profile_sid]
    assert "BU" + "0" * 31 + "1" in profile["_assigned"]


def test_rejection_fix_and_resubmit_keeps_one_brand(world, fake, clock):
    fake.set_registration_outcome("fail:30799")
    _submit(world)
    registration = _run(clock)
    clock.advance(15 * 60)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.REJECTED
    assert registration.failure_code == 30799
    assert "legal name does not match the EIN" in registration.failure_reason
    assert registration.failed_step == "brand_review"
    assert "Texting is not on yet" in reg.blocked_sentence(company=world, registration=registration)

    fake.set_registration_outcome("approve")
    _submit(world, legal_name="Lone Star Plumbing, LLC")
    registration = _run(clock)
    business = fake.registrations.end_users[registration.business_end_user_sid]
    assert business["attributes"]["business_name"] == "Lone Star Plumbing, LLC"
    assert registration.brand_status in ("PENDING", "APPROVED", "IN_REVIEW")
    clock.advance(15 * 60)
    registration = _run(clock, rounds=2)
    clock.advance(15 * 60)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.APPROVED
    assert fake.registrations.created["brand"] == 1
    assert fake.registrations.created["customer_profile"] == 1


def test_campaign_rejection_replaces_only_the_campaign(world, fake, clock):
    fake.set_registration_outcome("fail:30544:campaign")
    _submit(world)
    _run(clock)
    clock.advance(15 * 60)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.REJECTED
    assert registration.failure_code == 30544
    fake.set_registration_outcome("approve")
    _submit(
        world,
        message_flow="Customers agree on the phone to texts about their jobs: "
        "confirmations, reminders and invoices.",
    )
    registration = _run(clock)
    assert registration.status == RegistrationStatus.APPROVED
    assert fake.registrations.created["brand"] == 1
    assert fake.registrations.created["campaign"] == 2
    assert len(fake.registrations.campaigns) == 1


def test_crash_after_each_step_creates_nothing_twice(world, fake, clock):
    """After every step, the next step's Twilio call is made and the process dies before
    its commit; the retry must find what that call created instead of creating it again."""
    fake.set_registration_outcome("approve")
    _submit(world)
    crashes = 0
    for _ in range(60):
        registration = db.session.scalars(db.select(MessagingRegistration)).one()
        if registration.status == RegistrationStatus.APPROVED:
            break
        registration.next_poll_at = clock()
        db.session.commit()
        reg.advance_registration(registration=registration, now=clock())
        db.session.rollback()  # the crash: Twilio did it, the row does not know
        crashes += 1
        reg.advance_registration(
            registration=db.session.get(MessagingRegistration, registration.id), now=clock()
        )
        db.session.commit()
    assert registration.status == RegistrationStatus.APPROVED
    assert crashes > 15
    created = fake.registrations.created
    for kind in ("customer_profile", "trust_product", "brand", "messaging_service", "campaign"):
        assert created[kind] == 1, (kind, created)
    assert len(fake.registrations.brands) == 1
    assert len(fake.registrations.campaigns) == 1


def test_sole_proprietor_confirms_by_text(world, fake, clock):
    fake.set_registration_outcome("approve")
    _submit(world, kind="10dlc_sole_prop", ein="", business_type="")
    registration = _run(clock)
    assert registration.brand_sid and registration.brand_status == "PENDING"
    otp = [m for m in fake.messages.values() if m.from_ == OTP_SENDER]
    assert len(otp) == 1 and otp[0].to == DETAILS["mobile_phone"]
    assert "reply YES" in otp[0].body

    reg.resend_confirmation(company=world, now=clock())
    db.session.commit()
    assert len([m for m in fake.messages.values() if m.from_ == OTP_SENDER]) == 2

    clock.advance(15 * 60)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.PENDING  # not confirmed yet
    fake.send_inbound_sms(from_=DETAILS["mobile_phone"], to=OTP_SENDER, body="YES")
    clock.advance(30 * 60)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.APPROVED
    assert registration.campaign_use_case == "SOLE_PROPRIETOR"
    assert fake.registrations.brands[registration.brand_sid]["brand_type"] == "SOLE_PROPRIETOR"


def test_toll_free_verification(make, fake, clock):
    company = make.company("Toll Free Plumbing", registered=False)
    bought = gateway.buy_number(
        phone_number="+18885550123", sms_url="https://a.example/s", voice_url="https://a.example/v"
    )
    db.session.add(PhoneNumber(company_id=company.id, e164=bought.e164, twilio_sid=bought.sid))
    db.session.commit()
    fake.set_registration_outcome("approve_after:3600")
    _submit(company, kind="toll_free")
    registration = _run(clock)
    assert registration.tollfree_verification_sid.startswith("HH")
    assert registration.brand_sid is None
    assert registration.status == RegistrationStatus.PENDING
    clock.advance(15 * 60)
    assert _run(clock).status == RegistrationStatus.PENDING
    clock.advance(60 * 60)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.APPROVED
    assert fake.registrations.created["tollfree_verification"] == 1


def test_submit_needs_the_custom_number_first(make, fake):
    company = make.company("No Number Yet", registered=False)
    with pytest.raises(reg.RegistrationRefused, match="custom number first"):
        _submit(company)
    assert fake.requests == []


def test_toll_free_refused_for_a_local_number(world):
    with pytest.raises(reg.RegistrationRefused, match="toll-free custom number"):
        _submit(world, kind="toll_free")


def test_attach_existing_messaging_service(world, fake, clock):
    service = trust_hub.create_messaging_service(
        friendly_name="Registered in the console",
        inbound_url="https://x.example/sms",
        status_callback="https://x.example/status",
    )
    registration = reg.attach_messaging_service(company=world, service_sid=service.sid, now=clock())
    db.session.commit()
    assert registration.status == RegistrationStatus.ATTACHED
    assert reg.may_text(world)
    assert world.phone_number.twilio_sid in fake.registrations.services[service.sid]["_numbers"]


@pytest.mark.parametrize(
    ("sid", "message"),
    [("MG123", "MG followed by 32"), ("MG" + "a" * 32, "no Messaging Service")],
)
def test_attach_refuses_unknown_or_malformed_service(world, sid, message):
    with pytest.raises(reg.RegistrationRefused, match=message):
        reg.attach_messaging_service(company=world, service_sid=sid, now=reg_now())


def test_polling_backs_off_from_15_minutes_to_6_hours(world, fake, clock):
    fake.set_registration_outcome("pending")
    _submit(world)
    registration = _run(clock)
    waits = []
    for _ in range(8):
        waits.append(registration.next_poll_at - clock())
        clock.advance((registration.next_poll_at - clock()).total_seconds())
        registration = _run(clock)
    minutes = [int(w.total_seconds() // 60) for w in waits]
    assert minutes == [15, 30, 60, 120, 240, 360, 360, 360]
    # Not due: nothing is asked of Twilio.
    before = len(fake.requests)
    reg.work_due_registrations(now=clock())
    assert len(fake.requests) == before


def test_twilio_down_puts_the_step_off_without_losing_it(world, fake, clock):
    fake.set_registration_outcome("approve")
    fake.faults.append(_Fault(status=503, remaining=1, path_contains="/v1/CustomerProfiles"))
    _submit(world)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.IN_PROGRESS
    assert registration.customer_profile_sid is None
    assert registration.next_poll_at == clock() + timedelta(minutes=1)
    clock.advance(60)
    registration = _run(clock)
    assert registration.brand_sid is not None


def test_two_workers_never_advance_the_same_registration(world, fake, clock):
    """A second worker finds the registration claimed and leaves it alone; once the first
    worker's lease runs out (it died), the next one resumes from the stored SIDs."""
    from app.services.registration.flow import CLAIM_LEASE, claim_registration

    fake.set_registration_outcome("approve")
    registration = _submit(world)
    assert claim_registration(registration_id=registration.id, now=clock())
    assert not claim_registration(registration_id=registration.id, now=clock())
    assert reg.work_due_registrations(now=clock()) == 0
    assert fake.registrations.created["customer_profile"] == 0

    clock.advance(CLAIM_LEASE.total_seconds() + 1)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.APPROVED
    assert fake.registrations.created["brand"] == 1


def test_toll_free_rejection_is_edited_not_recreated(make, fake, clock):
    company = make.company("Toll Free Again", registered=False)
    bought = gateway.buy_number(
        phone_number="+18885550124", sms_url="https://a.example/s", voice_url="https://a.example/v"
    )
    db.session.add(PhoneNumber(company_id=company.id, e164=bought.e164, twilio_sid=bought.sid))
    db.session.commit()
    fake.set_registration_outcome("fail:30532")
    _submit(company, kind="toll_free")
    registration = _run(clock)
    clock.advance(15 * 60)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.REJECTED
    assert registration.failure_code == 30532
    fake.set_registration_outcome("approve")
    _submit(
        company,
        kind="toll_free",
        description="Appointment confirmations, reminders and invoices for booked jobs.",
    )
    registration = _run(clock)
    assert registration.status == RegistrationStatus.APPROVED
    assert fake.registrations.created["tollfree_verification"] == 1
    verification = fake.registrations.tollfree[registration.tollfree_verification_sid]
    assert verification["use_case_summary"].startswith("Appointment confirmations")


@pytest.mark.parametrize("outcome", ["fail:30799", "fail:30544:campaign"])
def test_crash_during_fix_and_resubmit_creates_nothing_twice(world, fake, clock, outcome):
    fake.set_registration_outcome(outcome)
    _submit(world)
    _run(clock)
    clock.advance(15 * 60)
    assert _run(clock).status == RegistrationStatus.REJECTED
    fake.set_registration_outcome("approve")
    _submit(world, legal_name="Lone Star Plumbing, LLC")
    for _ in range(40):
        registration = db.session.scalars(db.select(MessagingRegistration)).one()
        if registration.status != RegistrationStatus.IN_PROGRESS:
            break
        reg.advance_registration(registration=registration, now=clock())
        db.session.rollback()  # the crash after Twilio answered
        reg.advance_registration(
            registration=db.session.get(MessagingRegistration, registration.id), now=clock()
        )
        db.session.commit()
    assert registration.status == RegistrationStatus.APPROVED, registration.failure_reason
    assert fake.registrations.created["brand"] == 1
    assert len(fake.registrations.campaigns) == 1


def test_the_worker_hook_takes_a_few_steps_per_round(world, fake, clock):
    """The outbox worker's hook: at most WORKER_STEP_BUDGET steps a round, the rest at the
    next round (a minute later), until the registration waits for its review."""
    from app.services.registration import flow
    from app.worker.periodic import Schedule

    fake.set_registration_outcome("pending")
    _submit(world)
    schedule = Schedule()
    taken = schedule.run_due(now=clock(), commits=True)["registrations"]
    assert taken == flow.WORKER_STEP_BUDGET
    registration = db.session.scalars(db.select(MessagingRegistration)).one()
    assert registration.messaging_service_sid is None
    assert registration.status == RegistrationStatus.IN_PROGRESS
    assert registration.next_poll_at == clock()
    assert "registrations" not in schedule.run_due(now=clock(), commits=True)  # once a minute
    rounds = 1
    while registration.status == RegistrationStatus.IN_PROGRESS and rounds < 10:
        clock.advance(60)
        schedule.run_due(now=clock(), commits=True)
        db.session.refresh(registration)
        rounds += 1
    assert registration.status == RegistrationStatus.PENDING
    assert registration.brand_sid and registration.messaging_service_sid
    assert rounds == 2


def test_suggested_samples_come_from_enabled_templates_with_brackets(make):
    from app.services.message_templates import set_template_enabled

    company = make.company("Bracket Plumbing", registered=False)
    before = reg.suggested_details(company=company, actor=company.owner)["samples"]
    set_template_enabled(company=company, kind="job_finished", enabled=False)
    suggested = reg.suggested_details(company=company, actor=company.owner)
    samples = suggested["samples"]
    (gone,) = [s for s in before if s not in samples]  # the disabled template's sample
    assert "finished" in gone.lower() or "done" in gone.lower() or "thank" in gone.lower()
    assert 2 <= len(samples) <= 5
    assert all("{" not in s for s in samples)
    assert any("[" in s and "]" in s for s in samples)
    assert any("Bracket Plumbing" in s for s in samples)
    assert f"/c/{company.registration.public_token}/sms-terms" in suggested["message_flow"]
    reg.validate_details(kind="10dlc_standard", data={**DETAILS, "samples": samples})


def test_trust_hub_callbacks_report_a_rejected_profile_then_fix(world, fake, clock):
    """Trust Hub tells the app (signed StatusCallback) that the business profile was
    rejected; the registration says why; fix and resubmit sends the same profile back."""
    fake.set_registration_outcome("fail:30799:profile")
    _submit(world)
    registration = _run(clock)
    delivered = fake.run_all_callbacks()
    assert delivered >= 2
    hooks = [w for w in fake.webhooks if w.url.endswith("/webhooks/twilio/trusthub")]
    assert {w.status for w in hooks} == {204}
    assert {w.form["Status"] for w in hooks} >= {"pending-review", "twilio-rejected"}
    db.session.expire_all()
    registration = db.session.scalars(db.select(MessagingRegistration)).one()
    # The brand fails with the profile (whichever the app hears of first).
    assert registration.status == RegistrationStatus.REJECTED
    assert registration.customer_profile_status == "twilio-rejected"
    assert registration.brand_status == "FAILED"
    assert registration.failure_code == 30799

    fake.set_registration_outcome("approve")
    _submit(world, legal_name="Lone Star Plumbing, LLC")
    registration = _run(clock)
    fake.run_all_callbacks()
    clock.advance(15 * 60)
    registration = _run(clock, rounds=2)
    assert registration.status == RegistrationStatus.APPROVED, registration.failure_reason
    assert fake.registrations.created["customer_profile"] == 1
    assert fake.registrations.created["brand"] == 1


def test_a_profile_rejected_while_waiting_is_reported_by_the_callback(world, fake, clock):
    """The callback is what tells the app when nothing else would (the brand is not yet
    looked at again for 15 minutes)."""
    fake.set_registration_outcome("approve_after:600")
    _submit(world)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.PENDING
    profile = fake.registrations.profiles[registration.customer_profile_sid]
    profile["_outcome"] = reg_outcome("fail:30799:profile")
    fake.registrations._settle(profile)
    fake.run_all_callbacks()
    db.session.expire_all()
    registration = db.session.scalars(db.select(MessagingRegistration)).one()
    assert registration.status == RegistrationStatus.REJECTED
    assert registration.failed_step == "profile_review"
    assert registration.failure_reason.startswith("Twilio did not approve the business profile")


def reg_outcome(text):
    from app.sms.fake_twilio.registration import parse_outcome

    return parse_outcome(text)


def test_once_approved_texts_go_through_the_service_and_are_delivered(
    world, fake, clock, dispatcher, make
):
    from app.models import Message
    from app.services.texting import queue_text

    fake.set_registration_outcome("approve")
    fake.enforce_registration = True  # carriers block what is not in an approved campaign
    _submit(world)
    registration = _run(clock)
    assert registration.status == RegistrationStatus.APPROVED
    customer = make.customer(world, phone="+15125550177")
    message = queue_text(company=world, to_phone=customer.mobile_phone, body="Hi!", kind="reply")
    db.session.commit()
    dispatcher().run_once()
    fake.run_all_callbacks()
    db.session.expire_all()
    sent = db.session.get(Message, message.id)
    assert sent.status == "delivered", sent.error_code
    (remote,) = [m for m in fake.outbound() if m.to == "+15125550177"]
    assert remote.messaging_service_sid == registration.messaging_service_sid
    assert remote.from_ == world.phone_number.e164


def test_placeholders_for_links_and_phones_are_declared(world, fake, clock):
    fake.set_registration_outcome("approve")
    samples = [
        "Lone Star Plumbing: here is your invoice: [invoice link]. Reply STOP to opt out.",
        "Lone Star Plumbing: questions? Call [business phone]. Reply STOP to opt out.",
    ]
    _submit(world, samples=samples)
    registration = _run(clock)
    campaign = fake.registrations.campaigns[registration.campaign_sid]
    assert campaign["has_embedded_links"] is True and campaign["has_embedded_phone"] is True

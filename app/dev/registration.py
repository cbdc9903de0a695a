"""/dev/registration (only with the fake Twilio): what the Pro and Twilio's reviewers would
see elsewhere. The owner's phone gets The Campaign Registry's confirmation text and can answer
it; the "reviewer" can approve or reject this company's brand, campaign or toll-free
verification now instead of waiting for FAKE_TWILIO_REGISTRATION's outcome."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.access import manager_required
from app.dev import bp
from app.extensions import db
from app.models import utcnow
from app.services import registration as registration_service
from app.sms.fake_twilio import fake_twilio
from app.sms.fake_twilio.registration import OTP_SENDER, parse_outcome


@bp.get("/registration")
@manager_required
def registration_review():
    company = current_user.company
    registration = registration_service.registration_for(company)
    fake = fake_twilio()
    mobile = (registration.details or {}).get("mobile_phone")
    with fake.lock:
        texts = sorted(
            (
                m
                for m in fake.messages.values()
                if mobile and OTP_SENDER in (m.from_, m.to) and mobile in (m.from_, m.to)
            ),
            key=lambda m: m.date_created,
        )
        reg = fake.registrations
        brand = (
            reg.brand_json(reg.brands[registration.brand_sid])
            if registration.brand_sid in reg.brands
            else None
        )
        campaign = (
            reg.campaign_json(reg.campaigns[registration.campaign_sid])
            if registration.campaign_sid in reg.campaigns
            else None
        )
        verification = (
            reg.tollfree_json(reg.tollfree[registration.tollfree_verification_sid])
            if registration.tollfree_verification_sid in reg.tollfree
            else None
        )
        outcome = str(reg.outcome)
    db.session.commit()
    return render_template(
        "dev/registration.html",
        registration=registration,
        texts=texts,
        mobile=mobile,
        otp_sender=OTP_SENDER,
        brand=brand,
        campaign=campaign,
        verification=verification,
        outcome=outcome,
    )


@bp.post("/registration/answer")
@manager_required
def registration_answer():
    registration = registration_service.registration_for(current_user.company)
    mobile = (registration.details or {}).get("mobile_phone")
    answer = "YES" if request.form.get("answer") == "YES" else "NO"
    if mobile:
        fake_twilio().send_inbound_sms(from_=mobile, to=OTP_SENDER, body=answer)
        registration_service.check_now(company=current_user.company, now=utcnow())
        db.session.commit()
    return redirect(url_for("dev.registration_review"))


@bp.post("/registration/review")
@manager_required
def registration_decide():
    """Decide this company's pending review now, as Twilio's reviewers would."""
    registration = registration_service.registration_for(current_user.company)
    decision = request.form.get("decision", "approve")
    code = request.form.get("code", "30799").strip() or "30799"
    target = request.form.get("target", "brand")
    try:
        outcome = parse_outcome(
            "approve" if decision == "approve" else f"fail:{int(code)}:{target}"
        )
    except ValueError:
        flash("The code must be a number, like 30799.", "error")
        return redirect(url_for("dev.registration_review"))
    fake = fake_twilio()
    with fake.lock:
        reg = fake.registrations
        for sid, table in (
            (registration.brand_sid, reg.brands),
            (registration.campaign_sid, reg.campaigns),
            (registration.tollfree_verification_sid, reg.tollfree),
        ):
            if sid in table:
                table[sid]["_outcome"] = outcome
                table[sid]["_since"] = fake.clock()
    registration_service.check_now(company=current_user.company, now=utcnow())
    db.session.commit()
    flash("Decided. The worker looks at the registration within a minute.", "success")
    return redirect(url_for("dev.registration_review"))


@bp.post("/registration/check")
@manager_required
def registration_check():
    """Have the worker look at Twilio at its next round instead of the next poll."""
    registration_service.check_now(company=current_user.company, now=utcnow())
    db.session.commit()
    flash("The worker looks at Twilio within a minute.", "success")
    return redirect(url_for("dev.registration_review"))

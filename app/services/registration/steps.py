"""The steps of the ISV flow, one Twilio write each (see the package's docstring)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from app.extensions import db
from app.models import (
    MessagingRegistration,
    RegistrationKind,
    RegistrationStatus,
)
from app.services.registration.records import (
    BRAND_APPROVED,
    BRAND_FAILED,
    CAMPAIGN_APPROVED,
    CAMPAIGN_FAILED,
    CONTINUE,
    DONE,
    POLL_FIRST,
    POLL_MAX,
    TOLLFREE_APPROVED,
    TOLLFREE_FAILED,
    WAIT,
    number_of,
)
from app.sms import gateway, trust_hub
from app.sms.error_codes import error_explanation

log = logging.getLogger(__name__)


def doing(registration: MessagingRegistration, step: str) -> None:
    # The step being attempted, named in the rejection when Twilio refuses it (a plain
    # attribute of this object, not a column).
    registration._step = step


def reject(
    registration: MessagingRegistration,
    now: datetime,
    *,
    step: str,
    code: int | None,
    reason: str,
) -> None:
    registration.status = RegistrationStatus.REJECTED
    registration.failure_code = code
    registration.failure_reason = reason
    registration.failed_step = step
    registration.next_poll_at = None
    db.session.flush()
    log.info("registration %s rejected at %s: %s %s", registration.id, step, code, reason)


def _wait(registration: MessagingRegistration, now: datetime) -> str:
    """Poll again later: 15 minutes at first, doubling up to 6 hours."""
    interval = registration.poll_interval_seconds
    interval = (
        int(POLL_FIRST.total_seconds())
        if not interval
        else min(interval * 2, int(POLL_MAX.total_seconds()))
    )
    registration.poll_interval_seconds = interval
    registration.next_poll_at = now + timedelta(seconds=interval)
    registration.status = RegistrationStatus.PENDING
    return WAIT


def _reset_wait(registration: MessagingRegistration) -> None:
    registration.poll_interval_seconds = None


def _friendly(registration: MessagingRegistration, what: str) -> str:
    # Stable and unique per company: how a lost answer's resource is found again.
    return f"ProSMS company {registration.company_id} {what} {registration.public_token}"


def _email(registration: MessagingRegistration) -> str:
    details = registration.details
    return (
        current_app.config.get("REGISTRATION_NOTIFICATION_EMAIL")
        or details.get("rep_email")
        or "registration@example.com"
    )


def _business_attributes(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "business_name": details["legal_name"],
        "business_identity": "direct_customer",
        "business_type": details.get("business_type") or "Limited Liability Corporation",
        "business_industry": details["industry"],
        "business_registration_identifier": "EIN",
        "business_registration_number": details["ein"].replace("-", ""),
        "business_regions_of_operation": "USA_AND_CANADA",
        "website_url": details["website"],
        "social_media_profile_urls": "",
    }


def _representative_attributes(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "first_name": details["rep_first_name"],
        "last_name": details["rep_last_name"],
        "email": details["rep_email"],
        "phone_number": details["rep_phone"],
        "business_title": details.get("rep_title") or "Owner",
        "job_position": "Director",
    }


def _starter_attributes(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "first_name": details["rep_first_name"],
        "last_name": details["rep_last_name"],
        "email": details["rep_email"],
        "phone_number": details["rep_phone"],
    }


def _a2p_attributes(registration: MessagingRegistration) -> dict[str, Any]:
    details = registration.details
    if registration.kind == RegistrationKind.SOLE_PROP:
        return {
            "brand_name": details["legal_name"],
            "vertical": details["industry"],
            "mobile_phone_number": details["mobile_phone"],
            "first_name": details["rep_first_name"],
            "last_name": details["rep_last_name"],
        }
    return {"company_type": "private"}


def _address_kwargs(details: dict[str, Any]) -> dict[str, str]:
    return {
        "customer_name": details["legal_name"],
        "street": details["street"],
        "city": details["city"],
        "region": details["state"],
        "postal_code": details["postal_code"],
    }


def _profile_policy(registration: MessagingRegistration) -> str:
    if registration.kind == RegistrationKind.SOLE_PROP:
        return trust_hub.STARTER_PROFILE_POLICY
    return trust_hub.SECONDARY_PROFILE_POLICY


def _product_policy(registration: MessagingRegistration) -> str:
    if registration.kind == RegistrationKind.SOLE_PROP:
        return trust_hub.SOLE_PROP_A2P_POLICY
    return trust_hub.A2P_PROFILE_POLICY


def _primary_profile_sid() -> str:
    sid = current_app.config.get("TWILIO_PRIMARY_CUSTOMER_PROFILE_SID")
    if sid:
        return sid
    if current_app.config.get("TWILIO_FAKE"):
        from app.sms.fake_twilio.registration import PRIMARY_PROFILE_SID

        return PRIMARY_PROFILE_SID
    raise gateway.PermanentGatewayError(
        "TWILIO_PRIMARY_CUSTOMER_PROFILE_SID is not set: the operator must create the "
        "deployment's primary customer profile once (docs/texting-registration.md)."
    )


def _trusthub_callback() -> str:
    # Trust Hub tells this URL when a profile's review ends (app/webhooks/trusthub.py).
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + "/webhooks/twilio/trusthub"


def _public_urls(registration: MessagingRegistration) -> tuple[str, str]:
    details = registration.details
    if details.get("use_generated_terms"):
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        page = f"{base}/c/{registration.public_token}/sms-terms"
        return f"{page}#privacy", f"{page}#terms"
    return details["privacy_url"], details["terms_url"]


def next_step(registration: MessagingRegistration, now: datetime) -> tuple[str, str]:
    """(step name, outcome) of the one step taken."""
    company = registration.company
    details = registration.details
    kind = registration.kind
    sole_prop = kind == RegistrationKind.SOLE_PROP

    # -- corrections after "fix and resubmit" --------------------------------------------
    todo = list(registration.todo_steps or [])
    if todo:
        step = todo[0]
        doing(registration, step)
        if step == "update_business":
            attrs = _starter_attributes(details) if sole_prop else _business_attributes(details)
            trust_hub.update_end_user(sid=registration.business_end_user_sid, attributes=attrs)
        elif step == "update_representative":
            trust_hub.update_end_user(
                sid=registration.representative_end_user_sid,
                attributes=_representative_attributes(details),
            )
        elif step == "update_address":
            trust_hub.update_address(sid=registration.address_sid, **_address_kwargs(details))
        elif step == "update_a2p_profile":
            trust_hub.update_end_user(
                sid=registration.a2p_end_user_sid, attributes=_a2p_attributes(registration)
            )
        elif step in ("resubmit_profile", "resubmit_a2p_profile"):
            # Corrected end users and address go back to Trust Hub's review.
            if step == "resubmit_profile":
                sid, fetch, submit = (
                    registration.customer_profile_sid,
                    trust_hub.fetch_customer_profile,
                    trust_hub.submit_customer_profile,
                )
            else:
                sid, fetch, submit = (
                    registration.trust_product_sid,
                    trust_hub.fetch_trust_product,
                    trust_hub.submit_trust_product,
                )
            bundle = fetch(sid)
            if bundle.status == "twilio-rejected":
                bundle = submit(sid)
            if step == "resubmit_profile":
                registration.customer_profile_status = bundle.status
            else:
                registration.trust_product_status = bundle.status
        elif step == "resubmit_brand":
            # Looked at first: after a lost answer the brand may be under review already,
            # and resubmitting it again would be refused.
            brand = trust_hub.fetch_brand(registration.brand_sid)
            if brand.status in BRAND_FAILED:
                brand = trust_hub.resubmit_brand(registration.brand_sid)
            registration.brand_status = brand.status
            _reset_wait(registration)
        elif step == "replace_campaign":
            if registration.campaign_sid:
                try:
                    trust_hub.delete_campaign(
                        service_sid=registration.messaging_service_sid,
                        sid=registration.campaign_sid,
                    )
                except gateway.PermanentGatewayError as error:
                    if error.status != 404:  # 404: deleted by an earlier attempt
                        raise
            registration.campaign_sid = None
            registration.campaign_status = None
            _reset_wait(registration)
        elif step == "resubmit_tollfree":
            verification = trust_hub.fetch_tollfree_verification(
                registration.tollfree_verification_sid
            )
            if verification.status in TOLLFREE_FAILED:
                verification = trust_hub.resubmit_tollfree_verification(
                    sid=registration.tollfree_verification_sid,
                    business_name=details["legal_name"],
                    website=details["website"],
                    use_case_summary=details["description"] or details["message_flow"],
                    message_sample=details["samples"][0],
                )
            registration.tollfree_status = verification.status
            _reset_wait(registration)
        registration.finish_todo(step)
        return step, CONTINUE

    # -- Trust Hub: the secondary customer profile ------------------------------------------
    if not registration.customer_profile_sid:
        doing(registration, "customer_profile")
        name = _friendly(registration, "profile")
        profile = trust_hub.find_customer_profile(name) or trust_hub.create_customer_profile(
            friendly_name=name,
            email=_email(registration),
            policy_sid=_profile_policy(registration),
            status_callback=_trusthub_callback(),
        )
        registration.customer_profile_sid = profile.sid
        registration.customer_profile_status = profile.status
        return "customer_profile", CONTINUE
    if not registration.business_end_user_sid:
        doing(registration, "business_information")
        if sole_prop:
            sid = trust_hub.create_end_user(
                type_="starter_customer_profile_information",
                friendly_name=_friendly(registration, "owner"),
                attributes=_starter_attributes(details),
            )
        else:
            sid = trust_hub.create_end_user(
                type_="customer_profile_business_information",
                friendly_name=_friendly(registration, "business"),
                attributes=_business_attributes(details),
            )
        registration.business_end_user_sid = sid
        return "business_information", CONTINUE
    if not sole_prop and not registration.representative_end_user_sid:
        doing(registration, "authorized_representative")
        registration.representative_end_user_sid = trust_hub.create_end_user(
            type_="authorized_representative_1",
            friendly_name=_friendly(registration, "representative"),
            attributes=_representative_attributes(details),
        )
        return "authorized_representative", CONTINUE
    if not registration.address_sid:
        doing(registration, "address")
        registration.address_sid = trust_hub.create_address(
            **_address_kwargs(details), iso_country="US"
        )
        return "address", CONTINUE
    if not registration.supporting_document_sid:
        doing(registration, "supporting_document")
        registration.supporting_document_sid = trust_hub.create_supporting_document(
            type_="customer_profile_address",
            friendly_name=_friendly(registration, "address document"),
            attributes={"address_sids": registration.address_sid},
        )
        return "supporting_document", CONTINUE
    if not registration.has_done("profile_assigned"):
        doing(registration, "profile_assigned")
        wanted = [
            registration.business_end_user_sid,
            registration.representative_end_user_sid,
            registration.supporting_document_sid,
        ]
        if not sole_prop:
            wanted.append(_primary_profile_sid())
        present = trust_hub.customer_profile_assignments(registration.customer_profile_sid)
        for sid in wanted:
            if sid and sid not in present:
                trust_hub.assign_to_customer_profile(
                    profile_sid=registration.customer_profile_sid, object_sid=sid
                )
        registration.mark_done("profile_assigned")
        return "profile_assigned", CONTINUE
    if not registration.has_done("profile_submitted"):
        sid = registration.customer_profile_sid
        return _submit_bundle(
            registration,
            now,
            step="profile_submitted",
            what="business profile",
            status_attr="customer_profile_status",
            fetch=lambda: trust_hub.fetch_customer_profile(sid),
            evaluate=lambda: trust_hub.evaluate_customer_profile(
                profile_sid=sid, policy_sid=_profile_policy(registration)
            ),
            submit=lambda: trust_hub.submit_customer_profile(sid),
        )

    if kind == RegistrationKind.TOLL_FREE:
        return _toll_free_steps(registration, now)

    # -- Trust Hub: the A2P messaging profile -----------------------------------------------------
    if not registration.trust_product_sid:
        doing(registration, "a2p_profile")
        name = _friendly(registration, "a2p")
        product = trust_hub.find_trust_product(name) or trust_hub.create_trust_product(
            friendly_name=name,
            email=_email(registration),
            policy_sid=_product_policy(registration),
            status_callback=_trusthub_callback(),
        )
        registration.trust_product_sid = product.sid
        registration.trust_product_status = product.status
        return "a2p_profile", CONTINUE
    if not registration.a2p_end_user_sid:
        doing(registration, "a2p_profile_information")
        registration.a2p_end_user_sid = trust_hub.create_end_user(
            type_=(
                "sole_proprietor_information"
                if sole_prop
                else "us_a2p_messaging_profile_information"
            ),
            friendly_name=_friendly(registration, "a2p information"),
            attributes=_a2p_attributes(registration),
        )
        return "a2p_profile_information", CONTINUE
    if not registration.has_done("a2p_assigned"):
        doing(registration, "a2p_assigned")
        present = trust_hub.trust_product_assignments(registration.trust_product_sid)
        for sid in (registration.a2p_end_user_sid, registration.customer_profile_sid):
            if sid not in present:
                trust_hub.assign_to_trust_product(
                    product_sid=registration.trust_product_sid, object_sid=sid
                )
        registration.mark_done("a2p_assigned")
        return "a2p_assigned", CONTINUE
    if not registration.has_done("a2p_submitted"):
        sid = registration.trust_product_sid
        return _submit_bundle(
            registration,
            now,
            step="a2p_submitted",
            what="messaging profile",
            status_attr="trust_product_status",
            fetch=lambda: trust_hub.fetch_trust_product(sid),
            evaluate=lambda: trust_hub.evaluate_trust_product(
                product_sid=sid, policy_sid=_product_policy(registration)
            ),
            submit=lambda: trust_hub.submit_trust_product(sid),
        )

    # -- the brand --------------------------------------------------------------------------------
    if not registration.brand_sid:
        doing(registration, "brand")
        brand = trust_hub.find_brand(registration.customer_profile_sid) or trust_hub.create_brand(
            customer_profile_sid=registration.customer_profile_sid,
            a2p_profile_sid=registration.trust_product_sid,
            brand_type="SOLE_PROPRIETOR" if sole_prop else "STANDARD",
            # Low-Volume Standard: no secondary vetting (it costs extra and is not needed
            # for a business's own customer texts).
            skip_secondary_vetting=not sole_prop,
        )
        registration.brand_sid = brand.sid
        registration.brand_status = brand.status
        if sole_prop:
            registration.brand_otp_sent_at = now
        return "brand", CONTINUE

    # -- the Messaging Service (while the brand is reviewed) -------------------------------------
    service_step = _service_steps(registration)
    if service_step is not None:
        return service_step, CONTINUE

    # -- wait for the brand ---------------------------------------------------------------------
    if registration.brand_status not in BRAND_APPROVED:
        doing(registration, "brand_review")
        brand = trust_hub.fetch_brand(registration.brand_sid)
        registration.brand_status = brand.status
        if brand.status in BRAND_FAILED:
            code = brand.error_codes[0] if brand.error_codes else None
            reject(
                registration,
                now,
                step="brand_review",
                code=code,
                reason=error_explanation(code, brand.failure_reason)
                if code in _known_codes()
                else (brand.failure_reason or "The brand was not approved."),
            )
            return "brand_review", DONE
        if brand.status not in BRAND_APPROVED:
            return "brand_review", _wait(registration, now)
        _reset_wait(registration)
        registration.status = RegistrationStatus.IN_PROGRESS
        return "brand_review", CONTINUE

    # -- the campaign -----------------------------------------------------------------------------
    if not registration.campaign_sid:
        doing(registration, "campaign")
        service_sid = registration.messaging_service_sid
        campaign = trust_hub.find_campaign(service_sid)
        if campaign is None:
            allowed = trust_hub.campaign_use_cases(
                service_sid=service_sid, brand_sid=registration.brand_sid
            )
            preference = ("SOLE_PROPRIETOR",) if sole_prop else ("LOW_VOLUME", "MIXED")
            use_case = next((u for u in preference if u in allowed), allowed[0] if allowed else "")
            privacy, terms = _public_urls(registration)
            samples = details["samples"]
            campaign = trust_hub.create_campaign(
                service_sid=service_sid,
                brand_sid=registration.brand_sid,
                use_case=use_case,
                description=details["description"],
                message_flow=details["message_flow"],
                message_samples=samples,
                # Placeholders count: "[invoice link]" becomes a link, "[business phone]" a
                # phone number (carriers reject campaigns that under-declare either).
                has_embedded_links=any(re.search(r"https?://|link\]", s) for s in samples),
                has_embedded_phone=any(
                    re.search(r"\d{3}\D?\d{3}\D?\d{4}|phone\]", s) for s in samples
                ),
                opt_in_message=f"{details['legal_name']}: you'll get texts about your jobs. "
                "Msg & data rates may apply. Reply HELP for help, STOP to opt out.",
                opt_out_message=f"{details['legal_name']}: you won't get any more texts from "
                "us. Reply START to opt back in.",
                help_message=f"{details['legal_name']}: call us at {company.business_phone or ''}"
                " for help. Reply STOP to opt out. Msg & data rates may apply.",
                opt_in_keywords=["START", "YES", "UNSTOP"],
                opt_out_keywords=["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"],
                help_keywords=["HELP", "INFO"],
                privacy_policy_url=privacy,
                terms_url=terms,
            )
        registration.campaign_sid = campaign.sid
        registration.campaign_status = campaign.status
        registration.campaign_use_case = campaign.use_case
        _reset_wait(registration)
        return "campaign", CONTINUE
    doing(registration, "campaign_review")
    campaign = trust_hub.fetch_campaign(
        service_sid=registration.messaging_service_sid, sid=registration.campaign_sid
    )
    registration.campaign_status = campaign.status
    if campaign.status in CAMPAIGN_FAILED:
        code = campaign.error_codes[0] if campaign.error_codes else None
        reject(
            registration,
            now,
            step="campaign_review",
            code=code,
            reason=error_explanation(code, campaign.failure_reason)
            if code in _known_codes()
            else (campaign.failure_reason or "The campaign was not approved."),
        )
        return "campaign_review", DONE
    if campaign.status not in CAMPAIGN_APPROVED:
        return "campaign_review", _wait(registration, now)
    _approve(registration, now)
    return "campaign_review", DONE


def _known_codes() -> set[int]:
    from app.sms.error_codes import EXPLANATIONS

    return set(EXPLANATIONS)


def _approve(registration: MessagingRegistration, now: datetime) -> None:
    registration.status = RegistrationStatus.APPROVED
    registration.approved_at = now
    registration.next_poll_at = None
    registration.poll_interval_seconds = None
    log.info("registration %s approved: the company may text", registration.id)


def _service_steps(registration: MessagingRegistration) -> str | None:
    """Create the company's Messaging Service and put its number in it (one step per call)."""
    if not registration.messaging_service_sid:
        doing(registration, "messaging_service")
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        name = _friendly(registration, "service")
        service = trust_hub.find_messaging_service(name) or trust_hub.create_messaging_service(
            friendly_name=name,
            inbound_url=f"{base}/webhooks/twilio/sms",
            status_callback=f"{base}/webhooks/twilio/status",
        )
        registration.messaging_service_sid = service.sid
        return "messaging_service"
    if not registration.has_done("number_in_service"):
        doing(registration, "number_in_service")
        number = number_of(registration.company)
        if number is None:
            raise gateway.PermanentGatewayError(
                "The company has no custom number yet: set one up in Settings → Custom "
                "number, then retry."
            )
        trust_hub.add_number_to_service(
            service_sid=registration.messaging_service_sid, phone_number_sid=number.twilio_sid
        )
        registration.mark_done("number_in_service")
        return "number_in_service"
    return None


def _toll_free_steps(registration: MessagingRegistration, now: datetime) -> tuple[str, str]:
    details = registration.details
    service_step = _service_steps(registration)
    if service_step is not None:
        return service_step, CONTINUE
    if not registration.tollfree_verification_sid:
        doing(registration, "tollfree_verification")
        number = number_of(registration.company)
        assert number is not None  # _service_steps checked it
        verification = trust_hub.find_tollfree_verification(number.twilio_sid)
        if verification is None:
            privacy, _terms = _public_urls(registration)
            verification = trust_hub.create_tollfree_verification(
                phone_number_sid=number.twilio_sid,
                customer_profile_sid=registration.customer_profile_sid,
                business_name=details["legal_name"],
                website=details["website"],
                notification_email=_email(registration),
                use_case_summary=details["description"] or details["message_flow"],
                message_sample=details["samples"][0],
                opt_in_url=privacy.split("#")[0],
                opt_in_type=details["opt_in_method"],
                street=details["street"],
                city=details["city"],
                region=details["state"],
                postal_code=details["postal_code"],
                contact_first_name=details["rep_first_name"],
                contact_last_name=details["rep_last_name"],
                contact_email=details["rep_email"],
                contact_phone=details["rep_phone"],
            )
        registration.tollfree_verification_sid = verification.sid
        registration.tollfree_status = verification.status
        _reset_wait(registration)
        return "tollfree_verification", CONTINUE
    doing(registration, "tollfree_review")
    verification = trust_hub.fetch_tollfree_verification(registration.tollfree_verification_sid)
    registration.tollfree_status = verification.status
    if verification.status in TOLLFREE_FAILED:
        code = verification.error_code
        reject(
            registration,
            now,
            step="tollfree_review",
            code=code,
            reason=verification.rejection_reason or "The toll-free verification was rejected.",
        )
        return "tollfree_review", DONE
    if verification.status not in TOLLFREE_APPROVED:
        return "tollfree_review", _wait(registration, now)
    _approve(registration, now)
    return "tollfree_review", DONE


def _submit_bundle(
    registration: MessagingRegistration,
    now: datetime,
    *,
    step: str,
    what: str,
    status_attr: str,
    fetch: Callable[[], trust_hub.Bundle],
    evaluate: Callable[[], trust_hub.Evaluation],
    submit: Callable[[], trust_hub.Bundle],
) -> tuple[str, str]:
    """Evaluate a Trust Hub bundle (the business profile or the A2P messaging profile)
    against its policy and submit it for review; a failed evaluation rejects the
    registration with Twilio's reasons."""
    doing(registration, step)
    # Submitted already (an answer lost before the commit)? Then only note it.
    bundle = fetch()
    if bundle.status == "draft":
        evaluation = evaluate()
        if evaluation.status != "compliant":
            reject(
                registration,
                now,
                step=step,
                code=None,
                reason=f"Twilio found the {what} incomplete: " + "; ".join(evaluation.failures),
            )
            return step, DONE
        bundle = submit()
    setattr(registration, status_attr, bundle.status)
    registration.mark_done(step)
    return step, CONTINUE

"""The Pro's and the operator's actions: the wizard's input checked before anything is
sent to Twilio, submit / fix and resubmit, retry, reset, attach, resend the confirmation."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import (
    Company,
    MessagingRegistration,
    RegistrationKind,
    RegistrationStatus,
    User,
)
from app.services.registration.records import (
    BRAND_APPROVED,
    BRAND_FAILED,
    CAMPAIGN_FAILED,
    MG_SID,
    TOLL_FREE_AREA_CODES,
    TOLLFREE_FAILED,
    WIZARD_KINDS,
    RegistrationInvalid,
    RegistrationRefused,
    number_of,
    registration_for,
)
from app.sms import gateway, trust_hub

log = logging.getLogger(__name__)

# -- the wizard's input ----------------------------------------------------------------------------

# IRS EIN prefixes that have never been assigned (www.irs.gov, "How EINs are Assigned").
_EIN_UNUSED_PREFIXES = {
    "00", "07", "08", "09", "17", "18", "19", "28", "29", "49", "69", "70", "78", "79", "89",
    "96", "97",
}  # fmt: skip
_PO_BOX = re.compile(r"\b(p\.?\s*o\.?\s*box|post\s+office\s+box|pob\b|p\.?o\.?b\.?\s)", re.I)
US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN",
    "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH",
    "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT",
    "VT", "VA", "WA", "WV", "WI", "WY", "PR",
)  # fmt: skip
BUSINESS_TYPES = (
    "Limited Liability Corporation",
    "Corporation",
    "Partnership",
    "Co-operative",
    "Non-profit Corporation",
)
INDUSTRIES = (
    ("CONSTRUCTION", "Construction and home services"),
    ("REAL_ESTATE", "Real estate and property"),
    ("PROFESSIONAL", "Professional services"),
    ("RETAIL", "Retail"),
    ("ENERGY", "Energy and utilities"),
)
OPT_IN_METHODS = (
    ("VERBAL", "They agree by phone or in person when they book"),
    ("WEB_FORM", "They tick a box on our website's booking form"),
    ("PAPER_FORM", "They sign a paper work order or form"),
    ("VIA_TEXT", "They text us first"),
)
TEXT_FIELDS = (
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
    "rep_email",
    "rep_phone",
    "rep_title",
    "mobile_phone",
    "opt_in_method",
    "privacy_url",
    "terms_url",
    "description",
    "message_flow",
)


def normalize_ein(value: str) -> str | None:
    """'12-3456789' for a well-formed EIN with a prefix the IRS uses, else None."""
    digits = re.sub(r"[\s-]", "", value or "")
    if not re.fullmatch(r"\d{9}", digits) or digits[:2] in _EIN_UNUSED_PREFIXES:
        return None
    return f"{digits[:2]}-{digits[2:]}"


def _https(value: str) -> bool:
    return bool(re.fullmatch(r"https://[a-z0-9.-]+\.[a-z]{2,}(/\S*)?", value.strip(), re.I))


def _mobile(value: str) -> str | None:
    try:
        parsed = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_details(*, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    """The wizard's answers, cleaned; RegistrationInvalid with every field's problem."""
    clean: dict[str, Any] = {k: str(data.get(k) or "").strip() for k in TEXT_FIELDS}
    clean["use_generated_terms"] = bool(data.get("use_generated_terms"))
    samples = data.get("samples") or []
    if isinstance(samples, str):
        samples = samples.split("\n\n")
    clean["samples"] = [s.strip() for s in samples if s and s.strip()]
    errors: dict[str, str] = {}
    sole_prop = kind == RegistrationKind.SOLE_PROP

    if len(clean["legal_name"]) < 2:
        errors["legal_name"] = (
            "Enter the business's exact legal name, as on your IRS records."
            if not sole_prop
            else "Enter your business name."
        )
    if kind in (RegistrationKind.STANDARD, RegistrationKind.TOLL_FREE):
        ein = normalize_ein(clean["ein"])
        if ein is None:
            errors["ein"] = (
                "An EIN is 9 digits, like 12-3456789, and starts with a prefix the IRS "
                "assigns. No EIN? Choose 'No EIN, sole proprietor'."
            )
        else:
            clean["ein"] = ein
        if clean["business_type"] not in BUSINESS_TYPES:
            errors["business_type"] = "Choose the business type."
    else:
        clean["ein"] = ""
    if clean["industry"] not in dict(INDUSTRIES):
        errors["industry"] = "Choose the industry."
    if clean["website"] and not clean["website"].lower().startswith("http"):
        clean["website"] = "https://" + clean["website"]
    if (not sole_prop or clean["website"]) and not _https(clean["website"]):
        errors["website"] = (
            "Enter the business's website starting with https:// (carriers check it)."
        )
    if len(clean["street"]) < 3:
        errors["street"] = "Enter the street address."
    elif _PO_BOX.search(clean["street"]):
        errors["street"] = "Carriers refuse a PO box: enter the street address of the business."
    if len(clean["city"]) < 2:
        errors["city"] = "Enter the city."
    clean["state"] = clean["state"].upper()
    if clean["state"] not in US_STATES:
        errors["state"] = "Choose the state."
    if not re.fullmatch(r"\d{5}(-\d{4})?", clean["postal_code"]):
        errors["postal_code"] = "Enter a 5-digit ZIP code."
    if not clean["rep_first_name"]:
        errors["rep_first_name"] = "Enter the first name."
    if not clean["rep_last_name"]:
        errors["rep_last_name"] = "Enter the last name."
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]{2,}", clean["rep_email"], re.I):
        errors["rep_email"] = "Enter an email address."
    phone = _mobile(clean["rep_phone"])
    if phone is None:
        errors["rep_phone"] = "Enter a US phone number."
    else:
        clean["rep_phone"] = phone
    if sole_prop:
        mobile = _mobile(clean["mobile_phone"] or clean["rep_phone"])
        if mobile is None:
            errors["mobile_phone"] = "Enter your mobile number: the confirmation text goes there."
        else:
            clean["mobile_phone"] = mobile
    elif not clean["rep_title"]:
        errors["rep_title"] = "Enter the representative's job title."
    if clean["opt_in_method"] not in dict(OPT_IN_METHODS):
        errors["opt_in_method"] = "Choose how customers agree to receive texts."
    if not clean["use_generated_terms"]:
        if not _https(clean["privacy_url"]):
            errors["privacy_url"] = (
                "Enter your privacy policy's link (https://...), or use the page we generate."
            )
        if not _https(clean["terms_url"]):
            errors["terms_url"] = (
                "Enter your texting terms' link (https://...), or use the page we generate."
            )
    if len(clean["description"]) < 40:
        errors["description"] = "Describe what the texts are for in at least 40 characters."
    if len(clean["message_flow"]) < 40:
        errors["message_flow"] = (
            "Describe in at least 40 characters how customers agree to receive texts."
        )
    if not 2 <= len(clean["samples"]) <= 5:
        errors["samples"] = "Give 2 to 5 sample messages."
    elif any(len(s) < 20 or len(s) > 1024 for s in clean["samples"]):
        errors["samples"] = "Each sample must be 20 to 1024 characters."
    if errors:
        raise RegistrationInvalid(errors)
    return clean


# The wizard's three steps and the fields each one asks for.
STEP_FIELDS: dict[int, tuple[str, ...]] = {
    1: (
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
    ),
    2: ("opt_in_method", "use_generated_terms", "privacy_url", "terms_url"),
    3: ("description", "message_flow", "samples"),
}


def save_registration_step(
    *, company: Company, actor: User, step: int, kind: str | None, data: dict[str, Any]
) -> MessagingRegistration:
    """Keep one wizard step's answers as a draft (nothing goes to Twilio), or raise
    RegistrationInvalid naming that step's fields."""
    registration = registration_for(company)
    if registration.status not in (RegistrationStatus.NOT_STARTED, RegistrationStatus.REJECTED):
        raise RegistrationRefused("The registration can't be changed while Twilio reviews it.")
    fields = STEP_FIELDS.get(step)
    if fields is None:
        raise RegistrationRefused("There is no such step.")
    draft = dict(registration.details or suggested_details(company=company, actor=actor))
    draft.update({name: data.get(name) for name in fields})
    kind = kind or registration.kind
    if step == 1:
        _check_kind(company=company, registration=registration, kind=kind)
    try:
        validate_details(kind=kind, data=draft)
    except RegistrationInvalid as error:
        mine = {field: message for field, message in error.errors.items() if field in fields}
        if mine:
            raise RegistrationInvalid(mine) from error
    registration.kind = kind
    registration.details = draft
    db.session.flush()
    return registration


def _check_kind(*, company: Company, registration: MessagingRegistration, kind: str) -> None:
    if kind not in WIZARD_KINDS:
        raise RegistrationRefused("Choose how to register.", field="kind")
    number = number_of(company)
    if kind == RegistrationKind.TOLL_FREE and (
        number is None or number.e164[2:5] not in TOLL_FREE_AREA_CODES
    ):
        raise RegistrationRefused(
            "Toll-free verification needs a toll-free custom number (800, 833, 844, 855, 866, "
            "877 or 888). Your number is a local one: register it as a local number instead.",
            field="kind",
        )
    if (
        registration.status == RegistrationStatus.REJECTED
        and registration.customer_profile_sid
        and kind != registration.kind
    ):
        raise RegistrationRefused(
            "A registration that was sent keeps its kind; fix its details and resubmit.",
            field="kind",
        )


def suggested_details(*, company: Company, actor: User | None) -> dict[str, Any]:
    """What the wizard starts from: the company's profile, and a description, message flow
    and samples written from its enabled templates."""
    from app.services.message_templates import all_templates, render_text

    name = company.name
    samples: list[str] = []
    for template in all_templates(company=company):
        if not template.enabled:
            continue
        # Placeholders shown in brackets ("[customer first name]"), the company's name as is.
        values = {
            key: f"[{key.replace('_', ' ')}]" for key in re.findall(r"\{([a-z_]+)\}", template.body)
        }
        values["company_name"] = name
        text = render_text(body=template.body, values=values)
        if text and text not in samples:
            samples.append(text)
    samples = samples[:5]
    if len(samples) < 2:
        samples.append(
            f"{name}: thanks for your message, we'll reply shortly. Reply STOP to opt out."
        )
    first, _, last = (actor.name if actor else "").partition(" ")
    return {
        "legal_name": name,
        "website": company.website or "",
        "rep_first_name": first,
        "rep_last_name": last,
        "rep_email": (actor.email if actor else "") or company.email or "",
        "rep_phone": (getattr(actor, "mobile_phone", None) or company.business_phone or ""),
        "mobile_phone": getattr(actor, "mobile_phone", None) or "",
        "industry": "CONSTRUCTION",
        "opt_in_method": "VERBAL",
        "use_generated_terms": True,
        "description": (
            f"{name} is a home-service business. It texts its own customers about the jobs "
            "they booked: appointment confirmations, reminders, 'on my way' notices from the "
            "technician, job completion, estimates and invoices as links, and replies to "
            "the customers' questions."
        ),
        "message_flow": (
            f"Customers give their mobile number to {name} when they book a job by phone, "
            "in person or on the website, and agree to receive texts about their jobs. "
            f"The terms are published at {terms_url(company=company)}. Customers can reply "
            "STOP to opt out and HELP for help. Msg & data rates may apply."
        ),
        "samples": samples,
    }


def terms_url(*, company: Company) -> str:
    registration = registration_for(company)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return f"{base}/c/{registration.public_token}/sms-terms"


# -- the Pro's actions -----------------------------------------------------------------------------


def submit_registration(
    *, company: Company, actor: User, kind: str, data: dict[str, Any], now: datetime
) -> MessagingRegistration:
    """Validate the wizard's answers and hand the registration to the worker. A rejected
    registration is corrected in place ("fix and resubmit"): the same profile and brand,
    never a second one."""
    registration = registration_for(company)
    if registration.status in (RegistrationStatus.APPROVED, RegistrationStatus.ATTACHED):
        raise RegistrationRefused("Texting is already on for this company.")
    if registration.status in (RegistrationStatus.IN_PROGRESS, RegistrationStatus.PENDING):
        raise RegistrationRefused("The registration is already with Twilio; wait for its review.")
    _check_kind(company=company, registration=registration, kind=kind)
    if number_of(company) is None:
        # The Messaging Service and the campaign are for a number: it comes first.
        raise RegistrationRefused(
            "Set up your custom number first (Settings → Custom number): the registration "
            "is for that number."
        )
    clean = validate_details(kind=kind, data=data)
    resubmitting = registration.status == RegistrationStatus.REJECTED
    registration.kind = kind
    registration.details = {**clean, "submitted_by_id": actor.id}
    if resubmitting:
        _plan_fixes(registration)
    registration.status = RegistrationStatus.IN_PROGRESS
    registration.submitted_at = now
    registration.failure_code = None
    registration.failure_reason = None
    registration.failed_step = None
    registration.attempts = 0
    registration.next_poll_at = now
    registration.poll_interval_seconds = None
    db.session.flush()
    return registration


def _plan_fixes(registration: MessagingRegistration) -> None:
    """After a rejection: send the corrected details to what already exists, then ask for
    the rejected piece to be reviewed again."""
    fixes = []
    if registration.business_end_user_sid:
        fixes.append("update_business")
    if registration.representative_end_user_sid:
        fixes.append("update_representative")
    if registration.address_sid:
        fixes.append("update_address")
    if registration.a2p_end_user_sid:
        fixes.append("update_a2p_profile")
    if registration.customer_profile_status == "twilio-rejected":
        fixes.append("resubmit_profile")
    if registration.trust_product_status == "twilio-rejected":
        fixes.append("resubmit_a2p_profile")
    if registration.brand_status in BRAND_FAILED:
        fixes.append("resubmit_brand")
    if registration.campaign_status in CAMPAIGN_FAILED:
        fixes.append("replace_campaign")
    if registration.tollfree_status in TOLLFREE_FAILED:
        fixes.append("resubmit_tollfree")
    registration.todo_steps = fixes


def retry_registration(*, company: Company, now: datetime) -> MessagingRegistration:
    """The operator's `flask registration retry`: resume from where it stopped now (after
    an error, or to poll again without waiting)."""
    registration = registration_for(company)
    if registration.status in (RegistrationStatus.APPROVED, RegistrationStatus.ATTACHED):
        raise RegistrationRefused("Texting is already on for this company.")
    if not registration.details:
        raise RegistrationRefused("Nothing to retry: the registration was never submitted.")
    if registration.status == RegistrationStatus.REJECTED:
        # A rejected review is asked for again; anything else resumes where it stopped.
        _plan_fixes(registration)
    registration.status = RegistrationStatus.IN_PROGRESS
    registration.failure_code = None
    registration.failure_reason = None
    registration.failed_step = None
    registration.attempts = 0
    registration.next_poll_at = now
    db.session.flush()
    return registration


def reset_registration(*, company: Company) -> MessagingRegistration:
    """The operator's `flask registration reset`: back to not started (the company's texts
    stop until it registers). Twilio's resources are left as they are."""
    registration = registration_for(company)
    for column in MessagingRegistration.__table__.columns:
        if column.name.endswith(("_sid", "_status")) or column.name in (
            "failure_code",
            "failure_reason",
            "failed_step",
            "submitted_at",
            "approved_at",
            "next_poll_at",
            "poll_interval_seconds",
            "brand_otp_sent_at",
            "campaign_use_case",
        ):
            setattr(registration, column.key, None)
    registration.status = RegistrationStatus.NOT_STARTED
    registration.kind = RegistrationKind.STANDARD
    registration.done_steps = []
    registration.todo_steps = []
    registration.attempts = 0
    db.session.flush()
    return registration


def attach_messaging_service(
    *, company: Company, service_sid: str, now: datetime
) -> MessagingRegistration:
    """Use a Messaging Service the business registered in Twilio's console itself. It must
    exist on the account; the company's number is put in its pool if it is not there."""
    service_sid = (service_sid or "").strip()
    if not MG_SID.fullmatch(service_sid):
        raise RegistrationRefused(
            "A Messaging Service SID is MG followed by 32 letters and digits.",
            field="messaging_service",
        )
    try:
        service = trust_hub.fetch_messaging_service(service_sid)
    except gateway.PermanentGatewayError as error:
        if error.status == 404:
            raise RegistrationRefused(
                f"Twilio has no Messaging Service {service_sid} on this account.",
                field="messaging_service",
            ) from error
        raise RegistrationRefused(error.explanation, field="messaging_service") from error
    except gateway.GatewayError as error:
        raise RegistrationRefused(
            f"Twilio could not be reached ({error.message}); try again in a moment.",
            field="messaging_service",
        ) from error
    number = number_of(company)
    if number is not None and number.twilio_sid not in service.number_sids:
        try:
            trust_hub.add_number_to_service(
                service_sid=service_sid, phone_number_sid=number.twilio_sid
            )
        except gateway.GatewayError as error:
            raise RegistrationRefused(
                f"The company's number could not be added to {service_sid}: {error.explanation}",
                field="messaging_service",
            ) from error
    registration = registration_for(company)
    registration.kind = RegistrationKind.ATTACHED
    registration.status = RegistrationStatus.ATTACHED
    registration.messaging_service_sid = service_sid
    registration.approved_at = now
    registration.next_poll_at = None
    registration.failure_code = None
    registration.failure_reason = None
    db.session.flush()
    return registration


def resend_confirmation(*, company: Company, now: datetime) -> MessagingRegistration:
    """Sole Proprietor: text the confirmation to the owner's mobile again."""
    registration = registration_for(company)
    if registration.kind != RegistrationKind.SOLE_PROP or not registration.brand_sid:
        raise RegistrationRefused("There is no confirmation text to resend.")
    if registration.brand_status in BRAND_APPROVED:
        raise RegistrationRefused("The brand is already confirmed.")
    try:
        trust_hub.resend_brand_otp(registration.brand_sid)
    except gateway.GatewayError as error:
        raise RegistrationRefused(f"The text could not be resent: {error.explanation}") from error
    registration.brand_otp_sent_at = now
    db.session.flush()
    return registration


def check_now(*, company: Company, now: datetime) -> None:
    """Look at a waiting registration at the worker's next round instead of at its next
    scheduled poll (the /dev review page, after deciding)."""
    registration = registration_for(company)
    if registration.status in (RegistrationStatus.IN_PROGRESS, RegistrationStatus.PENDING):
        registration.next_poll_at = now
        db.session.flush()


def record_bundle_status(
    *, bundle_sid: str, status: str, failure_reason: str | None, now: datetime
) -> bool:
    """Trust Hub's status callback for a customer profile or trust product. A rejected
    bundle rejects the registration with Trust Hub's reason (fix and resubmit); any other
    status is kept for the status page. False when no registration has this bundle."""
    registration = db.session.scalar(
        sa.select(MessagingRegistration).where(
            sa.or_(
                MessagingRegistration.customer_profile_sid == bundle_sid,
                MessagingRegistration.trust_product_sid == bundle_sid,
            )
        )
    )
    if registration is None:
        return False
    if registration.customer_profile_sid == bundle_sid:
        registration.customer_profile_status = status
        step = "profile_review"
    else:
        registration.trust_product_status = status
        step = "a2p_profile_review"
    if status == "twilio-rejected" and registration.status in (
        RegistrationStatus.IN_PROGRESS,
        RegistrationStatus.PENDING,
    ):
        registration.status = RegistrationStatus.REJECTED
        registration.failed_step = step
        registration.failure_code = None
        registration.failure_reason = (
            f"Twilio did not approve the business profile: {failure_reason}"
            if failure_reason
            else "Twilio did not approve the business profile."
        )
        registration.next_poll_at = None
    db.session.flush()
    return True

"""Texting registration: what a company must have before US carriers deliver its texts
(docs/texting-registration.md).

The Pro's wizard calls `submit_registration` (validate, store the details, mark it due);
the worker calls `work_due_registrations`, which moves each due registration through
Twilio's ISV flow one call at a time with `advance_registration`, committing after every
step. Every SID Twilio returns is on the row before the next call, and every create that
could be repeated after a lost answer looks first (`gateway.find_*`), so a crash or a retry
resumes where it stopped and never registers a second brand or campaign.

    10DLC:     customer profile (+ end users, address, document, assignments, evaluation,
               submit) -> A2P trust product (same) -> brand -> Messaging Service + number
               -> wait for the brand -> campaign -> wait for the campaign -> approved
    toll-free: customer profile -> Messaging Service + number -> verification -> wait
    attached:  an existing Messaging Service, checked and stored at once
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import (
    Company,
    MessagingRegistration,
    PhoneNumber,
    RegistrationKind,
    RegistrationStatus,
    User,
)
from app.services.errors import DomainError
from app.sms import gateway
from app.sms.error_codes import error_explanation

log = logging.getLogger(__name__)

POLL_FIRST = timedelta(minutes=15)
POLL_MAX = timedelta(hours=6)
RETRY_FIRST = timedelta(minutes=1)
RETRY_MAX = timedelta(hours=1)
# The worker looks for due registrations this often (per process; correctness never
# depends on it: every step is idempotent).
WORK_INTERVAL = timedelta(minutes=1)
# Steps one registration may take in one round before the worker moves on.
STEPS_PER_ROUND = 40

BRAND_APPROVED = {"APPROVED"}
BRAND_FAILED = {"FAILED", "SUSPENDED", "DELETION_FAILED"}
CAMPAIGN_APPROVED = {"VERIFIED"}
CAMPAIGN_FAILED = {"FAILED", "SUSPENDED", "EXPIRED"}
TOLLFREE_APPROVED = {"TWILIO_APPROVED"}
TOLLFREE_FAILED = {"TWILIO_REJECTED"}
TOLL_FREE_AREA_CODES = {"800", "833", "844", "855", "866", "877", "888"}
MG_SID = re.compile(r"^MG[0-9a-f]{32}$")

WIZARD_KINDS = (RegistrationKind.STANDARD, RegistrationKind.SOLE_PROP, RegistrationKind.TOLL_FREE)

# Step outcomes of `advance_registration`.
CONTINUE = "continue"  # a step was taken; the next may follow at once
WAIT = "wait"  # waiting for Twilio's review (or a retry); next_poll_at says when
DONE = "done"  # approved, attached, rejected or not started: nothing to do


class RegistrationInvalid(DomainError):
    """The wizard's input, refused before anything is sent to Twilio. `errors` maps each
    field to its message."""

    status_code = 422

    def __init__(self, errors: dict[str, str]) -> None:
        field = next(iter(errors))
        super().__init__(errors[field], field=field)
        self.errors = errors


class RegistrationRefused(DomainError):
    status_code = 409


# -- reading -------------------------------------------------------------------------------------


def registration_for(company: Company) -> MessagingRegistration:
    """The company's registration row, created (not started) if it has none yet."""
    registration = db.session.scalar(
        sa.select(MessagingRegistration).filter_by(company_id=company.id)
    )
    if registration is None:
        registration = MessagingRegistration(company_id=company.id, details={}, done_steps=[])
        db.session.add(registration)
        db.session.flush()
    return registration


def find_registration(company: Company) -> MessagingRegistration | None:
    return db.session.scalar(sa.select(MessagingRegistration).filter_by(company_id=company.id))


def blocked_sentence(*, company: Company, registration: MessagingRegistration | None) -> str:
    """Why the company may not text yet, as the banner and a refused reply say it."""
    status = registration.status if registration is not None else RegistrationStatus.NOT_STARTED
    if status == RegistrationStatus.REJECTED:
        return (
            "Texting is not on yet: the texting registration needs changes. An owner or "
            "admin can fix and resubmit it in Settings → Texting registration."
        )
    if status in (RegistrationStatus.IN_PROGRESS, RegistrationStatus.PENDING) and registration:
        since = registration.submitted_at or registration.created_at
        day = since.astimezone(company.tz)
        return f"Texting is not on yet: registration pending since {day:%b} {day.day}."
    return (
        "Texting is not on yet: US carriers require a texting registration first. An owner "
        "or admin can submit it in Settings → Texting registration."
    )


def may_text(company: Company) -> bool:
    registration = find_registration(company)
    return registration is not None and registration.may_text


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


def suggested_details(*, company: Company, actor: User | None) -> dict[str, Any]:
    """What the wizard starts from: the company's profile, and a description, message flow
    and samples written from its enabled templates."""
    from app.services.message_templates import all_templates, render_text

    name = company.name
    samples = []
    for template in all_templates(company=company):
        if not template.enabled:
            continue
        values = {"company_name": name}
        bracketed = re.sub(r"\{([a-z_]+)\}", lambda m: m.group(0), template.body)
        text = render_text(
            body=bracketed,
            values={
                **{
                    key: f"[{key.replace('_', ' ')}]"
                    for key in re.findall(r"\{([a-z_]+)\}", template.body)
                },
                **values,
            },
        )
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
    if kind not in WIZARD_KINDS:
        raise RegistrationRefused("Choose how to register.", field="kind")
    registration = registration_for(company)
    number = _number(company)
    if kind == RegistrationKind.TOLL_FREE and (
        number is None or number.e164[2:5] not in TOLL_FREE_AREA_CODES
    ):
        raise RegistrationRefused(
            "Toll-free verification needs a toll-free custom number (800, 833, 844, 855, 866, "
            "877 or 888). Your number is a local one: register it as a local number instead.",
            field="kind",
        )
    clean = validate_details(kind=kind, data=data)
    if registration.status in (RegistrationStatus.APPROVED, RegistrationStatus.ATTACHED):
        raise RegistrationRefused("Texting is already on for this company.")
    if registration.status in (RegistrationStatus.IN_PROGRESS, RegistrationStatus.PENDING):
        raise RegistrationRefused("The registration is already with Twilio; wait for its review.")
    resubmitting = registration.status == RegistrationStatus.REJECTED
    if resubmitting and kind != registration.kind and registration.customer_profile_sid:
        raise RegistrationRefused(
            "A registration that was sent keeps its kind; fix its details and resubmit.",
            field="kind",
        )
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
        service = gateway.fetch_messaging_service(service_sid)
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
    number = _number(company)
    if number is not None and number.twilio_sid not in service.number_sids:
        try:
            gateway.add_number_to_service(
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
        gateway.resend_brand_otp(registration.brand_sid)
    except gateway.GatewayError as error:
        raise RegistrationRefused(f"The text could not be resent: {error.explanation}") from error
    registration.brand_otp_sent_at = now
    db.session.flush()
    return registration


# -- the worker ------------------------------------------------------------------------------------

_last_run: datetime | None = None


def work_registrations_periodically(*, now: datetime) -> int:
    """The worker's hook (app/sms/dispatcher.py): once a minute per process, move every
    due registration forward. Never raises: a failure is logged and the sending goes on."""
    global _last_run
    if _last_run is not None and _last_run <= now < _last_run + WORK_INTERVAL:
        return 0
    _last_run = now
    try:
        return work_due_registrations(now=now)
    except Exception:
        db.session.rollback()
        log.exception("registration: working due registrations failed")
        return 0


def work_due_registrations(*, now: datetime, clock: Callable[[], datetime] | None = None) -> int:
    """Advance every registration whose `next_poll_at` has come, committing after each
    step (the worker's transaction boundary: each SID is durable before the next call).
    Returns how many steps were taken."""
    due = list(
        db.session.scalars(
            sa.select(MessagingRegistration.id)
            .where(
                MessagingRegistration.status.in_(
                    [RegistrationStatus.IN_PROGRESS, RegistrationStatus.PENDING]
                ),
                MessagingRegistration.next_poll_at <= now,
            )
            .order_by(MessagingRegistration.next_poll_at)
        )
    )
    db.session.commit()
    steps = 0
    for registration_id in due:
        for _ in range(STEPS_PER_ROUND):
            registration = db.session.get(MessagingRegistration, registration_id)
            if registration is None:
                break
            outcome = advance_registration(registration=registration, now=clock() if clock else now)
            db.session.commit()
            steps += outcome == CONTINUE
            if outcome != CONTINUE:
                break
    return steps


def advance_registration(*, registration: MessagingRegistration, now: datetime) -> str:
    """Take the next step of one registration: at most one Twilio write (and the reads it
    needs), stored on the row. Flushes; the caller commits. Returns CONTINUE, WAIT or DONE.

    Errors: a 429/5xx/no answer puts the step off with backoff (WAIT); a refusal marks the
    registration rejected with Twilio's code and a sentence (DONE)."""
    if registration.status not in (RegistrationStatus.IN_PROGRESS, RegistrationStatus.PENDING):
        return DONE
    _doing(registration, "start")
    try:
        _step, outcome = _next_step(registration, now)
    except gateway.PermanentGatewayError as error:
        _reject(
            registration, now, step=registration._step, code=error.code, reason=error.explanation
        )
        return DONE
    except (gateway.TransientGatewayError, gateway.UnknownOutcome) as error:
        registration.attempts += 1
        delay = min(RETRY_FIRST * (2 ** (registration.attempts - 1)), RETRY_MAX)
        registration.next_poll_at = now + delay
        log.info(
            "registration %s: %s put off %s: %s",
            registration.id,
            registration._step,
            delay,
            error.message,
        )
        db.session.flush()
        return WAIT
    if outcome == CONTINUE:
        registration.attempts = 0
    db.session.flush()
    return outcome


def _doing(registration: MessagingRegistration, step: str) -> None:
    # The step being attempted, named in the rejection when Twilio refuses it (a plain
    # attribute of this object, not a column).
    registration._step = step


def _reject(
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


def _number(company: Company) -> PhoneNumber | None:
    return db.session.scalar(sa.select(PhoneNumber).filter_by(company_id=company.id))


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
        return gateway.STARTER_PROFILE_POLICY
    return gateway.SECONDARY_PROFILE_POLICY


def _product_policy(registration: MessagingRegistration) -> str:
    if registration.kind == RegistrationKind.SOLE_PROP:
        return gateway.SOLE_PROP_A2P_POLICY
    return gateway.A2P_PROFILE_POLICY


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


def _public_urls(registration: MessagingRegistration) -> tuple[str, str]:
    details = registration.details
    if details.get("use_generated_terms"):
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        page = f"{base}/c/{registration.public_token}/sms-terms"
        return f"{page}#privacy", f"{page}#terms"
    return details["privacy_url"], details["terms_url"]


def _next_step(registration: MessagingRegistration, now: datetime) -> tuple[str, str]:
    """(step name, outcome) of the one step taken."""
    company = registration.company
    details = registration.details
    kind = registration.kind
    sole_prop = kind == RegistrationKind.SOLE_PROP

    # -- corrections after "fix and resubmit" --------------------------------------------
    todo = list(registration.todo_steps or [])
    if todo:
        step = todo[0]
        _doing(registration, step)
        if step == "update_business":
            attrs = _starter_attributes(details) if sole_prop else _business_attributes(details)
            gateway.update_end_user(sid=registration.business_end_user_sid, attributes=attrs)
        elif step == "update_representative":
            gateway.update_end_user(
                sid=registration.representative_end_user_sid,
                attributes=_representative_attributes(details),
            )
        elif step == "update_address":
            gateway.update_address(sid=registration.address_sid, **_address_kwargs(details))
        elif step == "update_a2p_profile":
            gateway.update_end_user(
                sid=registration.a2p_end_user_sid, attributes=_a2p_attributes(registration)
            )
        elif step == "resubmit_brand":
            brand = gateway.resubmit_brand(registration.brand_sid)
            registration.brand_status = brand.status
            _reset_wait(registration)
        elif step == "replace_campaign":
            if registration.campaign_sid:
                gateway.delete_campaign(
                    service_sid=registration.messaging_service_sid, sid=registration.campaign_sid
                )
            registration.campaign_sid = None
            registration.campaign_status = None
            _reset_wait(registration)
        elif step == "resubmit_tollfree":
            verification = gateway.resubmit_tollfree_verification(
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
        _doing(registration, "customer_profile")
        name = _friendly(registration, "profile")
        profile = gateway.find_customer_profile(name) or gateway.create_customer_profile(
            friendly_name=name, email=_email(registration), policy_sid=_profile_policy(registration)
        )
        registration.customer_profile_sid = profile.sid
        registration.customer_profile_status = profile.status
        return "customer_profile", CONTINUE
    if not registration.business_end_user_sid:
        _doing(registration, "business_information")
        if sole_prop:
            sid = gateway.create_end_user(
                type_="starter_customer_profile_information",
                friendly_name=_friendly(registration, "owner"),
                attributes=_starter_attributes(details),
            )
        else:
            sid = gateway.create_end_user(
                type_="customer_profile_business_information",
                friendly_name=_friendly(registration, "business"),
                attributes=_business_attributes(details),
            )
        registration.business_end_user_sid = sid
        return "business_information", CONTINUE
    if not sole_prop and not registration.representative_end_user_sid:
        _doing(registration, "authorized_representative")
        registration.representative_end_user_sid = gateway.create_end_user(
            type_="authorized_representative_1",
            friendly_name=_friendly(registration, "representative"),
            attributes=_representative_attributes(details),
        )
        return "authorized_representative", CONTINUE
    if not registration.address_sid:
        _doing(registration, "address")
        registration.address_sid = gateway.create_address(
            **_address_kwargs(details), iso_country="US"
        )
        return "address", CONTINUE
    if not registration.supporting_document_sid:
        _doing(registration, "supporting_document")
        registration.supporting_document_sid = gateway.create_supporting_document(
            type_="customer_profile_address",
            friendly_name=_friendly(registration, "address document"),
            attributes={"address_sids": registration.address_sid},
        )
        return "supporting_document", CONTINUE
    if not registration.has_done("profile_assigned"):
        _doing(registration, "profile_assigned")
        wanted = [
            registration.business_end_user_sid,
            registration.representative_end_user_sid,
            registration.supporting_document_sid,
        ]
        if not sole_prop:
            wanted.append(_primary_profile_sid())
        present = gateway.customer_profile_assignments(registration.customer_profile_sid)
        for sid in wanted:
            if sid and sid not in present:
                gateway.assign_to_customer_profile(
                    profile_sid=registration.customer_profile_sid, object_sid=sid
                )
        registration.mark_done("profile_assigned")
        return "profile_assigned", CONTINUE
    if not registration.has_done("profile_submitted"):
        _doing(registration, "profile_submitted")
        evaluation = gateway.evaluate_customer_profile(
            profile_sid=registration.customer_profile_sid, policy_sid=_profile_policy(registration)
        )
        if evaluation.status != "compliant":
            _reject(
                registration,
                now,
                step="profile_submitted",
                code=None,
                reason="Twilio found the business profile incomplete: "
                + "; ".join(evaluation.failures),
            )
            return "profile_submitted", DONE
        profile = gateway.submit_customer_profile(registration.customer_profile_sid)
        registration.customer_profile_status = profile.status
        registration.mark_done("profile_submitted")
        return "profile_submitted", CONTINUE

    if kind == RegistrationKind.TOLL_FREE:
        return _toll_free_steps(registration, now)

    # -- Trust Hub: the A2P messaging profile -----------------------------------------------------
    if not registration.trust_product_sid:
        _doing(registration, "a2p_profile")
        name = _friendly(registration, "a2p")
        product = gateway.find_trust_product(name) or gateway.create_trust_product(
            friendly_name=name, email=_email(registration), policy_sid=_product_policy(registration)
        )
        registration.trust_product_sid = product.sid
        registration.trust_product_status = product.status
        return "a2p_profile", CONTINUE
    if not registration.a2p_end_user_sid:
        _doing(registration, "a2p_profile_information")
        registration.a2p_end_user_sid = gateway.create_end_user(
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
        _doing(registration, "a2p_assigned")
        present = gateway.trust_product_assignments(registration.trust_product_sid)
        for sid in (registration.a2p_end_user_sid, registration.customer_profile_sid):
            if sid not in present:
                gateway.assign_to_trust_product(
                    product_sid=registration.trust_product_sid, object_sid=sid
                )
        registration.mark_done("a2p_assigned")
        return "a2p_assigned", CONTINUE
    if not registration.has_done("a2p_submitted"):
        _doing(registration, "a2p_submitted")
        evaluation = gateway.evaluate_trust_product(
            product_sid=registration.trust_product_sid, policy_sid=_product_policy(registration)
        )
        if evaluation.status != "compliant":
            _reject(
                registration,
                now,
                step="a2p_submitted",
                code=None,
                reason="Twilio found the messaging profile incomplete: "
                + "; ".join(evaluation.failures),
            )
            return "a2p_submitted", DONE
        product = gateway.submit_trust_product(registration.trust_product_sid)
        registration.trust_product_status = product.status
        registration.mark_done("a2p_submitted")
        return "a2p_submitted", CONTINUE

    # -- the brand --------------------------------------------------------------------------------
    if not registration.brand_sid:
        _doing(registration, "brand")
        brand = gateway.find_brand(registration.customer_profile_sid) or gateway.create_brand(
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
        _doing(registration, "brand_review")
        brand = gateway.fetch_brand(registration.brand_sid)
        registration.brand_status = brand.status
        if brand.status in BRAND_FAILED:
            code = brand.error_codes[0] if brand.error_codes else None
            _reject(
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
        _doing(registration, "campaign")
        service_sid = registration.messaging_service_sid
        campaign = gateway.find_campaign(service_sid)
        if campaign is None:
            allowed = gateway.campaign_use_cases(
                service_sid=service_sid, brand_sid=registration.brand_sid
            )
            preference = ("SOLE_PROPRIETOR",) if sole_prop else ("LOW_VOLUME", "MIXED")
            use_case = next((u for u in preference if u in allowed), allowed[0] if allowed else "")
            privacy, terms = _public_urls(registration)
            samples = details["samples"]
            campaign = gateway.create_campaign(
                service_sid=service_sid,
                brand_sid=registration.brand_sid,
                use_case=use_case,
                description=details["description"],
                message_flow=details["message_flow"],
                message_samples=samples,
                has_embedded_links=any("http" in s or "[link]" in s for s in samples),
                has_embedded_phone=any(re.search(r"\d{3}\D?\d{3}\D?\d{4}", s) for s in samples),
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
    _doing(registration, "campaign_review")
    campaign = gateway.fetch_campaign(
        service_sid=registration.messaging_service_sid, sid=registration.campaign_sid
    )
    registration.campaign_status = campaign.status
    if campaign.status in CAMPAIGN_FAILED:
        code = campaign.error_codes[0] if campaign.error_codes else None
        _reject(
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
        _doing(registration, "messaging_service")
        base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
        name = _friendly(registration, "service")
        service = gateway.find_messaging_service(name) or gateway.create_messaging_service(
            friendly_name=name,
            inbound_url=f"{base}/webhooks/twilio/sms",
            status_callback=f"{base}/webhooks/twilio/status",
        )
        registration.messaging_service_sid = service.sid
        return "messaging_service"
    if not registration.has_done("number_in_service"):
        _doing(registration, "number_in_service")
        number = _number(registration.company)
        if number is None:
            raise gateway.PermanentGatewayError(
                "The company has no custom number yet: set one up in Settings → Custom "
                "number, then retry."
            )
        gateway.add_number_to_service(
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
        _doing(registration, "tollfree_verification")
        number = _number(registration.company)
        assert number is not None  # _service_steps checked it
        verification = gateway.find_tollfree_verification(number.twilio_sid)
        if verification is None:
            privacy, _terms = _public_urls(registration)
            verification = gateway.create_tollfree_verification(
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
    _doing(registration, "tollfree_review")
    verification = gateway.fetch_tollfree_verification(registration.tollfree_verification_sid)
    registration.tollfree_status = verification.status
    if verification.status in TOLLFREE_FAILED:
        code = verification.error_code
        _reject(
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


# -- what the status page and the CLI show -------------------------------------------------------


def steps_overview(registration: MessagingRegistration) -> list[tuple[str, str, str | None]]:
    """(label, state, SID) of each step, in order, for the status page and the CLI."""
    kind = registration.kind
    rows: list[tuple[str, str, str | None]] = []

    def add(label: str, sid: str | None, status: str | None = None, done: bool | None = None):
        if status:
            state = status
        elif done is not None:
            state = "done" if done else "to do"
        else:
            state = "done" if sid else "to do"
        rows.append((label, state, sid))

    if kind == RegistrationKind.ATTACHED:
        add("Messaging Service", registration.messaging_service_sid)
        return rows
    add("Business profile", registration.customer_profile_sid, registration.customer_profile_status)
    add(
        "Owner details" if kind == RegistrationKind.SOLE_PROP else "Business information",
        registration.business_end_user_sid,
    )
    if kind != RegistrationKind.SOLE_PROP:
        add("Authorized representative", registration.representative_end_user_sid)
    add("Address", registration.address_sid)
    add("Address document", registration.supporting_document_sid)
    add("Profile submitted", None, done=registration.has_done("profile_submitted"))
    if kind == RegistrationKind.TOLL_FREE:
        add("Messaging Service", registration.messaging_service_sid)
        add(
            "Toll-free verification",
            registration.tollfree_verification_sid,
            registration.tollfree_status,
        )
        return rows
    add("A2P messaging profile", registration.trust_product_sid, registration.trust_product_status)
    add("Brand", registration.brand_sid, registration.brand_status)
    add("Messaging Service", registration.messaging_service_sid)
    add("Campaign", registration.campaign_sid, registration.campaign_status)
    return rows

"""Texting registration: what a company must have before US carriers deliver its texts
(docs/texting-registration.md).

The Pro's wizard calls `submit_registration` (validate, store the details, mark it due);
the worker calls `work_due_registrations`, which moves each due registration through
Twilio's ISV flow one call at a time with `advance_registration`, committing after every
step. Every SID Twilio returns is on the row before the next call, and every create that
could be repeated after a lost answer looks first (`trust_hub.find_*`), so a crash or a retry
resumes where it stopped and never registers a second brand or campaign.

    10DLC:     customer profile (+ end users, address, document, assignments, evaluation,
               submit) -> A2P trust product (same) -> brand -> Messaging Service + number
               -> wait for the brand -> campaign -> wait for the campaign -> approved
    toll-free: customer profile -> Messaging Service + number -> verification -> wait
    attached:  an existing Messaging Service, checked and stored at once
"""

from app.services.registration.flow import (
    advance_registration,
    work_due_registrations,
    work_registrations,
)
from app.services.registration.records import (
    CONTINUE,
    DONE,
    WAIT,
    RegistrationInvalid,
    RegistrationRefused,
    blocked_sentence,
    find_registration,
    may_text,
    registration_for,
    state_label,
    steps_overview,
)
from app.services.registration.wizard import (
    BUSINESS_TYPES,
    INDUSTRIES,
    OPT_IN_METHODS,
    STEP_FIELDS,
    TEXT_FIELDS,
    US_STATES,
    attach_messaging_service,
    check_now,
    normalize_ein,
    record_bundle_status,
    resend_confirmation,
    reset_registration,
    retry_registration,
    save_registration_step,
    submit_registration,
    suggested_details,
    terms_url,
    validate_details,
)

__all__ = [
    "BUSINESS_TYPES",
    "CONTINUE",
    "DONE",
    "INDUSTRIES",
    "OPT_IN_METHODS",
    "STEP_FIELDS",
    "TEXT_FIELDS",
    "US_STATES",
    "WAIT",
    "RegistrationInvalid",
    "RegistrationRefused",
    "advance_registration",
    "attach_messaging_service",
    "blocked_sentence",
    "check_now",
    "find_registration",
    "may_text",
    "normalize_ein",
    "record_bundle_status",
    "registration_for",
    "resend_confirmation",
    "reset_registration",
    "retry_registration",
    "save_registration_step",
    "state_label",
    "steps_overview",
    "submit_registration",
    "suggested_details",
    "terms_url",
    "validate_details",
    "work_due_registrations",
    "work_registrations",
]

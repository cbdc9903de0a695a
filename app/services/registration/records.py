"""The registration row as the rest of the product reads it: constants, errors, may this
company text, the sentence that says why not, and the steps overview."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Company,
    MessagingRegistration,
    PhoneNumber,
    RegistrationKind,
    RegistrationStatus,
)
from app.services.errors import DomainError

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


def number_of(company: Company) -> PhoneNumber | None:
    return db.session.scalar(sa.select(PhoneNumber).filter_by(company_id=company.id))


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


# Twilio's status words, as the status page says them.
STATE_WORDS = {
    "to do": "To do",
    "done": "Done",
    "draft": "Draft",
    "pending-review": "Submitted",
    "in-review": "In review",
    "twilio-approved": "Approved",
    "twilio-rejected": "Not approved",
    "PENDING": "Waiting for review",
    "IN_REVIEW": "In review",
    "IN_PROGRESS": "In review",
    "PENDING_REVIEW": "Waiting for review",
    "APPROVED": "Approved",
    "VERIFIED": "Approved",
    "TWILIO_APPROVED": "Approved",
    "FAILED": "Not approved",
    "TWILIO_REJECTED": "Not approved",
    "SUSPENDED": "Suspended",
}


def state_label(state: str) -> str:
    return STATE_WORDS.get(state, state.replace("_", " ").replace("-", " ").capitalize())

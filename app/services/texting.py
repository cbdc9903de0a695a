"""Queueing outbound texts. This is the only way the product sends an SMS.

`queue_text` writes a pending `Message` in the caller's transaction (the outbox); the
dispatcher (app/worker/dispatcher.py) sends it after the transaction commits. If the
transaction rolls back, the text was never queued and is never sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Company,
    Customer,
    Direction,
    Job,
    Message,
    MessageKind,
    MessageStatus,
    OptOut,
    PhoneNumber,
    RevocationFlag,
    User,
    utcnow,
)
from app.services.conversations import conversation_for
from app.services.errors import DomainError
from app.services.first_contact import with_footer
from app.services.quiet_hours import quiet_hours_delay
from app.services.registration import blocked_sentence, find_registration
from app.services.uniqueness import insert_or_get

# Texts the product sends by itself about a job. While a customer's "stop texting me" waits
# for a person's decision these are held (the FCC allows 10 business days to decide; texts
# meanwhile would be texts after a revocation). A person's own reply is never held: it is
# how the office asks "did you mean you want no more texts?".
AUTOMATED_KINDS = (
    MessageKind.JOB_SCHEDULED,
    MessageKind.ON_MY_WAY,
    MessageKind.JOB_FINISHED,
    MessageKind.REMINDER,
    MessageKind.JOB_CANCELED,
)
# CTIA 5.1.1 / 47 CFR 64.1200(a)(10)(iii): the one confirmation after an opt-out may go to
# the number that just opted out. (HELP is answered even when opted out, as Twilio does.)
ALLOWED_WHEN_OPTED_OUT = (MessageKind.OPT_OUT_CONFIRMATION, MessageKind.HELP_REPLY)


class TextingUnavailable(DomainError):
    """Why a text cannot be sent. `reason` is one of the REASON_* codes."""

    status_code = 409
    NO_NUMBER = "no_number"
    OPTED_OUT = "opted_out"
    NOT_REGISTERED = "not_registered"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def company_number(company: Company) -> PhoneNumber | None:
    return db.session.scalar(sa.select(PhoneNumber).filter_by(company_id=company.id))


def is_opted_out(*, company: Company, phone: str) -> bool:
    return OptOut.covers(company_id=company.id, phone=phone)


def revocation_pending(*, company: Company, phone: str) -> bool:
    """The number wrote something like "stop texting me" and no one has decided yet."""
    return (
        db.session.scalar(
            sa.select(RevocationFlag.id)
            .filter_by(company_id=company.id, phone=phone, decided_at=None)
            .limit(1)
        )
        is not None
    )


def registration_blocker(*, company: Company) -> TextingUnavailable | None:
    """Not registered: until the company's A2P 10DLC / toll-free registration is approved
    (or a registered Messaging Service is attached), its texts would fail with 30034/30032,
    billed, so none are sent (app/services/registration.py)."""
    registration = find_registration(company)
    if registration is not None and registration.may_text:
        return None
    return TextingUnavailable(
        blocked_sentence(company=company, registration=registration),
        reason=TextingUnavailable.NOT_REGISTERED,
    )


def texting_blocker(
    *, company: Company, phone: str, kind: str | None = None
) -> TextingUnavailable | None:
    """The reason a text to `phone` can't go out now, or None when it can. `kind` (a
    MessageKind) lets the opt-out confirmation through to the number that opted out."""
    if company_number(company) is None:
        return TextingUnavailable(
            f"{company.name} has no custom SMS number yet, so texts can't be sent. "
            "An owner or admin can set one up in Settings → Custom number.",
            reason=TextingUnavailable.NO_NUMBER,
        )
    # -- texting registration (issue 15): carriers block an unregistered number's texts.
    not_registered = registration_blocker(company=company)
    if not_registered is not None:
        return not_registered
    # -- opt-out (issue 16: the one confirmation and HELP may still go to the number).
    if kind not in ALLOWED_WHEN_OPTED_OUT and is_opted_out(company=company, phone=phone):
        return TextingUnavailable(
            "This customer replied STOP and has opted out of texts from your number. "
            "They can text START to opt back in.",
            reason=TextingUnavailable.OPTED_OUT,
        )
    return None


def _due_time(
    *, company: Company, to_phone: str, kind: str, address: str | None, due: datetime, extra: dict
) -> datetime | None:
    """When a text that may go should go (None: held). Notes why in `extra`."""
    # Held, not refused: queued with no due time (the dispatcher never claims it), then
    # released or canceled by the office's decision (opt_outs.decide_revocation).
    if kind in AUTOMATED_KINDS and revocation_pending(company=company, phone=to_phone):
        extra["held"] = "revocation"
        return None
    # Quiet hours: a text nobody is waiting for is due when the customer's hours open.
    later = quiet_hours_delay(company=company, phone=to_phone, kind=kind, address=address, now=due)
    if later is not None:
        due, windows = later
        extra["quiet_hours"] = {"until": due.isoformat(), "state": windows.state}
    return due


def queue_text(
    *,
    company: Company,
    to_phone: str,
    body: str,
    kind: str,
    customer: Customer | None = None,
    job: Job | None = None,
    author: User | None = None,
    media_urls: Sequence[str] = (),
    dedupe_key: str | None = None,
    send_after: datetime | None = None,
    extra: dict | None = None,
) -> Message:
    """Put a text in the outbox, in the caller's transaction.

    With a `dedupe_key`, a second call with the same key returns the first message and
    queues nothing: that is how "at most once per job" is kept under double taps.
    Raises TextingUnavailable when the company has no number or the number opted out.
    Automated job texts to a number with an undecided "stop texting me" are held; kinds
    nobody waits for wait for quiet hours to end; a first contact gets the opt-out footer
    (docs/compliance.md).
    """
    if dedupe_key is not None:
        existing = db.session.scalar(sa.select(Message).filter_by(dedupe_key=dedupe_key))
        if existing is not None:
            return existing
    blocker = texting_blocker(company=company, phone=to_phone, kind=kind)
    if blocker is not None:
        raise blocker
    now = utcnow()
    extra = dict(extra or {})
    due = _due_time(
        company=company,
        to_phone=to_phone,
        kind=kind,
        address=(job.address if job else None) or (customer.address if customer else None),
        due=send_after or now,
        extra=extra,
    )
    # The first text the company ever sends to this number says how to opt out.
    body = with_footer(company=company, phone=to_phone, kind=kind, body=body)
    number = company_number(company)
    assert number is not None  # texting_blocker checked it
    conversation = conversation_for(company=company, phone=to_phone, customer=customer)
    message = Message(
        company_id=company.id,
        conversation_id=conversation.id,
        direction=Direction.OUT,
        kind=kind,
        from_phone=number.e164,
        to_phone=to_phone,
        body=body,
        media_urls=list(media_urls),
        status=MessageStatus.PENDING,
        dedupe_key=dedupe_key,
        job_id=job.id if job else None,
        author_id=author.id if author else None,
        next_attempt_at=due,
        extra=extra,
        created_at=now,
    )
    if dedupe_key is None:
        db.session.add(message)
        db.session.flush()
    else:
        # Another request may queue the same key between our check and our insert.
        message, created = insert_or_get(
            message, sa.select(Message).filter_by(dedupe_key=dedupe_key)
        )
        if not created:
            return message
    conversation.last_message_at = now
    # The in-process dispatcher (make run) is woken when this transaction commits.
    db.session.info["outbox_wake"] = True
    return message

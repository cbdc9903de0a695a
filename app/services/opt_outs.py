"""Opt-out, opt-in and HELP: what a customer's words do to what the company may text them.

Sources of the rules (docs/compliance.md has the full table):
- CTIA Messaging Principles and Best Practices (2023), 5.1: STOP, QUIT, END, REVOKE, OPT OUT,
  CANCEL, UNSUBSCRIBE opt out; one confirmation, no further texts; HELP gets the brand,
  how to get help and how to opt out.
- FCC Report and Order 24-24 (47 CFR 64.1200(a)(10), in force April 11, 2025): revocation
  "by any reasonable means"; the words above (incl. "opt out") sent alone are a per-se
  revocation; a single confirmation text within 5 minutes is allowed; other wordings must
  be honoured within 10 business days (weekdays that are not US federal holidays).

The whole body is normalised (case, punctuation, spacing) and must BE the keyword:
"Stop." and "opt-out" are keywords, "please cancel tuesday" and "stop by at 3" are not.
Texts that only read like a revocation ("stop texting me") are flagged for a person to
decide; until then automated texts to that number are held (app/services/texting.py).
"""

from __future__ import annotations

import functools
import logging
import re
from datetime import date, datetime, timedelta

import holidays
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Company,
    Customer,
    Direction,
    JobStatus,
    Message,
    MessageKind,
    MessageStatus,
    OptOut,
    OptOutSource,
    RevocationDecision,
    RevocationFlag,
    User,
    utcnow,
)
from app.services.consent import record_texted_first
from app.services.errors import DomainError
from app.services.phones import format_phone
from app.services.quiet_hours import quiet_hours_delay
from app.services.texting import AUTOMATED_KINDS, TextingUnavailable, company_number, queue_text
from app.services.uniqueness import insert_once

log = logging.getLogger(__name__)

OPT_OUT_KEYWORDS = frozenset(
    {
        "STOP",
        "STOP ALL",
        "STOPALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "REVOKE",
        "OPTOUT",
        # An FCC per-se phrase that neither Twilio's default list nor a one-word match catches.
        "OPT OUT",
    }
)
# Kept as before this module: YES opts back in too (Twilio treats it the same way).
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})

# Wordings that mean "stop" without being a keyword. Matched as whole words in the
# normalised text, lowercased, apostrophes dropped ("don't" -> "dont").
REVOCATION_PHRASES: tuple[str, ...] = (
    "stop texting",
    "stop text me",
    "stop messaging",
    "stop sending",
    "stop contacting",
    "stop all texts",
    "dont text",
    "do not text",
    "dont message",
    "do not message",
    "dont contact",
    "do not contact",
    "no more texts",
    "no more text",
    "no more messages",
    "remove me",
    "take me off",
    "unsubscribe me",
    "opt me out",
    "wrong number",
    "leave me alone",
    "lose my number",
)

HELP_REPLY_EVERY = timedelta(days=1)
REVOCATION_BUSINESS_DAYS = 10

_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_NOT_WORD = re.compile(r"[^0-9A-Za-z]+")


def normalise(body: str | None) -> str:
    """Upper case words separated by single spaces: "  Opt-Out! " -> "OPT OUT"."""
    text = _APOSTROPHES.sub("", body or "")
    return " ".join(_NOT_WORD.sub(" ", text).split()).upper()


def keyword_of(body: str | None) -> str | None:
    """The opt-out/opt-in/help keyword the whole body is, or None."""
    word = normalise(body)
    if word in OPT_OUT_KEYWORDS or word in OPT_IN_KEYWORDS or word in HELP_KEYWORDS:
        return word
    return None


def revocation_phrase(body: str | None) -> str | None:
    """The revocation wording found in `body` ("stop texting"), or None."""
    text = f" {normalise(body).lower()} "
    for phrase in REVOCATION_PHRASES:
        if f" {phrase} " in text:
            return phrase
    return None


# ----------------------------------------------------------------------------- the record


def current_opt_out(*, company: Company, phone: str) -> OptOut | None:
    return db.session.scalar(
        sa.select(OptOut).filter_by(company_id=company.id, phone=phone).limit(1)
    )


def opt_out(
    *,
    company_id: int,
    phone: str,
    keyword: str,
    source: str = OptOutSource.KEYWORD,
    actor: User | None = None,
    note: str | None = None,
) -> bool:
    """Record that `phone` wants no texts from the company (idempotent, race-safe).
    True when this call opted the number out, False when it already was."""
    exists = db.session.scalar(
        sa.select(OptOut.id).filter_by(company_id=company_id, phone=phone).limit(1)
    )
    if exists is not None:
        return False
    created = insert_once(
        OptOut(
            company_id=company_id,
            phone=phone,
            keyword=keyword[:16],
            source=source,
            actor_id=actor.id if actor else None,
            note=note,
        )
    )
    # Texts held for a revocation decision are never claimed by the dispatcher (which
    # cancels due texts to an opted-out number itself): withdraw them here.
    db.session.execute(
        sa.update(Message)
        .where(
            Message.company_id == company_id,
            Message.to_phone == phone,
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.PENDING,
            Message.next_attempt_at.is_(None),
        )
        .values(
            status=MessageStatus.CANCELED,
            error_message="Not sent: the customer asked for no more texts.",
            dedupe_key=None,
        )
        .execution_options(synchronize_session=False)
    )
    return created


def opt_in(*, company_id: int, phone: str) -> bool:
    """START/UNSTOP/YES: texts may flow again (this also lifts a carrier-reported opt-out,
    since Twilio lifts its own block on the same keywords). True if one was lifted."""
    result = db.session.execute(sa.delete(OptOut).filter_by(company_id=company_id, phone=phone))
    return bool(result.rowcount)


# ----------------------------------------------------------------------------- replies

CONFIRMATION_KINDS = (
    MessageKind.OPT_OUT_CONFIRMATION,
    MessageKind.OPT_IN_CONFIRMATION,
    MessageKind.HELP_REPLY,
)


def _phone_line(company: Company) -> str:
    """The business phone (the issue's "company name, business phone"), else the custom
    number, whose calls are forwarded to the business anyway."""
    number = company_number(company)
    phone = company.business_phone or (number.e164 if number else None)
    return f" Call {format_phone(phone)}." if phone else ""


def opt_out_confirmation_body(company: Company) -> str:
    return (
        f"{company.name}: You're unsubscribed and will get no more texts from us. "
        "Reply START to resubscribe."
    )


def opt_in_confirmation_body(company: Company) -> str:
    return (
        f"{company.name}: You're subscribed again to texts about your appointments. "
        "Msg & data rates may apply. Reply HELP for help, STOP to opt out."
    )


def help_body(company: Company) -> str:
    return (
        f"{company.name}: texts about your appointments.{_phone_line(company)} "
        "Reply STOP to opt out. Msg & data rates may apply."
    )


def _reply(
    *, company: Company, phone: str, customer: Customer | None, kind: str, body: str
) -> Message | None:
    try:
        return queue_text(company=company, to_phone=phone, body=body, kind=kind, customer=customer)
    except TextingUnavailable as blocked:
        # No number / not registered: nothing can be sent; Twilio's own reply stands.
        log.info("compliance reply %s to %s not sent: %s", kind, phone, blocked.reason)
        return None


def send_opt_out_confirmation(
    *, company: Company, phone: str, customer: Customer | None = None
) -> Message | None:
    return _reply(
        company=company,
        phone=phone,
        customer=customer,
        kind=MessageKind.OPT_OUT_CONFIRMATION,
        body=opt_out_confirmation_body(company),
    )


def answer_help(
    *, company: Company, phone: str, customer: Customer | None, now: datetime
) -> Message | None:
    """The branded HELP reply, at most once per HELP_REPLY_EVERY per number (a customer
    typing HELP five times gets one answer, and no one can make us spam a number)."""
    recent = db.session.scalar(
        sa.select(Message.id)
        .where(
            Message.company_id == company.id,
            Message.to_phone == phone,
            Message.kind == MessageKind.HELP_REPLY,
            Message.created_at > now - HELP_REPLY_EVERY,
        )
        .limit(1)
    )
    if recent is not None:
        return None
    return _reply(
        company=company,
        phone=phone,
        customer=customer,
        kind=MessageKind.HELP_REPLY,
        body=help_body(company),
    )


# ----------------------------------------------------------------------------- inbound


def apply_inbound(
    *,
    message: Message,
    company: Company,
    customer: Customer | None,
    keyword: str | None,
    opt_out_type: str | None,
    now: datetime,
) -> None:
    """What an inbound text's words do. `opt_out_type` is Twilio's `OptOutType` (present
    when the Messaging Service's Advanced Opt-Out recognised the keyword and has already
    answered it): then no confirmation or HELP reply of ours follows, never two."""
    phone = message.from_phone
    answered_by_twilio = bool(opt_out_type)
    if keyword in OPT_OUT_KEYWORDS:
        if opt_out(company_id=company.id, phone=phone, keyword=keyword) and not answered_by_twilio:
            send_opt_out_confirmation(company=company, phone=phone, customer=customer)
        _close_flags(company=company, phone=phone, decision=RevocationDecision.OPTED_OUT, now=now)
    elif keyword in OPT_IN_KEYWORDS:
        if opt_in(company_id=company.id, phone=phone) and not answered_by_twilio:
            _reply(
                company=company,
                phone=phone,
                customer=customer,
                kind=MessageKind.OPT_IN_CONFIRMATION,
                body=opt_in_confirmation_body(company),
            )
    elif keyword in HELP_KEYWORDS:
        if not answered_by_twilio:
            answer_help(company=company, phone=phone, customer=customer, now=now)
    elif (phrase := revocation_phrase(message.body)) is not None:
        flag_revocation(message=message, company=company, phrase=phrase, now=now)
    elif customer is not None:
        # An ordinary text from a customer: they texted us (a keyword or "wrong number"
        # is no such thing). Recorded only while no other consent is known.
        record_texted_first(customer=customer, at=now)


# ----------------------------------------------------------------------------- revocations


def flag_revocation(*, message: Message, company: Company, phrase: str, now: datetime) -> None:
    """Keep the text for a person to decide on, and hold the automated texts already
    queued for the number (new ones are held by queue_text while the flag is open)."""
    if current_opt_out(company=company, phone=message.from_phone) is not None:
        return  # already opted out: nothing to decide
    db.session.flush()  # the message needs its id
    insert_once(
        RevocationFlag(
            company_id=company.id,
            phone=message.from_phone,
            message_id=message.id,
            phrase=phrase,
            created_at=now,
        )
    )
    message.extra = {**(message.extra or {}), "revocation": phrase}
    waiting = db.session.scalars(
        sa.select(Message).where(
            Message.company_id == company.id,
            Message.to_phone == message.from_phone,
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.PENDING,
            Message.attempts == 0,
            Message.kind.in_(AUTOMATED_KINDS),
        )
    )
    for queued in waiting:  # a handful at most: one customer's unsent job texts
        queued.next_attempt_at = None
        queued.extra = {**(queued.extra or {}), "held": "revocation"}


def open_flags(*, company: Company, phone: str) -> list[RevocationFlag]:
    return list(
        db.session.scalars(
            sa.select(RevocationFlag)
            .filter_by(company_id=company.id, phone=phone, decided_at=None)
            .order_by(RevocationFlag.id)
        )
    )


@functools.cache
def federal_holidays(year: int) -> frozenset[date]:
    """The US federal holidays of `year` on the days they are observed (a Saturday holiday
    is off on the Friday before, a Sunday one on the Monday after; New Year's Day on a
    Saturday is observed on Dec 31 of the year before, which `holidays` files under that
    earlier year). Cached: the rules of a year do not change while the app runs."""
    return frozenset(holidays.US(years=year, observed=True))


def is_business_day(day: date) -> bool:
    """Monday to Friday and not a federal holiday: the days the FCC's rule counts."""
    return day.weekday() < 5 and day not in federal_holidays(day.year)


def business_days_between(start: datetime, end: datetime) -> int:
    """Business days after `start`'s date up to and including `end`'s date."""
    day, last, count = start.date(), end.date(), 0
    while day < last:
        day += timedelta(days=1)
        if is_business_day(day):
            count += 1
    return count


def business_days_left(flag: RevocationFlag, *, now: datetime, tz) -> int:
    used = business_days_between(flag.created_at.astimezone(tz), now.astimezone(tz))
    return max(REVOCATION_BUSINESS_DAYS - used, 0)


def _close_flags(*, company: Company, phone: str, decision: str, now: datetime, actor=None) -> int:
    return (
        db.session.execute(
            sa.update(RevocationFlag)
            .where(
                RevocationFlag.company_id == company.id,
                RevocationFlag.phone == phone,
                RevocationFlag.decided_at.is_(None),
            )
            .values(decided_at=now, decision=decision, decided_by_id=actor.id if actor else None)
            .execution_options(synchronize_session=False)
        ).rowcount
        or 0
    )


def decide_revocation(
    *, flag: RevocationFlag, actor: User, opt_out_number: bool, now: datetime | None = None
) -> None:
    """The office's answer to a flagged text. Opting out records it (source "revocation"),
    sends the one confirmation and cancels the held texts; "Not an opt-out" releases them."""
    db.session.refresh(flag)  # another tab may have decided a moment ago
    if flag.decided_at is not None:
        raise DomainError("Someone already decided on this message.")
    now = now or utcnow()
    company = db.session.get(Company, flag.company_id)
    assert company is not None
    if opt_out_number:
        _close_flags(
            company=company,
            phone=flag.phone,
            decision=RevocationDecision.OPTED_OUT,
            now=now,
            actor=actor,
        )
        record_office_opt_out(
            company=company,
            phone=flag.phone,
            actor=actor,
            source=OptOutSource.REVOCATION,
            note=f"“{flag.message.body[:200]}”",
        )
        return
    _close_flags(
        company=company,
        phone=flag.phone,
        decision=RevocationDecision.NOT_OPT_OUT,
        now=now,
        actor=actor,
    )
    release_held(company=company, phone=flag.phone, now=now)


def _still_current(message: Message, now: datetime) -> bool:
    """Whether a held job text still says something true (it may have waited days)."""
    job = message.job
    if job is None:
        return True
    if message.kind == MessageKind.ON_MY_WAY:
        return job.status in JobStatus.IN_PROGRESS
    if message.kind in (MessageKind.JOB_SCHEDULED, MessageKind.REMINDER):
        return job.status == JobStatus.SCHEDULED and job.scheduled_start > now
    if message.kind == MessageKind.JOB_CANCELED:
        return job.status == JobStatus.CANCELED
    return True


def release_held(*, company: Company, phone: str, now: datetime) -> int:
    """ "Not an opt-out": the held texts go, each at the first moment its quiet hours allow;
    one that is no longer true (the tech has left, the visit is past) is withdrawn."""
    held = db.session.scalars(
        sa.select(Message).where(
            Message.company_id == company.id,
            Message.to_phone == phone,
            Message.direction == Direction.OUT,
            Message.status == MessageStatus.PENDING,
            Message.next_attempt_at.is_(None),
        )
    ).all()
    for message in held:
        if not _still_current(message, now):
            message.status = MessageStatus.CANCELED
            message.error_message = "Not sent: it was no longer current when the hold ended."
            message.dedupe_key = None
            continue
        job = message.job
        address = (job.address or job.customer.address) if job else None
        later = quiet_hours_delay(
            company=company, phone=phone, kind=message.kind, address=address, now=now
        )
        message.next_attempt_at = later[0] if later else now
    if held:
        db.session.info["outbox_wake"] = True
    return len(held)


def record_office_opt_out(
    *,
    company: Company,
    phone: str,
    actor: User,
    source: str = OptOutSource.OFFICE,
    note: str | None = None,
) -> bool:
    """The customer asked the office (by phone, in person, or in words the office read)
    to stop texts. Sends the one confirmation; False when the number already was out."""
    customer = db.session.scalar(
        sa.select(Customer).filter_by(company_id=company.id, mobile_phone=phone)
    )
    created = opt_out(
        company_id=company.id, phone=phone, keyword=source, source=source, actor=actor, note=note
    )
    _close_flags(company=company, phone=phone, decision=RevocationDecision.OPTED_OUT, now=utcnow())
    if created:
        send_opt_out_confirmation(company=company, phone=phone, customer=customer)
    return created

"""Calls to a custom number (the seed's note on rule 1): they ring the business phone.

`route_call` decides, from the database, what a call gets, and keeps one `Call` row per
CallSid; the voice webhook turns the decision into TwiML. A call to a number no company
owns is kept for the operator (`UnroutedInbound`, channel "voice") and answered politely:
a caller never hears an error.

What a call leaves behind (issue 19): when its outcome is known (`record_dial_outcome`,
or at once for after-hours calls) the call gets a thread entry, a `Message` of kind CALL
in the caller's conversation, routed exactly as a text would be (in-progress job -> its
techs, else the Point of Contact, else the original owner) and unread. An unanswered call
also gets the missed-call text-back (`queue_missed_call_text`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Call,
    CallOutcome,
    Company,
    Direction,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    UnroutedInbound,
    utcnow,
)
from app.services import line_types
from app.services.business_hours import call_settings, customer_text, greeting, is_open
from app.services.conversations import conversation_for
from app.services.errors import DomainError
from app.services.message_templates import get_template
from app.services.numbers import company_for_called_number
from app.services.phones import normalize_phone
from app.services.routing import apply_routing, find_customer, in_progress_job
from app.services.uniqueness import insert_once, insert_or_get

log = logging.getLogger(__name__)

# Seconds the business phone rings before the caller is offered voicemail: about five
# rings, short of most voicemail pick-ups (which would swallow the call).
DIAL_TIMEOUT = 25
# The longest voicemail a caller may leave (Twilio's <Record maxLength>).
VOICEMAIL_MAX_SECONDS = 120
# One missed-call text per caller in this long, however often they call.
TEXT_BACK_EVERY = timedelta(hours=12)
# Twilio refuses a text to a landline with 21614 ("not a mobile number").
NOT_MOBILE_ERROR = 21614
RECORDING_NOTICE = "This call may be recorded."

# DialCallStatus -> what the call was.
DIAL_OUTCOMES = {
    "completed": CallOutcome.ANSWERED,
    "answered": CallOutcome.ANSWERED,
    "no-answer": CallOutcome.MISSED,
    "canceled": CallOutcome.MISSED,
    "busy": CallOutcome.BUSY,
    "failed": CallOutcome.FAILED,
}


class CallRoute:
    DIAL = "dial"  # ring the business phone
    VOICEMAIL = "voicemail"  # no phone to ring: greeting and voicemail
    AFTER_HOURS = "after_hours"  # closed: after-hours greeting (emergency option) and voicemail
    BLOCKED = "blocked"  # the business phone calling its own custom number: never forwarded
    UNROUTED = "unrouted"  # no company owns the number
    # Older name of VOICEMAIL (no business phone on the profile).
    NO_BUSINESS_PHONE = VOICEMAIL


@dataclass(frozen=True)
class CallDecision:
    route: str
    company: Company | None = None
    dial: str | None = None  # the business phone, E.164
    # The caller's own number, so the business sees who is calling; None when the caller
    # hides it ("anonymous") and Twilio then shows the custom number.
    caller_id: str | None = None
    greeting: str | None = None  # what the caller hears before the beep
    emergency_phone: str | None = None  # after hours: "press 1" rings this
    record_calls: bool = False  # the whole call is recorded (the notice is said first)
    call: Call | None = None


def _e164_or_none(raw: str | None) -> str | None:
    try:
        return normalize_phone(raw or "")
    except DomainError:
        return None


def route_call(*, form: Mapping[str, Any], now: datetime | None = None) -> CallDecision:
    """What a call Twilio reports in `form` (To, From, CallSid) should get (flushes)."""
    now = now or utcnow()
    to = (form.get("To") or form.get("Called") or "").strip()
    company = company_for_called_number(to)
    if company is None:
        _quarantine(form=form, to=to)
        return CallDecision(CallRoute.UNROUTED)
    caller = _e164_or_none(form.get("From"))
    custom = _e164_or_none(to)
    settings = call_settings(company)
    call = start_call(company=company, form=form, caller=caller, to=custom or to, now=now)
    business = company.business_phone
    if business and caller == business:
        # The business phone calling its own custom number: forwarding would ring the
        # phone that is calling. Said plainly, and kept in the log.
        if call is not None and call.outcome == CallOutcome.RINGING:
            set_outcome(call=call, outcome=CallOutcome.BLOCKED, now=now)
        return CallDecision(CallRoute.BLOCKED, company=company, caller_id=caller, call=call)
    voicemail = CallDecision(
        CallRoute.VOICEMAIL,
        company=company,
        caller_id=caller,
        greeting=greeting(company, after_hours=False),
        call=call,
    )
    if not is_open(company, now=now):
        emergency = settings.emergency_phone
        if emergency in (custom, caller):  # never ring the number itself, nor the caller
            emergency = None
        if call is not None and call.outcome == CallOutcome.RINGING:  # not on Twilio's retry
            set_outcome(call=call, outcome=CallOutcome.AFTER_HOURS, now=now)
        if emergency is None and call is not None:
            # With an on-call option the caller may still reach someone: the text waits
            # for the on-call phone's outcome or the voicemail.
            queue_missed_call_text(call=call, now=now)
        return CallDecision(
            CallRoute.AFTER_HOURS,
            company=company,
            caller_id=caller,
            greeting=greeting(company, after_hours=True),
            emergency_phone=emergency,
            record_calls=settings.record_calls,
            call=call,
        )
    if business == custom and business:
        # Dialing the number the call came in on would ring this webhook again, and again:
        # a loop that ties up both lines. The profile form refuses it; older data or an
        # operator's reassignment can still get here, so the caller gets voicemail.
        log.warning("company %s: the business phone is the custom number itself", company.id)
        business = None
    if not business:
        # Nobody to ring: a missed call at once (a voicemail, should the caller leave one).
        if call is not None and call.outcome == CallOutcome.RINGING:
            set_outcome(call=call, outcome=CallOutcome.MISSED, now=now)
            queue_missed_call_text(call=call, now=now)
        return voicemail
    return CallDecision(
        CallRoute.DIAL,
        company=company,
        dial=business,
        caller_id=caller,
        greeting=voicemail.greeting,
        record_calls=settings.record_calls,
        call=call,
    )


def company_called(*, form: Mapping[str, Any]) -> Company | None:
    """The company whose number was called (for the answer after the business phone rang)."""
    return company_for_called_number((form.get("To") or form.get("Called") or "").strip())


def find_call(*, form: Mapping[str, Any]) -> Call | None:
    sid = (form.get("CallSid") or "").strip()
    if not sid:
        return None
    return db.session.scalar(sa.select(Call).filter_by(twilio_sid=sid))


def start_call(
    *, company: Company, form: Mapping[str, Any], caller: str | None, to: str, now: datetime
) -> Call | None:
    """The call's row, once per CallSid (Twilio asking twice about one call finds it)."""
    sid = (form.get("CallSid") or "").strip()
    if not sid:
        return None
    stmt = sa.select(Call).filter_by(twilio_sid=sid)
    existing = db.session.scalar(stmt)
    if existing is not None:
        return existing
    phone = caller or (form.get("From") or "anonymous").strip()[:20]
    customer = find_customer(company=company, phone=phone) if caller else None
    conversation = conversation_for(company=company, phone=phone, customer=customer)
    call = Call(
        company_id=company.id,
        conversation_id=conversation.id,
        customer_id=customer.id if customer else None,
        from_phone=phone,
        to_phone=to[:20],
        twilio_sid=sid,
        direction=Direction.IN,
        outcome=CallOutcome.RINGING,
        started_at=now,
    )
    call, _ = insert_or_get(call, stmt)
    return call


def _clock(seconds: int | None) -> str:
    seconds = max(0, seconds or 0)
    return f"{seconds // 60}:{seconds % 60:02d}"


def call_summary(call: Call) -> str:
    """The thread entry's words: "Missed call", "Answered call · 3:12", "Voicemail · 0:14"."""
    if call.outcome == CallOutcome.ANSWERED:
        return f"Answered call · {_clock(call.duration_seconds)}"
    if call.outcome == CallOutcome.VOICEMAIL:
        seconds = call.voicemail.duration_seconds if call.voicemail else call.duration_seconds
        return f"Voicemail · {_clock(seconds)}"
    return call.outcome_label


def set_outcome(
    *, call: Call | None, outcome: str, now: datetime, duration: int | None = None
) -> Message | None:
    """Record what the call was and show it in the thread (flushes). An unanswered call's
    entry is routed as a text would be and is unread; an answered call is only logged."""
    if call is None:
        return None
    call.outcome = outcome
    if duration is not None:
        call.duration_seconds = duration
    if outcome != CallOutcome.AFTER_HOURS and call.ended_at is None:
        call.ended_at = now
    return _thread_entry(call=call, now=now)


def _thread_entry(*, call: Call, now: datetime) -> Message:
    message = db.session.get(Message, call.message_id) if call.message_id else None
    unanswered = call.outcome in CallOutcome.UNANSWERED
    if message is None:
        message = Message(
            company_id=call.company_id,
            conversation_id=call.conversation_id,
            direction=Direction.IN,
            kind=MessageKind.CALL,
            from_phone=call.from_phone,
            to_phone=call.to_phone,
            body=call_summary(call),
            status=MessageStatus.RECEIVED,
            extra={"call_id": call.id},
            created_at=call.started_at,
            # Blocked and answered calls are a log line, nobody's to-do.
            read_at=None if unanswered else now,
        )
        db.session.add(message)
        db.session.flush()
        call.message_id = message.id
        if unanswered:
            decision = apply_routing(message=message)
            call.routed_to_id = decision.recipient_ids[0] if decision.recipients else None
        else:
            _link_job(call=call, message=message)
            message.conversation.last_message_at = max(
                message.conversation.last_message_at or message.created_at, message.created_at
            )
    else:
        message.body = call_summary(call)
        if unanswered and call.outcome == CallOutcome.VOICEMAIL:
            # A message left after the "missed call" was seen is news again.
            message.read_at = None
            db.session.execute(
                sa.update(MessageRecipient)
                .where(MessageRecipient.message_id == message.id)
                .values(read_at=None)
            )
    db.session.flush()
    return message


def _link_job(*, call: Call, message: Message) -> None:
    customer = message.conversation.customer
    if customer is None:
        return
    job = in_progress_job(company=call.company, customer=customer)
    if job is not None:
        message.job_id = job.id


def record_dial_outcome(*, form: Mapping[str, Any], now: datetime | None = None) -> Call | None:
    """After the business phone rang (`<Dial action>`): answered, missed, busy or failed."""
    now = now or utcnow()
    call = find_call(form=form)
    if call is None:
        return None
    status = (form.get("DialCallStatus") or "").strip()
    outcome = DIAL_OUTCOMES.get(status, CallOutcome.MISSED)
    duration = None
    try:
        duration = int(form.get("DialCallDuration") or 0) if outcome == CallOutcome.ANSWERED else 0
    except ValueError:
        duration = None
    if call.outcome in (CallOutcome.RINGING, CallOutcome.AFTER_HOURS):
        set_outcome(call=call, outcome=outcome, now=now, duration=duration)
        if outcome in CallOutcome.UNANSWERED:
            queue_missed_call_text(call=call, now=now)
    return call


def record_call_ended(*, form: Mapping[str, Any], now: datetime | None = None) -> Call | None:
    """The number's call status callback (CallStatus completed, busy, no-answer, failed,
    canceled): the call is over. A call that never got an outcome (the caller hung up while
    it rang, or at the after-hours menu) is a missed call now, with its text-back."""
    now = now or utcnow()
    call = find_call(form=form)
    status = (form.get("CallStatus") or "").strip()
    if call is None or status not in ("completed", "busy", "no-answer", "failed", "canceled"):
        return call
    if call.ended_at is None or call.outcome == CallOutcome.AFTER_HOURS:
        call.ended_at = now
    if call.duration_seconds is None:
        try:
            call.duration_seconds = max(0, int(form.get("CallDuration") or 0))
        except ValueError:
            call.duration_seconds = 0
    if call.outcome == CallOutcome.RINGING:
        set_outcome(call=call, outcome=CallOutcome.MISSED, now=now)
        queue_missed_call_text(call=call, now=now)
    elif call.outcome == CallOutcome.AFTER_HOURS:
        queue_missed_call_text(call=call, now=now)  # once: the 12-hour rule
    db.session.flush()
    return call


# -- missed-call text-back -------------------------------------------------------------------


def is_landline(*, company: Company, phone: str, now: datetime | None = None) -> bool:
    """A number texts can't reach: one Twilio already refused as "not a mobile number"
    (21614) for this company, else what Twilio Lookup said (a stored answer only: the voice
    webhook must answer fast, so the worker asks Lookup before sending, see
    `lookup_refusal`), else a landline or toll-free line by its number type."""
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(phone, None))
    except phonenumbers.NumberParseException:
        return True
    refused = db.session.scalar(
        sa.select(Message.id)
        .filter_by(company_id=company.id, to_phone=phone, error_code=NOT_MOBILE_ERROR)
        .limit(1)
    )
    if refused is not None:
        return True
    looked = line_types.cached_lookup(phone=phone, now=now or utcnow())
    if looked is not None and (looked.line_type is not None or not looked.valid):
        # The carrier's answer beats the number's type (a US landline types as
        # FIXED_LINE_OR_MOBILE, like a mobile).
        return line_types.not_textable(looked) is not None
    return kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.TOLL_FREE)


def lookup_refusal(*, phone: str, now: datetime) -> str | None:
    """The worker's last look before a missed-call text goes: why Twilio Lookup says it
    cannot reach `phone` ("a landline"...), or None (a mobile, Lookup off, or Lookup failed
    or was slow: then the decision made when the text was queued stands). Makes an HTTP
    request unless the answer is stored: nothing may be uncommitted."""
    looked = line_types.look_up(phone=phone, now=now, timeout=line_types.WORKER_TIMEOUT)
    return line_types.not_textable(looked)


def text_back_skip_reason(*, company: Company, phone: str, now: datetime) -> str | None:
    """Why no missed-call text goes to `phone` now (None: it may go)."""
    from app.services.texting import texting_blocker

    template = get_template(company=company, kind=MessageKind.MISSED_CALL_TEXT)
    if not template.enabled:
        return "turned off"
    if _e164_or_none(phone) is None:
        return "hidden or invalid caller number"
    if is_landline(company=company, phone=phone, now=now):
        return "landline"
    blocker = texting_blocker(company=company, phone=phone, kind=MessageKind.MISSED_CALL_TEXT)
    if blocker is not None:
        return blocker.reason
    recent = db.session.scalar(
        sa.select(Message.id)
        .where(
            Message.company_id == company.id,
            Message.to_phone == phone,
            Message.kind == MessageKind.MISSED_CALL_TEXT,
            Message.created_at > now - TEXT_BACK_EVERY,
        )
        .limit(1)
    )
    if recent is not None:
        return "already texted in the last 12 hours"
    return None


def queue_missed_call_text(*, call: Call, now: datetime) -> Message | None:
    """ "Sorry we missed your call", through the outbox like any text, when it may go."""
    from app.services.texting import TextingUnavailable, queue_text

    company = call.company
    reason = text_back_skip_reason(company=company, phone=call.from_phone, now=now)
    if reason is not None:
        log.info("call %s: no missed-call text (%s)", call.twilio_sid, reason)
        return None
    customer = call.conversation.customer
    template = get_template(company=company, kind=MessageKind.MISSED_CALL_TEXT)
    body = customer_text(company=company, customer=customer, body=template.body)
    try:
        return queue_text(
            company=company,
            to_phone=call.from_phone,
            body=body,
            kind=MessageKind.MISSED_CALL_TEXT,
            customer=customer,
            dedupe_key=f"missed-call:{call.id}",
            extra={"call_id": call.id},
        )
    except TextingUnavailable as error:
        log.info("call %s: no missed-call text (%s)", call.twilio_sid, error.reason)
        return None


def _quarantine(*, form: Mapping[str, Any], to: str) -> None:
    sid = (form.get("CallSid") or "").strip() or None
    from_phone = (form.get("From") or "").strip()[:20]
    log.warning("call to a number no company owns: to=%s from=%s sid=%s", to, from_phone, sid)
    if sid is not None:
        seen = db.session.scalar(sa.select(UnroutedInbound.id).filter_by(twilio_sid=sid))
        if seen is not None:  # Twilio asked again about the same call
            return
    row = UnroutedInbound(
        channel="voice",
        twilio_sid=sid,
        from_phone=from_phone,
        to_phone=to[:20],
        body=None,
        payload={key: form.get(key) for key in form},
    )
    insert_once(row)  # a concurrent retry with the same CallSid stores it only once

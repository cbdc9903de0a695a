"""Business hours, holidays and the call settings of a company (issue 19).

`is_open` answers "is the company open at this moment", in the company's time zone: a
holiday is closed all day; otherwise the weekday's row says. A company that never set its
hours is always open (calls ring through as they always did, no after-hours replies).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    BusinessHours,
    CallSettings,
    Company,
    Customer,
    Holiday,
    Message,
    MessageKind,
    User,
    utcnow,
)
from app.services import media_store
from app.services.audio import audio_kind
from app.services.errors import DomainError, NotAllowed
from app.services.phones import normalize_phone
from app.services.uniqueness import insert_or_get

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DEFAULT_VOICEMAIL_GREETING = (
    "Sorry, nobody at {company_name} can take your call right now. Please leave a message "
    "after the tone, or send us a text at this number."
)
DEFAULT_AFTER_HOURS_GREETING = (
    "Thank you for calling {company_name}. We are closed right now. Please leave a message "
    "after the tone and we will call you back when we open."
)
GREETING_MAX = 600
# A recorded greeting: a minute of 8 kHz WAV is under 1 MB; MP3 far less.
GREETING_AUDIO_MAX_BYTES = 2 * 1024 * 1024
GREETING_AUDIO_NAME = re.compile(r"^[A-Za-z0-9_-]{20,64}\.(wav|mp3)$")


@dataclass(frozen=True)
class DayHours:
    weekday: int
    closed: bool
    opens_minute: int
    closes_minute: int

    @property
    def name(self) -> str:
        return WEEKDAYS[self.weekday]


# -- reads -----------------------------------------------------------------------------------


def call_settings(company: Company) -> CallSettings:
    """The company's call settings, created with the defaults on first use."""
    stmt = sa.select(CallSettings).filter_by(company_id=company.id)
    settings = db.session.scalar(stmt)
    if settings is None:
        settings, _ = insert_or_get(CallSettings(company_id=company.id), stmt)
    return settings


def greeting(company: Company, *, after_hours: bool) -> str:
    settings = call_settings(company)
    text = settings.after_hours_greeting if after_hours else settings.voicemail_greeting
    if not text:
        text = DEFAULT_AFTER_HOURS_GREETING if after_hours else DEFAULT_VOICEMAIL_GREETING
    # Only {company_name} is filled: the greeting is read out, never evaluated.
    return text.replace("{company_name}", company.name)


def greeting_audio_name(settings: CallSettings) -> str | None:
    """The public file name of the recorded greeting (what Twilio's <Play> fetches)."""
    if not settings.greeting_audio_key:
        return None
    return settings.greeting_audio_key.rsplit("/", 1)[-1]


def settings_for_greeting_name(name: str) -> CallSettings | None:
    if not GREETING_AUDIO_NAME.match(name or ""):
        return None
    # "_" is a LIKE wildcard and may be in a name: escaped, or "____…" would match any.
    pattern = f"{media_store.ROOT}/%/" + name.replace("\\", "\\\\").replace("_", "\\_")
    found = db.session.scalar(
        sa.select(CallSettings).where(CallSettings.greeting_audio_key.like(pattern, escape="\\"))
    )
    if found is None or found.greeting_audio_key.rsplit("/", 1)[-1] != name:
        return None
    return found


def week(company: Company) -> list[DayHours]:
    """Seven days, Monday first; a weekday without a row reads as closed."""
    rows = {
        row.weekday: row
        for row in db.session.scalars(sa.select(BusinessHours).filter_by(company_id=company.id))
    }
    out = []
    for weekday in range(7):
        row = rows.get(weekday)
        if row is None:
            out.append(DayHours(weekday, True, 8 * 60, 17 * 60))
        else:
            out.append(DayHours(weekday, row.closed, row.opens_minute, row.closes_minute))
    return out


def hours_are_set(company: Company) -> bool:
    found = db.session.scalar(sa.select(BusinessHours.id).filter_by(company_id=company.id).limit(1))
    return found is not None


def holidays(company: Company) -> list[Holiday]:
    return list(
        db.session.scalars(
            sa.select(Holiday).filter_by(company_id=company.id).order_by(Holiday.day)
        )
    )


def is_open(company: Company, *, now: datetime | None = None) -> bool:
    if not hours_are_set(company):
        return True
    local = (now or utcnow()).astimezone(company.tz)
    holiday = db.session.scalar(
        sa.select(Holiday.id).filter_by(company_id=company.id, day=local.date()).limit(1)
    )
    if holiday is not None:
        return False
    row = db.session.scalar(
        sa.select(BusinessHours).filter_by(company_id=company.id, weekday=local.weekday())
    )
    if row is None or row.closed:
        return False
    minute = local.hour * 60 + local.minute
    return row.opens_minute <= minute < row.closes_minute


def night_of(company: Company, *, now: datetime) -> date:
    """Which "night" `now` belongs to, for one after-hours reply per night: local noon to
    the next noon is one night (an evening and the morning after share a key)."""
    return ((now.astimezone(company.tz)) - timedelta(hours=12)).date()


# -- writes ----------------------------------------------------------------------------------


def _manager(company: Company, actor: User) -> None:
    if actor.company_id != company.id or not actor.is_manager:
        raise NotAllowed("Only an owner or admin can change business hours and call settings.")


def parse_clock(raw: str, *, field: str) -> int:
    """ "08:30" (an <input type=time>) -> minutes after midnight."""
    text = (raw or "").strip()
    try:
        hours, minutes = text.split(":")[:2]
        value = int(hours) * 60 + int(minutes)
    except ValueError:
        raise DomainError("Enter a time like 08:30.", field=field) from None
    if not 0 <= value < 24 * 60:
        raise DomainError("Enter a time like 08:30.", field=field)
    return value


def set_week(*, company: Company, actor: User, days: list[DayHours]) -> list[DayHours]:
    """Replace the seven weekdays' hours. Every day is checked before any is stored."""
    _manager(company, actor)
    if sorted(day.weekday for day in days) != list(range(7)):
        raise DomainError("Give hours for each of the seven days.")
    for day in days:
        if not day.closed and day.closes_minute <= day.opens_minute:
            raise DomainError(
                f"{day.name}: closing time must be after opening time.", field=f"day{day.weekday}"
            )
    rows = {
        row.weekday: row
        for row in db.session.scalars(sa.select(BusinessHours).filter_by(company_id=company.id))
    }
    for day in days:
        row = rows.get(day.weekday)
        if row is None:
            row = BusinessHours(company_id=company.id, weekday=day.weekday)
            db.session.add(row)
        row.closed = day.closed
        row.opens_minute = day.opens_minute
        row.closes_minute = day.closes_minute
    db.session.flush()
    return week(company)


def clear_week(*, company: Company, actor: User) -> None:
    """Forget the hours: calls ring through at any time again."""
    _manager(company, actor)
    db.session.execute(sa.delete(BusinessHours).where(BusinessHours.company_id == company.id))
    db.session.flush()


def add_holiday(*, company: Company, actor: User, day: date, name: str) -> Holiday:
    _manager(company, actor)
    stmt = sa.select(Holiday).filter_by(company_id=company.id, day=day)
    if db.session.scalar(stmt) is not None:
        raise DomainError(f"{day:%b %-d, %Y} is already a holiday.", field="day")
    holiday = Holiday(company_id=company.id, day=day, name=(name or "").strip()[:80])
    holiday, _ = insert_or_get(holiday, stmt)
    return holiday


def remove_holiday(*, company: Company, actor: User, holiday: Holiday) -> None:
    _manager(company, actor)
    if holiday.company_id != company.id:
        raise NotAllowed("That holiday belongs to another company.")
    db.session.delete(holiday)
    db.session.flush()


def set_greeting_audio(*, company: Company, actor: User, data: bytes) -> CallSettings:
    """Store an uploaded greeting (WAV or MP3, judged by its content) and use it instead of
    the voicemail greeting's text. The previous file is deleted."""
    _manager(company, actor)
    if not data:
        raise DomainError("Choose a WAV or MP3 file.", field="audio")
    if len(data) > GREETING_AUDIO_MAX_BYTES:
        raise DomainError(
            "The recording is larger than 2 MB; keep it under a minute.", field="audio"
        )
    kind = audio_kind(data)
    if kind is None:
        raise DomainError("That file is not a WAV or MP3 recording.", field="audio")
    settings = call_settings(company)
    old = settings.greeting_audio_key
    # A fresh unguessable key each time: its file name is the greeting's public address.
    key = media_store.save(data, company_id=company.id, extension=kind[1])
    settings.greeting_audio_key = key
    db.session.flush()
    if old and old != key:
        media_store.delete_after_commit(old)
    return settings


def remove_greeting_audio(*, company: Company, actor: User) -> CallSettings:
    _manager(company, actor)
    settings = call_settings(company)
    old, settings.greeting_audio_key = settings.greeting_audio_key, None
    db.session.flush()
    if old:
        media_store.delete_after_commit(old)
    return settings


def update_call_settings(
    *,
    company: Company,
    actor: User,
    voicemail_greeting: str,
    after_hours_greeting: str,
    emergency_phone: str,
    record_calls: bool,
    delete_recordings_at_twilio: bool,
    custom_number: str | None,
) -> CallSettings:
    _manager(company, actor)
    settings = call_settings(company)
    greetings = {}
    for field, value in (
        ("voicemail_greeting", voicemail_greeting),
        ("after_hours_greeting", after_hours_greeting),
    ):
        text = (value or "").strip()
        if len(text) > GREETING_MAX:
            raise DomainError(
                f"Keep the greeting under {GREETING_MAX} characters (it is read out).",
                field=field,
            )
        greetings[field] = text or None
    phone = None
    if (emergency_phone or "").strip():
        phone = normalize_phone(emergency_phone, field="emergency_phone")
        if custom_number is not None and phone == custom_number:
            # Ringing the number the call came in on would loop back into this webhook.
            raise DomainError(
                "The on-call phone can't be your custom number itself.", field="emergency_phone"
            )
    settings.voicemail_greeting = greetings["voicemail_greeting"]
    settings.after_hours_greeting = greetings["after_hours_greeting"]
    settings.emergency_phone = phone
    settings.record_calls = record_calls
    settings.delete_recordings_at_twilio = delete_recordings_at_twilio
    db.session.flush()
    return settings


# -- the after-hours text reply ----------------------------------------------------------------


def customer_text(*, company: Company, customer: Customer | None, body: str) -> str:
    """A template's text for an automatic reply with no job behind it (after hours, a
    missed call): the customer's and the company's names and the business phone."""
    from app.services.message_templates import render_text
    from app.services.notifications import customer_facing_phone

    return render_text(
        body=body,
        values={
            "customer_first_name": customer.first_name if customer else "",
            "customer_name": customer.name if customer else "",
            "company_name": company.name,
            "business_phone": customer_facing_phone(company),
        },
    )


def queue_after_hours_reply(
    *, message: Message, keyword: str | None, now: datetime
) -> Message | None:
    """One automatic reply per conversation per night to a text that arrives while the
    company is closed (only when it set business hours). Never to a keyword (STOP, HELP,
    START have their own answers), never where texting_blocker says no. Goes through the
    outbox like any text; the dedupe key makes it once per night however many texts come."""
    from app.services.message_templates import get_template
    from app.services.texting import TextingUnavailable, queue_text

    company = message.company
    if keyword is not None or message.kind != MessageKind.INBOUND:
        return None
    if is_open(company, now=now):  # also True when no hours are set
        return None
    template = get_template(company=company, kind=MessageKind.AFTER_HOURS_REPLY)
    if not template.enabled:
        return None
    conversation = message.conversation
    customer = conversation.customer
    body = customer_text(company=company, customer=customer, body=template.body)
    night = night_of(company, now=now)
    try:
        return queue_text(
            company=company,
            to_phone=conversation.phone,
            body=body,
            kind=MessageKind.AFTER_HOURS_REPLY,
            customer=customer,
            dedupe_key=f"after-hours:{conversation.id}:{night.isoformat()}",
            extra={"in_reply_to": message.id},
        )
    except TextingUnavailable:
        return None

"""The phone simulator's work: what an outside phone sees, and texting or calling the
company's custom number from it through the fake Twilio (signed webhooks into the same
routes Twilio would call)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit
from xml.dom import minidom
from xml.parsers.expat import ExpatError

import sqlalchemy as sa
from flask import current_app, url_for
from markupsafe import Markup, escape

from app.extensions import db
from app.models import (
    Company,
    Conversation,
    Customer,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
)
from app.services.errors import DomainError
from app.services.phones import format_phone
from app.services.texting import company_number
from app.sms.fake_twilio import FakeMedia, WebhookResult, fake_twilio

THREAD_LIMIT = 200
SAMPLE_PHOTO = "dev-sample-photo.jpg"
URL_PATTERN = re.compile(r"https?://[^\s<>\"']+")
# Outbound texts the phone has not received yet (still in the outbox, or withdrawn).
NOT_ON_PHONE = (MessageStatus.CANCELED,)


class SimulatorUnavailable(DomainError):
    status_code = 409


@dataclass(frozen=True)
class CallStep:
    path: str  # the app's webhook Twilio asked
    status: int  # the HTTP status it answered
    twiml: str  # what the app answered (pretty-printed)


@dataclass(frozen=True)
class CallOutcome:
    result: WebhookResult
    summary: list[str]
    twiml: str
    steps: tuple[CallStep, ...] = ()
    heard: tuple[str, ...] = ()
    voicemail: str | None = None  # what the caller said after the beep, if a message was left


def phone_customers(company: Company) -> list[Customer]:
    return list(
        db.session.scalars(
            sa.select(Customer).filter_by(company_id=company.id).order_by(Customer.name).limit(500)
        )
    )


def phone_thread(*, company: Company, phone: str) -> list[Message]:
    """The texts between the company's number and `phone`, oldest first, as the phone
    sees them (outbound texts withdrawn before sending never reached it, and the office's
    notes in the thread are not texts)."""
    conversation_id = db.session.scalar(
        sa.select(Conversation.id).filter_by(company_id=company.id, phone=phone)
    )
    if conversation_id is None:
        return []
    recent = db.session.scalars(
        sa.select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.status.not_in(NOT_ON_PHONE),
            # Office-side events shown in the inbox thread were never texts.
            Message.kind.not_in((MessageKind.NOTICE, MessageKind.CALL)),
        )
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(THREAD_LIMIT)
    )
    return list(reversed(list(recent)))


def customer_for_phone(*, company: Company, phone: str) -> Customer | None:
    return db.session.scalar(
        sa.select(Customer).filter_by(company_id=company.id, mobile_phone=phone)
    )


def _number_or_raise(company: Company) -> str:
    number = company_number(company)
    if number is None:
        raise SimulatorUnavailable(
            f"{company.name} has no custom number yet, so there is nothing to text or call."
        )
    return number.e164


# Twilio's limit for the media of one MMS.
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


def simulate_text(
    *,
    company: Company,
    phone: str,
    body: str,
    with_photo: bool,
    attachment: tuple[bytes, str] | None = None,
) -> WebhookResult:
    """`phone` texts the company's custom number (through the fake Twilio's signed webhook),
    with the sample photo and/or `attachment` (bytes, content type) as MMS."""
    to = _number_or_raise(company)
    body = body.strip()
    if not body and not with_photo and not attachment:
        raise DomainError("Type a message or attach the photo.", field="body")
    if attachment and len(attachment[0]) > MAX_ATTACHMENT_BYTES:
        raise DomainError("Twilio takes at most 5 MB of media in one text.", field="body")
    attachments = []
    if with_photo:
        # Twilio keeps the phone's picture as the message's Media and posts its URL on
        # api.twilio.com, which the worker fetches with the account's credentials.
        sample = Path(current_app.static_folder or "") / SAMPLE_PHOTO
        attachments.append((sample.read_bytes(), "image/jpeg"))
    if attachment:
        attachments.append(attachment)
    # Close this request's read transaction: the webhook writes from its own session.
    db.session.rollback()
    return fake_twilio().send_inbound_sms(from_=phone, to=to, body=body, attachments=attachments)


def phone_media(message: Message) -> list[tuple[str, str]]:
    """(address, content type) of the pictures a text carried, as the phone has them: the
    copies the fake Twilio holds for it (what the phone sent, or what Twilio fetched from
    the app's signed links), or a URL on the web for a text that named one."""
    if message.twilio_sid:
        held = fake_twilio().media_of(message.twilio_sid, with_deleted=True)
        if held:
            return [(url_for("dev.phone_media", sid=m.sid), m.content_type) for m in held]
    return [(url, "") for url in message.media_urls if url.startswith(("https://", "http://"))]


def phone_media_item(*, company: Company, sid: str) -> FakeMedia | None:
    """A picture on one of the company's simulated phones (its text must be the
    company's)."""
    with fake_twilio().lock:
        item = fake_twilio().media.get(sid)
    if item is None:
        return None
    owned = db.session.scalar(
        sa.select(Message.id).filter_by(company_id=company.id, twilio_sid=item.message_sid)
    )
    return item if owned is not None else None


def simulate_call(
    *,
    company: Company,
    phone: str,
    outcome: str = "no-answer",
    voicemail: str | None = None,
    press_1: bool = False,
    tone: bool = True,
) -> CallOutcome:
    """`phone` calls the company's custom number and the fake Twilio follows the call
    through the app's TwiML: `outcome` is what the business phone does, `voicemail` what
    the caller says after the beep (None or empty: hangs up), `press_1` presses 1 at the
    after-hours menu. The recording and transcription callbacks follow a moment later."""
    to = _number_or_raise(company)
    db.session.rollback()
    run = fake_twilio().voice.call(
        from_=phone,
        to=to,
        outcome=outcome,
        voicemail=(voicemail or "").strip() or None,
        digits="1" if press_1 else None,
        tone=tone,
    )
    result = run.first
    steps = tuple(
        CallStep(path=urlsplit(step.url).path, status=step.status, twiml=_pretty_xml(step.body))
        for step in run.webhooks
    )
    return CallOutcome(
        result=result,
        summary=describe_twiml(result),
        twiml=_pretty_xml(result.body),
        steps=steps,
        heard=tuple(line for line in run.heard if line),
        voicemail=run.recording.transcript if run.recording else None,
    )


def _pretty_xml(text: str) -> str:
    try:
        pretty = minidom.parseString(text).toprettyxml(indent="  ")
    except ExpatError:
        return text
    return pretty.split("\n", 1)[1] if pretty.startswith("<?xml") else pretty


def describe_twiml(result: WebhookResult) -> list[str]:
    """Plain words for a voice webhook's answer ("Rings (512) 555-0100 for 20 seconds")."""
    if result.status != 200:
        return [f"The voice webhook answered HTTP {result.status}; Twilio would play an error."]
    try:
        root = ET.fromstring(result.body)
    except ET.ParseError:
        return ["The voice webhook did not answer TwiML."]
    lines = []
    for verb in root:
        if verb.tag == "Dial":
            target = (verb.text or "").strip() or " ".join(
                (child.text or "").strip() for child in verb
            )
            parts = [f"Forwards the call to {format_phone(target)}"]
            if verb.get("timeout"):
                parts.append(f"ringing for up to {verb.get('timeout')} seconds")
            if verb.get("callerId"):
                parts.append(f"showing {format_phone(verb.get('callerId'))} as the caller")
            lines.append(", ".join(parts) + ".")
        elif verb.tag == "Say":
            lines.append(f"Says: “{(verb.text or '').strip()}”")
        elif verb.tag == "Hangup":
            lines.append("Hangs up.")
        elif verb.tag == "Record":
            lines.append(
                f"Records a voicemail of up to {verb.get('maxLength') or 3600} seconds after "
                "the beep."
            )
        elif verb.tag == "Gather":
            said = " ".join((child.text or "").strip() for child in verb if child.tag == "Say")
            lines.append(f"Waits for a key while saying: “{said}”")
        else:
            lines.append(f"{verb.tag}: {(verb.text or '').strip()}")
    return lines or ["The answer is empty: Twilio would hang up."]


def linkify(text: str) -> Markup:
    """Escape `text` and turn web addresses into links that open in a new tab."""
    out = []
    last = 0
    for match in URL_PATTERN.finditer(text or ""):
        url = match.group(0).rstrip(".,;:!?)")
        end = match.start() + len(url)
        out.append(escape(text[last : match.start()]))
        out.append(
            Markup('<a href="{0}" target="_blank" rel="noopener noreferrer">{0}</a>').format(url)
        )
        last = end
    out.append(escape((text or "")[last:]))
    return Markup("").join(out)


def delivery_label(message: Message) -> tuple[str, str]:
    """(css modifier, words) for the ticks under a text the company sent."""
    status = message.status
    if message.direction == Direction.IN:
        return "in", "Sent"
    if status in (MessageStatus.PENDING, MessageStatus.SENDING):
        return "pending", "Waiting in the outbox…"
    if status == MessageStatus.QUEUED:
        return "queued", "✓ Accepted by Twilio"
    if status == MessageStatus.SENT:
        return "sent", "✓ Sent"
    if status == MessageStatus.DELIVERED:
        return "delivered", "✓✓ Delivered"
    return "failed", "Not delivered" + (
        f": {message.error_message}" if message.error_message else ""
    )

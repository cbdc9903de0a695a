"""Inbound texts: what happens to what Twilio posts to the SMS webhook.

Two halves. The webhook (`accept_sms`) checks the required fields and keeps the post as an
`InboundReceipt`, one per `MessageSid`, and answers: a few milliseconds, whatever the rest
costs, so Twilio never times out and retries under load. The worker (`route_receipts`,
run by `flask outbox work` and the development server's thread) then does the rest in one
transaction per batch: find the company by the number texted (`To`), the customer by
`From` inside that company only, store the text once per `MessageSid` (Twilio retries, the
fallback URL and duplicate deliveries all end as one row), apply opt-out keywords, route
it (rule 4), and delete the receipt.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models import (
    Direction,
    InboundReceipt,
    Message,
    MessageKind,
    MessageStatus,
    PhoneNumber,
    UnroutedInbound,
)
from app.services.business_hours import queue_after_hours_reply
from app.services.conversations import conversation_for
from app.services.errors import DomainError
from app.services.message_media import record_inbound_media
from app.services.opt_outs import (  # noqa: F401  (re-exported: the names tests and callers know)
    HELP_KEYWORDS,
    OPT_IN_KEYWORDS,
    OPT_OUT_KEYWORDS,
    apply_inbound,
    keyword_of,
    opt_in,
    opt_out,
)
from app.services.routing import apply_routing, find_customer
from app.services.uniqueness import insert_or_get, insert_unless_present

log = logging.getLogger(__name__)


class InvalidWebhook(DomainError):
    status_code = 400


@dataclass(frozen=True)
class InboundResult:
    message: Message | None  # None when the text went to quarantine
    created: bool  # False for a repeated delivery of a text already stored
    keyword: str | None = None
    unrouted: UnroutedInbound | None = None


def media_of(form: Mapping[str, Any]) -> list[dict[str, str]]:
    """MMS attachments as posted (MediaUrlN / MediaContentTypeN). Never fetched here: the
    worker fetches them later (app/services/message_media.py), from Twilio only."""
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        count = 0
    media = []
    for index in range(min(count, 10)):
        url = (form.get(f"MediaUrl{index}") or "").strip()
        # Kept whatever it names, so a refused item shows as not fetched (and is logged).
        if url:
            media.append({"url": url, "content_type": form.get(f"MediaContentType{index}") or ""})
    return media


# Receipts the worker takes per transaction: enough to share a commit, few enough that a
# batch holds its locks for a fraction of a second.
RECEIPT_BATCH = 20
RECEIPT_RETRY_FIRST = timedelta(seconds=5)
RECEIPT_RETRY_MAX = timedelta(minutes=5)


# A receipt whose text fails this many times is quarantined (with its last error) instead
# of being retried for ever; with the backoff above that is about 40 minutes of retries.
RECEIPT_MAX_ATTEMPTS = 12
# Widths of the columns a text is stored in (app/models/messaging.py). Twilio's SIDs are 34
# characters and its phone numbers E.164 (at most 16): a post beyond these is not a text
# that can be stored as a Message, and is quarantined with its reason at the door.
SID_MAX = 64
PHONE_MAX = 20
# Errors that say the receipt's data cannot be stored (a retry would fail the same way):
# PostgreSQL's "value too long", "invalid byte sequence", "integer out of range".
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (sa.exc.DataError, InvalidWebhook)


def clean_payload(form: Mapping[str, Any]) -> dict[str, Any]:
    """What Twilio posted, as a dict, without NUL characters: PostgreSQL text cannot hold
    them, and the text is worth keeping without them rather than refusing it."""
    payload = {}
    for key in form:
        value = form.get(key)
        if isinstance(value, str) and "\x00" in value:
            value = value.replace("\x00", "")
        payload[key.replace("\x00", "")] = value
    return payload


def unstorable_reason(*, sid: str, to_phone: str, from_phone: str) -> str | None:
    """Why a post cannot become a Message (None when it can). No query: length checks only,
    on the SMS webhook's hot path."""
    if len(sid) > SID_MAX:
        return f"MessageSid is {len(sid)} characters long (a Twilio SID has 34)."
    if len(from_phone) > PHONE_MAX:
        return f"From is {len(from_phone)} characters long: not a phone number."
    if len(to_phone) > PHONE_MAX:
        return f"To is {len(to_phone)} characters long: not a phone number."
    return None


def _required(form: Mapping[str, Any]) -> tuple[str, str, str]:
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    to_phone = (form.get("To") or "").strip()
    from_phone = (form.get("From") or "").strip()
    if not sid or not to_phone or not from_phone:
        raise InvalidWebhook("MessageSid, From and To are required.")
    return sid, to_phone, from_phone


def accept_sms(*, form: Mapping[str, Any], now: datetime) -> str | None:
    """The webhook's half: keep what Twilio posted until the worker routes it. The receipt
    is committed when this returns (see `insert_unless_present`); a repeated delivery of a
    text still waiting is ignored.

    A post that can never be stored as a text (a SID or phone too long for its column) is
    put in quarantine instead, and the reason returned: the caller commits that. Twilio
    still gets its 200, so it does not retry what would fail again."""
    payload = clean_payload(form)
    sid, to_phone, from_phone = _required(payload)
    reason = unstorable_reason(sid=sid, to_phone=to_phone, from_phone=from_phone)
    if reason is not None:
        log.warning("inbound: %s quarantined: %s", sid[:SID_MAX], reason)
        quarantine_payload(payload=payload, reason=reason)
        return reason
    insert_unless_present(
        db.engine,
        InboundReceipt.__table__,
        {
            "twilio_sid": sid,
            "payload": payload,
            "received_at": now,
            "next_attempt_at": now,
            "attempts": 0,
        },
        unique_column="twilio_sid",
    )
    return None


def route_receipts(*, now: datetime, limit: int = RECEIPT_BATCH) -> int:
    """The worker's half: store and route up to `limit` due receipts, oldest first, and
    commit. Returns how many were taken (routed or put back for a retry). Several workers
    share the queue: on PostgreSQL each takes receipts no other holds (SKIP LOCKED); a
    receipt taken twice anyway (SQLite) still makes one message, by its MessageSid."""
    receipts = db.session.scalars(
        sa.select(InboundReceipt)
        .where(InboundReceipt.next_attempt_at <= now)
        .order_by(InboundReceipt.next_attempt_at, InboundReceipt.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    routed = []
    for receipt in receipts:
        try:
            with db.session.begin_nested():
                receive_sms(form=receipt.payload, received_at=receipt.received_at)
            routed.append(receipt.id)
        except Exception as error:  # one bad text must not hold up the others
            log.exception("inbound: receipt %s (%s) failed", receipt.id, receipt.twilio_sid)
            receipt.attempts += 1
            receipt.last_error = f"{type(error).__name__}: {error}"[:2000]
            if (
                isinstance(error, PERMANENT_ERRORS) or receipt.attempts >= RECEIPT_MAX_ATTEMPTS
            ) and _quarantine_receipt(receipt):
                routed.append(receipt.id)
                continue
            delay = min(RECEIPT_RETRY_FIRST * 2 ** (receipt.attempts - 1), RECEIPT_RETRY_MAX)
            receipt.next_attempt_at = now + delay
    if routed:
        db.session.execute(sa.delete(InboundReceipt).where(InboundReceipt.id.in_(routed)))
    db.session.commit()
    return len(receipts)


def receive_sms(*, form: Mapping[str, Any], received_at: datetime) -> InboundResult:
    """Store and route one inbound text (flushes; the caller commits). `received_at` is
    when the webhook took it, which orders the conversation."""
    sid, to_phone, from_phone = _required(form)
    body = form.get("Body") or ""
    media = media_of(form)

    number = db.session.scalar(
        sa.select(PhoneNumber).options(so.joinedload(PhoneNumber.company)).filter_by(e164=to_phone)
    )
    if number is None:
        return _quarantine(sid=sid, from_phone=from_phone, to_phone=to_phone, body=body, form=form)

    existing = db.session.scalar(sa.select(Message).filter_by(twilio_sid=sid))
    if existing is not None:
        return InboundResult(existing, created=False, keyword=keyword_of(existing.body))

    company = number.company
    customer = find_customer(company=company, phone=from_phone)
    conversation = conversation_for(company=company, phone=from_phone, customer=customer)
    keyword = keyword_of(body)
    message = Message(
        company=company,
        conversation=conversation,
        direction=Direction.IN,
        kind=MessageKind.INBOUND,
        from_phone=from_phone,
        to_phone=to_phone,
        body=body,
        media_urls=[item["url"] for item in media],
        status=MessageStatus.RECEIVED,
        twilio_sid=sid,
        extra={"media": media, **({"keyword": keyword} if keyword else {})},
        created_at=received_at,
    )
    # No savepoint around the insert: receipts are unique per MessageSid and a worker holds
    # its receipts locked, so a second insert of this SID would need a second receipt
    # routed at the same moment (impossible); should it ever happen, the unique constraint
    # fails the receipt, which is retried and then finds the message above.
    db.session.add(message)
    if media:
        record_inbound_media(company=company, message=message, items=media, now=received_at)
    # The routing's look-ups must not flush the new message early: it is inserted once,
    # with its recipients and reason already on it.
    with db.session.no_autoflush:
        apply_routing(message=message)
    db.session.flush()
    # Then what the words do: opt-out/opt-in/HELP keywords (with their one reply), "stop
    # texting me" flagged for a person, "texted us first" consent.
    apply_inbound(
        message=message,
        company=company,
        customer=customer,
        keyword=keyword,
        opt_out_type=(form.get("OptOutType") or "").strip().upper() or None,
        now=received_at,
    )
    # Closed (business hours, issue 19): one automatic reply per conversation per night.
    queue_after_hours_reply(message=message, keyword=keyword, now=received_at)
    return InboundResult(message, created=True, keyword=keyword)


def _quarantine(
    *, sid: str, from_phone: str, to_phone: str, body: str, form: Mapping[str, Any]
) -> InboundResult:
    """A text to a number no company owns: keep it for the operator, once per SID."""
    existing = db.session.scalar(sa.select(UnroutedInbound).filter_by(twilio_sid=sid))
    if existing is not None:
        return InboundResult(None, created=False, unrouted=existing)
    payload = {key: form.get(key) for key in form}
    row = UnroutedInbound(
        channel="sms",
        twilio_sid=sid,
        from_phone=from_phone,
        to_phone=to_phone,
        body=body,
        payload=payload,
    )
    row, created = insert_or_get(row, sa.select(UnroutedInbound).filter_by(twilio_sid=sid))
    return InboundResult(None, created=created, unrouted=row)


def _quarantine_receipt(receipt: InboundReceipt) -> bool:
    """Move a receipt that keeps failing on its data to the quarantine, with its error as
    the reason (the operator sees it in `flask numbers quarantine`). False if even that
    failed: the receipt then stays and is retried."""
    reason = f"Could not be stored after {receipt.attempts} attempt(s): {receipt.last_error}"
    try:
        with db.session.begin_nested():
            quarantine_payload(payload=clean_payload(receipt.payload), reason=reason)
    except Exception:
        log.exception("inbound: receipt %s could not be quarantined", receipt.id)
        return False
    return True


def quarantine_payload(
    *, payload: Mapping[str, Any], reason: str, channel: str = "sms"
) -> UnroutedInbound:
    """Keep a post that cannot be stored as a text, whole, with why (flushes). Values too
    long for their columns are cut there; the payload keeps them as posted."""
    sid = (payload.get("MessageSid") or payload.get("SmsSid") or "").strip()
    sid_column = sid if 0 < len(sid) <= SID_MAX else None
    row = UnroutedInbound(
        channel=channel,
        twilio_sid=sid_column,
        from_phone=(payload.get("From") or "").strip()[:PHONE_MAX],
        to_phone=(payload.get("To") or "").strip()[:PHONE_MAX],
        body=payload.get("Body") or "",
        payload=dict(payload),
        reason=reason[:500],
    )
    if sid_column is None:
        db.session.add(row)
        db.session.flush()
        return row
    row, _ = insert_or_get(row, sa.select(UnroutedInbound).filter_by(twilio_sid=sid_column))
    return row


def quarantined_texts() -> list[UnroutedInbound]:
    """Every quarantined text, oldest first."""
    return list(
        db.session.scalars(
            sa.select(UnroutedInbound)
            .filter_by(channel="sms")
            .order_by(UnroutedInbound.created_at, UnroutedInbound.id)
        )
    )


class NotRedeliverable(DomainError):
    status_code = 409


def redeliver_quarantined(*, row: UnroutedInbound) -> Message:
    """Store and route a quarantined text again, once what kept it out is fixed (the number
    now belongs to a company, a bug that failed its receipt is deployed away). Flushes; the
    caller commits. The quarantine row is deleted once the text is a message; a text that
    was stored meanwhile (same MessageSid) is not stored twice.

    Raises `NotRedeliverable` when it would land in quarantine again, or cannot be a text,
    and lets any other error through with nothing changed (a savepoint)."""
    if row.channel != "sms":
        raise NotRedeliverable(
            f"#{row.id} is a {row.channel} post: only texts can be delivered again "
            "(a call is over, a status callback is about a text already handled)."
        )
    payload = clean_payload(row.payload or {})
    try:
        sid, to_phone, from_phone = _required(payload)
    except InvalidWebhook as error:
        raise NotRedeliverable(f"#{row.id}: {error.message}") from error
    reason = unstorable_reason(sid=sid, to_phone=to_phone, from_phone=from_phone)
    if reason is not None:
        raise NotRedeliverable(f"#{row.id} can never be a text: {reason}")
    with db.session.begin_nested():
        result = receive_sms(form=payload, received_at=row.created_at)
        if result.message is None:
            raise NotRedeliverable(
                f"#{row.id}: no company owns {to_phone} yet (flask numbers reassign first)."
            )
        db.session.delete(row)
    return result.message

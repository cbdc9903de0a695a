"""Voicemails: what Twilio's recording callbacks tell us, and the worker's fetch.

The recording status callback (`accept_recording`) stores one `Voicemail` per
RecordingSid: replays, retries and a second delivery all find the first row. It only
notes where the audio is; the worker (`fetch_due_voicemails`, a periodic task) fetches it
with the account's credentials through the gateway, from Twilio's own hosts only, checks
that it is audio, keeps it under the upload folder and, when the company's privacy
setting says so, deletes it at Twilio. Browsers hear it only through the office's
company-checked route, never from Twilio's URL.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Call, CallOutcome, Message, Voicemail, VoicemailState, utcnow
from app.services import media_store
from app.services.audio import audio_kind
from app.services.business_hours import call_settings
from app.services.calls import find_call, queue_missed_call_text, set_outcome
from app.services.uniqueness import insert_or_get
from app.sms import gateway
from app.worker import leases

log = logging.getLogger(__name__)

FETCH_BATCH = 10
FETCH_RETRY_FIRST = timedelta(seconds=10)
FETCH_RETRY_MAX = timedelta(minutes=10)
FETCH_MAX_ATTEMPTS = 8
# How long a worker holds a voicemail it is fetching before another may try.
FETCH_LEASE = timedelta(minutes=2)
# How often the worker looks for recordings to fetch: the office is waiting to hear them.
WORK_INTERVAL = timedelta(seconds=5)
TRANSCRIPT_MAX = 5000


def _int(value: Any) -> int | None:
    try:
        return max(0, int(value))
    except (TypeError, ValueError):
        return None


def accept_recording(*, form: Mapping[str, Any], now: datetime | None = None) -> Voicemail | None:
    """The recording status callback: keep the voicemail once (flushes). None when there is
    nothing to keep (not completed, no call we know, no RecordingSid)."""
    now = now or utcnow()
    sid = (form.get("RecordingSid") or "").strip()
    status = (form.get("RecordingStatus") or "completed").strip()
    call = find_call(form=form)
    if not sid or call is None or len(sid) > 64:
        log.warning("recording callback for an unknown call or without a RecordingSid: %s", sid)
        return None
    # One voicemail per recording and per call (a second <Record> on one call is ignored).
    stmt = sa.select(Voicemail).where(
        sa.or_(Voicemail.recording_sid == sid, Voicemail.call_id == call.id)
    )
    existing = db.session.scalar(stmt)
    if existing is not None:
        return existing
    if status != "completed":
        log.info("recording %s of call %s: %s, nothing to keep", sid, call.twilio_sid, status)
        return None
    url = (form.get("RecordingUrl") or "").strip()[:500]
    voicemail = Voicemail(
        company_id=call.company_id,
        call_id=call.id,
        recording_sid=sid,
        recording_url=url or None,
        duration_seconds=_int(form.get("RecordingDuration")),
        state=VoicemailState.FETCHING,
        next_attempt_at=now,
        created_at=now,
    )
    voicemail, created = insert_or_get(voicemail, stmt)
    if not created:
        return voicemail
    db.session.refresh(call, ["voicemail"])
    if not gateway.is_twilio_media_url(url):
        # Never fetched, whoever asks: the account's credentials would go to that host.
        log.warning("recording %s: %r is not a Twilio address; not fetched", sid, url)
        voicemail.state = VoicemailState.FAILED
        voicemail.next_attempt_at = None
        voicemail.last_error = "The recording's address is not Twilio's; it was not fetched."
    if call.outcome != CallOutcome.ANSWERED:
        set_outcome(call=call, outcome=CallOutcome.VOICEMAIL, now=now)
        # Usually queued already when the call went unanswered (then this does nothing);
        # after hours with an on-call option it is queued now.
        queue_missed_call_text(call=call, now=now)
    db.session.info["outbox_wake"] = True  # the worker fetches it
    return voicemail


def accept_transcription(*, form: Mapping[str, Any]) -> Voicemail | None:
    """The transcription callback: the words go on the voicemail (shown as a transcript
    that "may contain mistakes"). A transcription for a recording not stored yet waits:
    Twilio retries a non-2xx, so None makes the route answer 404."""
    sid = (form.get("RecordingSid") or "").strip()
    if not sid:
        return None
    voicemail = db.session.scalar(sa.select(Voicemail).filter_by(recording_sid=sid))
    if voicemail is None:
        return None
    if (form.get("TranscriptionStatus") or "").strip() == "completed":
        text = (form.get("TranscriptionText") or "").strip()
        voicemail.transcript = text[:TRANSCRIPT_MAX] or None
        _touch_entry(voicemail)
        db.session.flush()
    return voicemail


def _touch_entry(voicemail: Voicemail) -> None:
    """The call's thread entry shows the voicemail: mark it changed so open inboxes redraw."""
    call = db.session.get(Call, voicemail.call_id) if voicemail.call_id else None
    message = db.session.get(Message, call.message_id) if call and call.message_id else None
    if message is not None:
        message.updated_at = utcnow()


def fetch_voicemail(*, voicemail: Voicemail, now: datetime) -> bool:
    """Fetch, check and store one voicemail's audio (flushes). True when stored."""
    voicemail.attempts += 1
    try:
        if not gateway.is_twilio_media_url(voicemail.recording_url or ""):
            raise gateway.PermanentGatewayError("Not a Twilio address: not fetched.")
        audio = gateway.fetch_recording(voicemail.recording_url or "")
        kind = audio_kind(audio.data)
        if kind is None:
            raise gateway.PermanentGatewayError(
                f"Twilio's answer is not audio ({audio.content_type or 'no type'})."
            )
        content_type, extension = kind
        key = media_store.save(
            audio.data,
            company_id=voicemail.company_id,
            extension=extension,
            name=voicemail.recording_sid,
        )
    except (gateway.GatewayError, media_store.MediaStoreUnavailable) as error:
        # A store that refuses us (S3 down, keys rotated) is retried like a Twilio error.
        voicemail.last_error = str(error)[:2000]
        permanent = isinstance(error, gateway.PermanentGatewayError)
        if permanent or voicemail.attempts >= FETCH_MAX_ATTEMPTS:
            voicemail.state = VoicemailState.FAILED
            voicemail.next_attempt_at = None
        else:
            voicemail.next_attempt_at = now + leases.backoff(
                attempts=voicemail.attempts, first=FETCH_RETRY_FIRST, most=FETCH_RETRY_MAX
            )
        _touch_entry(voicemail)
        db.session.flush()
        return False
    voicemail.storage_key = key
    voicemail.content_type = content_type
    voicemail.state = VoicemailState.STORED
    voicemail.next_attempt_at = None
    voicemail.last_error = None
    _touch_entry(voicemail)
    db.session.flush()
    _delete_at_twilio_if_wanted(voicemail=voicemail, now=now)
    return True


def _delete_at_twilio_if_wanted(*, voicemail: Voicemail, now: datetime) -> None:
    call = db.session.get(Call, voicemail.call_id) if voicemail.call_id else None
    if call is None or not call_settings(call.company).delete_recordings_at_twilio:
        return
    try:
        gateway.delete_recording(voicemail.recording_sid)
    except gateway.GatewayError as error:
        # Our copy is safe; Twilio keeps its copy until an operator deletes it. Logged.
        log.warning("recording %s not deleted at Twilio: %s", voicemail.recording_sid, error)
        return
    voicemail.deleted_at_twilio_at = now
    db.session.flush()


def fetch_due_voicemails(*, now: datetime, limit: int = FETCH_BATCH) -> int:
    """Fetch voicemails whose audio is still at Twilio, committing after each. Several
    workers may run: each voicemail is claimed first (its next attempt pushed FETCH_LEASE
    ahead by a conditional UPDATE), so only one of them fetches it. Returns how many were
    stored."""
    due = list(
        db.session.scalars(
            sa.select(Voicemail.id)
            .where(Voicemail.state == VoicemailState.FETCHING, Voicemail.next_attempt_at <= now)
            .order_by(Voicemail.next_attempt_at, Voicemail.id)
            .limit(limit)
        )
    )
    db.session.commit()
    stored = 0
    for voicemail_id in due:
        claimed = leases.claim(
            Voicemail, voicemail_id, state=VoicemailState.FETCHING, now=now, lease=FETCH_LEASE
        )
        db.session.commit()
        if not claimed:
            continue
        voicemail = db.session.get(Voicemail, voicemail_id)
        db.session.refresh(voicemail)
        stored += fetch_voicemail(voicemail=voicemail, now=now)
        db.session.commit()
    return stored


def voicemail_for_message(message_extra: dict[str, Any]) -> Voicemail | None:
    call_id = (message_extra or {}).get("call_id")
    if not call_id:
        return None
    return db.session.scalar(sa.select(Voicemail).filter_by(call_id=call_id))

"""POST /webhooks/twilio/voice and its follow-ups: calls to the custom number.

- Open hours: the call rings the company's business phone, showing the caller's own number
  (`<Dial action=/voice/dial-status>`). When nobody answers (no-answer, busy, failed), the
  caller hears the voicemail greeting and may leave a message (`<Record maxLength=120>`).
- Closed (business hours, holidays): the after-hours greeting straight away, with "press 1"
  for the on-call phone when the company set one (`<Gather action=/voice/emergency>`), then
  voicemail.
- No business phone: greeting and voicemail.
- The business phone calling its own custom number is never forwarded (it would ring itself).
- Whole-call recording (off by default): the caller hears the notice first.
The recording status callback (`/voice/recording`) and the transcription
(`/voice/transcription`) are kept once each; the worker fetches the audio. Every route is
signed (app/webhooks/security.py). A call to a number no company owns gets a polite
message: Twilio must never hear a 5xx, because the caller would hear "an application error
has occurred".
"""

from __future__ import annotations

import logging

from flask import Response, abort, current_app, request
from sqlalchemy.exc import SQLAlchemyError
from twilio.twiml.voice_response import VoiceResponse

from app.extensions import db
from app.media.routes import send_media
from app.models import Company
from app.services.business_hours import (
    call_settings,
    greeting,
    greeting_audio_name,
    settings_for_greeting_name,
)
from app.services.calls import (
    DIAL_TIMEOUT,
    RECORDING_NOTICE,
    VOICEMAIL_MAX_SECONDS,
    CallDecision,
    CallRoute,
    company_called,
    find_call,
    record_dial_outcome,
    route_call,
)
from app.services.voicemail import accept_recording, accept_transcription
from app.urls import public_url_for
from app.webhooks import bp
from app.webhooks.security import empty_twiml, twilio_signature_required

log = logging.getLogger(__name__)

NOT_IN_SERVICE = (
    "Sorry, the number you called is not in service with us. Please check the number and "
    "try again. Goodbye."
)
SELF_CALL = (
    "This is your own business phone calling your custom number. Calls to this number ring "
    "this phone, so this call is not forwarded. Goodbye."
)
EMERGENCY_PROMPT = "If this is an emergency, press 1 now to reach our on-call technician."
AFTER_RECORDING = "Thank you. We got your message and will get back to you soon. Goodbye."


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), status=200, mimetype="text/xml")


def greeting_play_url(company: Company | None) -> str | None:
    """The company's recorded greeting, for <Play>; None when it has none."""
    if company is None:
        return None
    name = greeting_audio_name(call_settings(company))
    return public_url_for("webhooks.twilio_voice_greeting", filename=name) if name else None


def voicemail_twiml(
    response: VoiceResponse, greeting_text: str, *, play_url: str | None = None
) -> VoiceResponse:
    """The greeting (the recorded one when uploaded), the beep and up to two minutes of
    message."""
    if play_url:
        response.play(play_url)
    else:
        response.say(greeting_text)
    record = {
        "max_length": VOICEMAIL_MAX_SECONDS,
        "play_beep": True,
        "timeout": 5,
        "action": public_url_for("webhooks.twilio_voice_recorded"),
        "method": "POST",
        "recording_status_callback": public_url_for("webhooks.twilio_voice_recording"),
        "recording_status_callback_method": "POST",
        "recording_status_callback_event": "completed",
    }
    if current_app.config.get("VOICEMAIL_TRANSCRIPTION", True):
        record["transcribe"] = True
        record["transcribe_callback"] = public_url_for("webhooks.twilio_voice_transcription")
    response.record(**record)
    # Reached only when the caller said nothing: Twilio makes no recording then.
    response.say("We did not get a message. Goodbye.")
    response.hangup()
    return response


def _dial(response: VoiceResponse, *, number: str, caller_id: str | None, record: bool) -> None:
    kwargs = {
        "caller_id": caller_id,
        "timeout": DIAL_TIMEOUT,
        "answer_on_bridge": True,
        "action": public_url_for("webhooks.twilio_voice_dial_status"),
        "method": "POST",
    }
    if record:
        # Fetched and stored like a voicemail (and deleted at Twilio the same way); it
        # plays on the answered call's entry.
        kwargs["record"] = "record-from-answer-dual"
        kwargs["recording_status_callback"] = public_url_for("webhooks.twilio_voice_recording")
        kwargs["recording_status_callback_event"] = "completed"
    dial = response.dial(**kwargs)
    dial.number(number)


def _answer(decision: CallDecision) -> VoiceResponse:
    response = VoiceResponse()
    if decision.company is None:
        response.say(NOT_IN_SERVICE)
        response.hangup()
        return response
    if decision.record_calls:
        # The legally required notice comes before anything else the caller hears.
        response.say(RECORDING_NOTICE)
    if decision.route == CallRoute.DIAL and decision.dial:
        _dial(
            response,
            number=decision.dial,
            caller_id=decision.caller_id,
            record=decision.record_calls,
        )
    elif decision.route == CallRoute.BLOCKED:
        response.say(SELF_CALL)
        response.hangup()
    elif decision.route == CallRoute.AFTER_HOURS:
        if decision.emergency_phone:
            gather = response.gather(
                num_digits=1,
                timeout=5,
                action=public_url_for("webhooks.twilio_voice_emergency"),
                method="POST",
            )
            gather.say(f"{decision.greeting} {EMERGENCY_PROMPT}")
            # No key pressed: on to the voicemail (without saying the greeting twice).
            voicemail_twiml(response, "Please leave your message after the tone.")
        else:
            voicemail_twiml(response, decision.greeting or "")
    else:
        voicemail_twiml(
            response, decision.greeting or "", play_url=greeting_play_url(decision.company)
        )
    return response


@bp.post("/twilio/voice")
@twilio_signature_required
def twilio_voice() -> Response:
    try:
        decision = route_call(form=request.form)
        db.session.commit()
    except SQLAlchemyError:
        # The caller is on the line: answer politely even when the database is not.
        db.session.rollback()
        log.exception(
            "voice webhook could not read or store the call %s", request.form.get("CallSid")
        )
        decision = CallDecision(CallRoute.UNROUTED)
    return _twiml(_answer(decision))


@bp.post("/twilio/voice/dial-status")
@twilio_signature_required
def twilio_voice_dial_status() -> Response:
    """After the business phone (or the on-call phone) rang: hang up after a conversation,
    or take a voicemail."""
    response = VoiceResponse()
    status = (request.form.get("DialCallStatus") or "").strip()
    company = None
    try:
        call = record_dial_outcome(form=request.form)
        company = call.company if call is not None else company_called(form=request.form)
        text = greeting(company, after_hours=False) if company is not None else None
        play_url = greeting_play_url(company)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("dial-status webhook could not record the call")
        company, text, play_url = None, None, None
    if status in ("completed", "answered") or company is None:
        response.hangup()
        return _twiml(response)
    return _twiml(voicemail_twiml(response, text or "", play_url=play_url))


@bp.post("/twilio/voice/emergency")
@twilio_signature_required
def twilio_voice_emergency() -> Response:
    """After hours, the caller pressed a key: 1 rings the on-call phone; anything else
    goes to voicemail."""
    response = VoiceResponse()
    digits = (request.form.get("Digits") or "").strip()
    try:
        call = find_call(form=request.form)
        company = call.company if call is not None else company_called(form=request.form)
        on_call = call_settings(company).emergency_phone if company is not None else None
        caller = call.from_phone if call is not None else None
        custom = call.to_phone if call is not None else None
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("emergency webhook could not read the call")
        company, on_call, caller, custom = None, None, None, None
    if company is None:
        response.say(NOT_IN_SERVICE)
        response.hangup()
        return _twiml(response)
    if digits == "1" and on_call and on_call not in (caller, custom):
        response.say("Connecting you to our on-call technician.")
        _dial(
            response,
            number=on_call,
            caller_id=caller,
            record=call_settings(company).record_calls,
        )
        return _twiml(response)
    return _twiml(voicemail_twiml(response, "Please leave your message after the tone."))


@bp.post("/twilio/voice/recorded")
@twilio_signature_required
def twilio_voice_recorded() -> Response:
    """`<Record action>`: the caller finished their message."""
    response = VoiceResponse()
    response.say(AFTER_RECORDING)
    response.hangup()
    return _twiml(response)


@bp.post("/twilio/voice/recording")
@twilio_signature_required
def twilio_voice_recording() -> Response:
    """Recording status callback: keep the voicemail (once, however often it is posted)."""
    try:
        accept_recording(form=request.form)
        db.session.commit()
    except SQLAlchemyError:
        db.session.rollback()
        log.exception("recording callback for %s failed", request.form.get("RecordingSid"))
        # A 5xx makes Twilio retry the callback: the voicemail is not lost.
        return Response("Could not store the recording.", status=503, mimetype="text/plain")
    return empty_twiml()


@bp.post("/twilio/voice/transcription")
@twilio_signature_required
def twilio_voice_transcription() -> Response:
    voicemail = accept_transcription(form=request.form)
    if voicemail is None:
        db.session.rollback()
        return Response("Unknown recording.", status=404, mimetype="text/plain")
    db.session.commit()
    return empty_twiml()


@bp.get("/twilio/voice/greetings/<filename>")
def twilio_voice_greeting(filename: str) -> Response:
    """A company's recorded greeting, fetched by Twilio for <Play>. Not signed (Twilio's
    media fetches carry no signature): the unguessable file name is the key, and the file
    is the greeting every caller hears anyway."""
    settings = settings_for_greeting_name(filename)
    if settings is None or not settings.greeting_audio_key:
        abort(404)
    key = settings.greeting_audio_key
    mimetype = "audio/mpeg" if key.endswith(".mp3") else "audio/wav"
    # From the local folder or the S3 bucket (MEDIA_STORE); nosniff, ranges, ETag.
    response = send_media(
        key, content_type=mimetype, download_name=filename, inline=True, max_age=300
    )
    # The greeting every caller hears: a shared cache may keep it (send_media says private).
    response.cache_control.private = False
    response.cache_control.public = True
    return response

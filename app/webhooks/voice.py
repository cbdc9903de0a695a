"""POST /webhooks/twilio/voice: calls to the custom number.

The call rings the company's business phone, showing the caller's own number. With no
business phone on the profile the caller hears the company's name and is asked to text
instead. When nobody answers, `/voice/dial-status` (Twilio's `<Dial action>`) says the same.
A call to a number no company owns gets a polite message: Twilio must never hear a 5xx,
because the caller would hear "an application error has occurred".
"""

from __future__ import annotations

import logging

from flask import Response, request
from sqlalchemy.exc import SQLAlchemyError
from twilio.twiml.voice_response import VoiceResponse

from app.extensions import db
from app.services.calls import DIAL_TIMEOUT, CallDecision, CallRoute, company_called, route_call
from app.urls import public_url_for
from app.webhooks import bp
from app.webhooks.security import twilio_signature_required

log = logging.getLogger(__name__)

NOT_IN_SERVICE = (
    "Sorry, the number you called is not in service with us. Please check the number and "
    "try again. Goodbye."
)
# DialCallStatus values after which the caller still deserves an explanation.
UNANSWERED = {"busy", "no-answer", "failed", "canceled"}


def _twiml(response: VoiceResponse) -> Response:
    return Response(str(response), status=200, mimetype="text/xml")


def _text_instead(response: VoiceResponse, company_name: str, *, tried: bool) -> None:
    opening = (
        f"Sorry, nobody at {company_name} could take your call right now."
        if tried
        else f"Thank you for calling {company_name}. We can't take calls at this number."
    )
    response.say(f"{opening} Please send us a text message at this same number instead. Goodbye.")
    response.hangup()


def _answer(decision: CallDecision) -> VoiceResponse:
    response = VoiceResponse()
    if decision.route == CallRoute.DIAL and decision.company is not None:
        action = public_url_for("webhooks.twilio_voice_dial_status")
        dial = response.dial(
            caller_id=decision.caller_id,
            timeout=DIAL_TIMEOUT,
            answer_on_bridge=True,
            action=action,
            method="POST",
        )
        dial.number(decision.dial)
    elif decision.route == CallRoute.NO_BUSINESS_PHONE and decision.company is not None:
        _text_instead(response, decision.company.name, tried=False)
    else:
        response.say(NOT_IN_SERVICE)
        response.hangup()
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
    """After the business phone rang: hang up after a call, or ask the caller to text."""
    response = VoiceResponse()
    status = (request.form.get("DialCallStatus") or "").strip()
    company = None
    if status in UNANSWERED:
        try:
            company = company_called(form=request.form)
        except SQLAlchemyError:
            db.session.rollback()
            log.exception("dial-status webhook could not find the company")
    if company is not None:
        _text_instead(response, company.name, tried=True)
    else:
        response.hangup()
    return _twiml(response)

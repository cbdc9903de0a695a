"""POST /webhooks/twilio/sms: inbound texts."""

from __future__ import annotations

from flask import Response, request

from app.extensions import db
from app.services.inbound import InvalidWebhook, receive_sms
from app.webhooks import bp
from app.webhooks.security import empty_twiml, twilio_signature_required


@bp.post("/twilio/sms")
@twilio_signature_required
def twilio_sms() -> Response:
    try:
        receive_sms(form=request.form)
    except InvalidWebhook as error:
        db.session.rollback()
        return Response(str(error), status=400, mimetype="text/plain")
    db.session.commit()
    return empty_twiml()

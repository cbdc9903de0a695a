"""POST /webhooks/twilio/sms: inbound texts.

Only the receipt is written here (app.services.inbound.accept_sms); the worker stores and
routes the text a moment later. Twilio gets its 200 only once the receipt is committed, so
an answered text is never lost; a failure is a 5xx, which Twilio logs (error 11200) and
follows with the number's fallback URL or connection-override retries where configured.
"""

from __future__ import annotations

from flask import Response, request

from app.extensions import db
from app.models import utcnow
from app.services.inbound import InvalidWebhook, accept_sms
from app.webhooks import bp
from app.webhooks.security import empty_twiml, twilio_signature_required
from app.worker.dispatcher import wake


@bp.post("/twilio/sms")
@twilio_signature_required
def twilio_sms() -> Response:
    try:
        quarantined = accept_sms(form=request.form, now=utcnow())
    except InvalidWebhook as error:
        return Response(str(error), status=400, mimetype="text/plain")
    if quarantined is not None:
        # Kept for the operator; a 200 so Twilio does not retry what would fail again.
        db.session.commit()
        return empty_twiml()
    wake()
    return empty_twiml()

"""POST /webhooks/twilio/status: delivery status callbacks."""

from __future__ import annotations

import logging

from flask import Response, request

from app.extensions import db
from app.models import utcnow
from app.services.outbox import STATUS_MARKER, record_status_callback
from app.webhooks import bp
from app.webhooks.security import twilio_signature_required

log = logging.getLogger(__name__)


@bp.post("/twilio/status")
@twilio_signature_required
def twilio_status() -> Response:
    form = request.form
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip()
    if not sid or not status:
        return Response(
            "MessageSid and MessageStatus are required.", status=400, mimetype="text/plain"
        )
    raw_code = (form.get("ErrorCode") or "").strip()
    error_code = int(raw_code) if raw_code.isdigit() and int(raw_code) != 0 else None
    message = record_status_callback(
        sid=sid,
        twilio_status=status,
        error_code=error_code,
        marker=request.args.get(STATUS_MARKER),
        from_=(form.get("From") or "").strip(),
        to=(form.get("To") or "").strip(),
        now=utcnow(),
    )
    if message is None:
        # Not ours (or long gone): answer 2xx anyway so Twilio does not keep trying.
        log.info("status callback for unknown message %s (%s)", sid, status)
    db.session.commit()
    return Response(status=204)

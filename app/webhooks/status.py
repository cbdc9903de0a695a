"""POST /webhooks/twilio/status: delivery status callbacks."""

from __future__ import annotations

import logging

from flask import Response, request

from app.extensions import db
from app.models import utcnow
from app.services.calls import record_call_ended
from app.services.inbound import SID_MAX, clean_payload, quarantine_payload
from app.services.outbox import STATUS_MARKER, record_status_callback
from app.webhooks import bp
from app.webhooks.security import twilio_signature_required

log = logging.getLogger(__name__)


@bp.post("/twilio/status")
@twilio_signature_required
def twilio_status() -> Response:
    form = clean_payload(request.form)
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip()
    if not sid and form.get("CallSid") and form.get("CallStatus"):
        # The number's status callback also reports its calls (app/services/calls.py).
        record_call_ended(form=form, now=utcnow())
        db.session.commit()
        return Response(status=204)
    if not sid or not status:
        return Response(
            "MessageSid and MessageStatus are required.", status=400, mimetype="text/plain"
        )
    raw_code = (form.get("ErrorCode") or "").strip()
    error_code = parse_error_code(raw_code)
    problem = None
    if len(sid) > SID_MAX:
        # No message of ours can have this SID: nothing to update; kept for the operator.
        problem = f"MessageSid is {len(sid)} characters long (a Twilio SID has 34)."
    elif raw_code and error_code is None:
        # The status itself is still worth recording; the code is not a number.
        problem = f"ErrorCode {raw_code[:20]!r} is not a number: the status was kept without it."
    message = None
    if len(sid) <= SID_MAX:
        message = record_status_callback(
            sid=sid,
            twilio_status=status,
            error_code=error_code,
            marker=request.args.get(STATUS_MARKER),
            from_=(form.get("From") or "").strip(),
            to=(form.get("To") or "").strip(),
            now=utcnow(),
        )
    if problem is not None:
        log.warning("status callback %s: %s", sid[:SID_MAX], problem)
        quarantine_payload(payload=form, reason=problem, channel="status")
    elif message is None:
        # Not ours (or long gone): answer 2xx anyway so Twilio does not keep trying.
        log.info("status callback for unknown message %s (%s)", sid, status)
    db.session.commit()
    return Response(status=204)


def parse_error_code(raw: str) -> int | None:
    """Twilio's ErrorCode (five digits), or None for none, "0" or anything not a number
    ("²" is a digit to str.isdigit but not to int)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 9:
        return None
    return int(raw) or None

"""POST /webhooks/twilio/trusthub: Trust Hub's status callbacks for a company's customer
profile and A2P trust product (the StatusCallback given when they were created). Brands and
campaigns have no callback: the worker polls them (app/services/registration)."""

from __future__ import annotations

import logging

from flask import Response, request

from app.extensions import db
from app.models import utcnow
from app.services.registration import record_bundle_status
from app.webhooks import bp
from app.webhooks.security import twilio_signature_required

log = logging.getLogger(__name__)


@bp.post("/twilio/trusthub")
@twilio_signature_required
def twilio_trusthub() -> Response:
    form = request.form
    bundle_sid = (form.get("BundleSid") or "").strip()
    status = (form.get("Status") or "").strip()
    if not bundle_sid or not status:
        return Response("BundleSid and Status are required.", status=400, mimetype="text/plain")
    found = record_bundle_status(
        bundle_sid=bundle_sid,
        status=status,
        failure_reason=(form.get("FailureReason") or "").strip() or None,
        now=utcnow(),
    )
    if not found:
        # Not ours (another deployment on the account): 2xx, so Twilio stops retrying.
        log.info("trust hub callback for unknown bundle %s (%s)", bundle_sid, status)
    db.session.commit()
    return Response(status=204)

"""POST /webhooks/stripe: Stripe's events about the connected accounts' payments.

Configure it in Stripe as a **Connect** webhook endpoint (events on connected accounts),
with its signing secret in STRIPE_WEBHOOK_SECRET. A request whose `Stripe-Signature` does
not verify is answered 403 and nothing is recorded. Each event is applied once (its id is
stored); Stripe's retries and duplicate deliveries get 200 and change nothing.
"""

from __future__ import annotations

import logging

from flask import Response, jsonify, request

from app.extensions import db
from app.payments import gateway
from app.services import online_payments
from app.services.errors import DomainError
from app.webhooks import bp

log = logging.getLogger(__name__)


@bp.post("/stripe")
def stripe_events() -> Response | tuple[Response, int]:
    try:
        event = gateway.verify_event(
            payload=request.get_data(), signature=request.headers.get("Stripe-Signature")
        )
    except gateway.BadSignature as error:
        log.warning("stripe webhook refused: %s", error)
        return Response("Bad signature.", status=403, mimetype="text/plain")
    # Not service_call: the answer is for Stripe (plain text and a status it acts on: it
    # retries an event until a 2xx), not a person's form or flash.
    try:
        outcome = online_payments.handle_event(event=event)
    except DomainError as error:
        db.session.rollback()
        return Response(error.message, status=400, mimetype="text/plain")
    db.session.commit()
    log.info("stripe event %s %s: %s", event.get("id"), event.get("type"), outcome)
    return jsonify(received=True, outcome=outcome), 200

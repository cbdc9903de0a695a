"""Calls to a custom number (the seed's note on rule 1): they ring the business phone.

`route_call` decides, from the database, what a call gets; the voice webhook turns the
decision into TwiML. A call to a number no company owns is kept for the operator
(`UnroutedInbound`, channel "voice") and answered politely: a caller never hears an error.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import Company, UnroutedInbound
from app.services.errors import DomainError
from app.services.numbers import company_for_called_number
from app.services.phones import normalize_phone
from app.services.uniqueness import insert_once

log = logging.getLogger(__name__)

# Seconds the business phone rings before the caller is told to text instead: about five
# rings, short of most voicemail pick-ups (which would swallow the call).
DIAL_TIMEOUT = 25


class CallRoute:
    DIAL = "dial"  # ring the business phone
    NO_BUSINESS_PHONE = "no_business_phone"  # the company has no phone to ring: text instead
    UNROUTED = "unrouted"  # no company owns the number


@dataclass(frozen=True)
class CallDecision:
    route: str
    company: Company | None = None
    dial: str | None = None  # the business phone, E.164
    # The caller's own number, so the business sees who is calling; None when the caller
    # hides it ("anonymous") and Twilio then shows the custom number.
    caller_id: str | None = None


def _e164_or_none(raw: str | None) -> str | None:
    try:
        return normalize_phone(raw or "")
    except DomainError:
        return None


def route_call(*, form: Mapping[str, Any]) -> CallDecision:
    """What a call Twilio reports in `form` (To, From, CallSid) should get."""
    to = (form.get("To") or form.get("Called") or "").strip()
    company = company_for_called_number(to)
    if company is None:
        _quarantine(form=form, to=to)
        return CallDecision(CallRoute.UNROUTED)
    caller = _e164_or_none(form.get("From"))
    if not company.business_phone:
        return CallDecision(CallRoute.NO_BUSINESS_PHONE, company=company, caller_id=caller)
    if company.business_phone == _e164_or_none(to):
        # Dialing the number the call came in on would ring this webhook again, and again:
        # a loop that ties up both lines. The profile form refuses it; older data or an
        # operator's reassignment can still get here, so say the polite fallback instead.
        log.warning("company %s: the business phone is the custom number itself", company.id)
        return CallDecision(CallRoute.NO_BUSINESS_PHONE, company=company, caller_id=caller)
    return CallDecision(
        CallRoute.DIAL, company=company, dial=company.business_phone, caller_id=caller
    )


def company_called(*, form: Mapping[str, Any]) -> Company | None:
    """The company whose number was called (for the answer after the business phone rang)."""
    return company_for_called_number((form.get("To") or form.get("Called") or "").strip())


def _quarantine(*, form: Mapping[str, Any], to: str) -> None:
    sid = (form.get("CallSid") or "").strip() or None
    from_phone = (form.get("From") or "").strip()[:20]
    log.warning("call to a number no company owns: to=%s from=%s sid=%s", to, from_phone, sid)
    if sid is not None:
        seen = db.session.scalar(sa.select(UnroutedInbound.id).filter_by(twilio_sid=sid))
        if seen is not None:  # Twilio asked again about the same call
            return
    row = UnroutedInbound(
        channel="voice",
        twilio_sid=sid,
        from_phone=from_phone,
        to_phone=to[:20],
        body=None,
        payload={key: form.get(key) for key in form},
    )
    insert_once(row)  # a concurrent retry with the same CallSid stores it only once

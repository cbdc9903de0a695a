"""The public texting terms page a company's campaign points to (/c/<token>/sms-terms):
what customers agree to when they give their number. Unguessable token, no login."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, render_template

from app.extensions import db
from app.models import MessagingRegistration
from app.public import bp


@bp.get("/c/<token>/sms-terms")
def sms_terms(token: str):
    registration = db.session.scalar(sa.select(MessagingRegistration).filter_by(public_token=token))
    if registration is None:
        abort(404)
    company = registration.company
    name = (registration.details or {}).get("legal_name") or company.name
    return render_template(
        "public/sms_terms.html", company=company, brand=name, phone=company.business_phone
    )

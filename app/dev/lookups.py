"""/dev/lookups (only with the fake Twilio): what Twilio Lookup answered about this
company's numbers, and the switch that decides what it answers next (landline, mobile,
toll-free...), for trying the missed-call text-back and the landline warnings by hand."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.auth.access import office_required
from app.dev import bp
from app.extensions import db
from app.services.line_types import forget_lookup, numbers_known_to
from app.services.phones import InvalidPhone, normalize_phone
from app.sms.fake_twilio import fake_twilio
from app.sms.fake_twilio.lookups import LINE_TYPES


@bp.get("/lookups")
@office_required
def lookups():
    fake = fake_twilio()
    with fake.lock:
        answered = list(reversed(fake.lookups.answered))
        switches = dict(fake.lookups.line_types)
    # The fake serves every company of this process: show only this company's numbers.
    known = numbers_known_to(
        company=current_user.company, phones={a.phone for a in answered} | set(switches)
    )
    db.session.commit()
    return render_template(
        "dev/lookups.html",
        answered=[a for a in answered if a.phone in known][:100],
        switches={phone: kind for phone, kind in switches.items() if phone in known},
        line_types=LINE_TYPES,
        phone=request.args.get("phone", ""),
    )


@bp.post("/lookups/line-type")
@office_required
def lookups_set_line_type():
    """What Lookup answers for a number from now on; the app's kept answer is forgotten so
    the next check asks again (a real line changes type only when it is ported)."""
    raw = request.form.get("phone", "")
    line_type = request.form.get("line_type", "")
    try:
        phone = normalize_phone(raw, field="phone")
    except InvalidPhone as error:
        flash(error.message, "error")
        return redirect(url_for("dev.lookups"))
    if line_type and line_type not in LINE_TYPES:
        flash("Choose a line type.", "error")
        return redirect(url_for("dev.lookups", phone=raw))
    fake_twilio().lookups.set_line_type(phone, line_type or None)
    forget_lookup(phone=phone)
    db.session.commit()
    said = LINE_TYPES[line_type] if line_type else "what the rules say"
    flash(f"Lookup now answers {said} for {raw.strip()}.", "success")
    return redirect(url_for("dev.lookups"))


@bp.post("/lookups/fail")
@office_required
def lookups_fail():
    """The next Lookup fails with 503, as Twilio does on a bad day: the app falls back."""
    fake_twilio().fail_next(1, status=503, path_contains="/v2/PhoneNumbers/")
    flash("The next Lookup will fail with 503.", "success")
    return redirect(url_for("dev.lookups"))

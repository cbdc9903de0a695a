"""The phone simulator (only while the fake Twilio is active).

/dev/phone shows an outside phone: the texts it got from the company's custom number and
its replies. Replies and calls go through the fake Twilio, which signs them and posts them
to the real webhooks, exactly as Twilio would. It is a demo tool that reads any customer's
thread and texts as any customer: only the office roles (owner, admin, office) may use it,
for their own company's customers, and it is never registered in production.
"""

from __future__ import annotations

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_htmx import make_response
from flask_login import current_user
from werkzeug.exceptions import BadRequest

from app.actions import service_call
from app.auth.access import office_required
from app.dev import bp
from app.dev.forms import PhoneCallForm, PhoneTextForm, PickPhoneForm
from app.dev.simulator import (
    MAX_ATTACHMENT_BYTES,
    CallOutcome,
    customer_for_phone,
    delivery_label,
    linkify,
    phone_customers,
    phone_media,
    phone_media_item,
    phone_thread,
    simulate_call,
    simulate_text,
)
from app.extensions import htmx
from app.hx_events import SIM_REFRESH
from app.models import Customer
from app.request_limits import accepts_upload
from app.services.phones import InvalidPhone, normalize_phone
from app.services.texting import company_number, is_opted_out
from app.tenancy import get_or_404


def _selected_phone(pick: PickPhoneForm) -> tuple[str | None, str | None]:
    """(E.164 of the phone being shown, problem with a typed number)."""
    customer_id = request.args.get("customer", type=int)
    if customer_id:
        return get_or_404(Customer, customer_id).mobile_phone, None
    raw = pick.number.data or request.args.get("phone")
    if not raw:
        return None, None
    try:
        return normalize_phone(raw, field="number"), None
    except InvalidPhone as error:
        return None, str(error)


def _phone_from_form(value: str | None) -> str:
    try:
        return normalize_phone(value or "")
    except InvalidPhone as error:
        raise BadRequest(str(error)) from None


def _thread_context(phone: str | None) -> dict:
    company = current_user.company
    return {
        "phone": phone,
        "opted_out": bool(phone) and is_opted_out(company=company, phone=phone),
        "messages": phone_thread(company=company, phone=phone) if phone else [],
        "delivery_label": delivery_label,
        "linkify": linkify,
        "phone_media": phone_media,
    }


def _page(
    *,
    phone: str | None,
    problem: str | None = None,
    text_form: PhoneTextForm | None = None,
    call: CallOutcome | None = None,
    status: int = 200,
):
    company = current_user.company
    pick = PickPhoneForm(request.args)
    number = company_number(company)
    setup_endpoint = "office.number_setup"
    return (
        render_template(
            "dev/phone.html",
            title="Phone simulator",
            pick=pick,
            problem=problem,
            customers=phone_customers(company),
            customer=customer_for_phone(company=company, phone=phone) if phone else None,
            number=number,
            setup_url=url_for(setup_endpoint)
            if setup_endpoint in current_app.view_functions
            else None,
            text_form=text_form or PhoneTextForm(phone=phone),
            call_form=PhoneCallForm(phone=phone),
            call=call,
            **_thread_context(phone),
        ),
        status,
    )


@bp.get("/phone")
@office_required
def phone():
    pick = PickPhoneForm(request.args)
    selected, problem = _selected_phone(pick)
    return _page(phone=selected, problem=problem)


@bp.get("/phone/thread")
@office_required
def phone_thread_fragment():
    selected = _phone_from_form(request.args.get("phone"))
    return render_template("dev/_thread.html", **_thread_context(selected))


@bp.get("/phone/media/<sid>", endpoint="phone_media")
@office_required
def phone_media_file(sid: str):
    """A picture on a simulated phone (held by the fake Twilio)."""
    item = phone_media_item(company=current_user.company, sid=sid)
    if item is None:
        abort(404)
    response = current_app.response_class(item.data, mimetype=item.content_type)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.post("/phone/text")
@accepts_upload(MAX_ATTACHMENT_BYTES)
@office_required
def phone_text():
    form = PhoneTextForm()
    selected = _phone_from_form(form.phone.data)
    if form.validate_on_submit():
        upload = form.attachment.data
        attachment = None
        if upload and getattr(upload, "filename", ""):
            attachment = (upload.read(), upload.mimetype or "application/octet-stream")
        with service_call() as call:
            simulate_text(
                company=current_user.company,
                phone=selected,
                body=form.body.data or "",
                with_photo=bool(form.photo.data),
                attachment=attachment,
            )
        if call.ok:
            if htmx:
                fresh = PhoneTextForm(formdata=None, phone=selected)
                # The thread refreshes at once instead of at its next poll.
                return make_response(
                    render_template("dev/_composer.html", text_form=fresh, phone=selected),
                    trigger=SIM_REFRESH,
                )
            return redirect(url_for("dev.phone", phone=selected))
        # The composer has one input: every refusal (no number yet too) shows under it.
        form.body.errors = [call.message]
    if htmx:
        return render_template("dev/_composer.html", text_form=form, phone=selected), 422
    return _page(phone=selected, text_form=form, status=422)


@bp.post("/phone/call")
@office_required
def phone_call():
    form = PhoneCallForm()
    selected = _phone_from_form(form.phone.data)
    if not form.validate_on_submit():
        raise BadRequest("Pick a phone first.")
    with service_call() as call:
        outcome = simulate_call(
            company=current_user.company,
            phone=selected,
            outcome=form.outcome.data or "no-answer",
            voicemail=form.voicemail.data,
            press_1=bool(form.press_1.data),
            tone=not form.silence.data,
        )
    if not call.ok:
        return _page(phone=selected, problem=call.message, status=409)
    if htmx:
        return render_template(
            "dev/_call.html",
            call=outcome,
            call_form=PhoneCallForm(formdata=None, phone=selected),
            phone=selected,
            number=company_number(current_user.company),
        )
    return _page(phone=selected, call=outcome)

"""Office pages for calls: hearing a voicemail, and the Calls and hours settings.

The audio is served only from here: the voicemail must belong to the user's company
(`get_or_404`), and a technician hears only the calls routed to them. Twilio's own URL is
never given to a browser.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import abort, g, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, StringField, TelField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.actions import service_call
from app.auth.access import any_role_required, manager_required
from app.extensions import db
from app.media.routes import send_media
from app.models import Call, Holiday, Message, MessageRecipient, Role, Voicemail, VoicemailState
from app.office import bp
from app.request_limits import accepts_upload
from app.services.business_hours import (
    GREETING_AUDIO_MAX_BYTES,
    GREETING_MAX,
    WEEKDAYS,
    DayHours,
    add_holiday,
    call_settings,
    clear_week,
    greeting_audio_name,
    holidays,
    hours_are_set,
    parse_clock,
    remove_greeting_audio,
    remove_holiday,
    set_greeting_audio,
    set_week,
    update_call_settings,
    week,
)
from app.services.errors import DomainError
from app.services.texting import company_number
from app.tenancy import get_or_404

# -- the call entry in threads and timelines -----------------------------------------------


def call_for_message(message: Message) -> Call | None:
    """The call a CALL thread entry stands for, with its voicemail. One query per
    conversation per request, however many calls the page shows."""
    cache = g.setdefault("calls_by_message", {})
    key = message.conversation_id
    if key not in cache:
        calls = db.session.scalars(
            sa.select(Call)
            .where(Call.conversation_id == key, Call.company_id == message.company_id)
            .options(sa.orm.selectinload(Call.voicemail))
        )
        cache[key] = {call.message_id: call for call in calls if call.message_id}
    return cache[key].get(message.id)


@bp.app_template_global()
def call_entry(message: Message) -> Call | None:
    return call_for_message(message)


def _may_hear(voicemail: Voicemail) -> bool:
    if current_user.role in Role.OFFICE_ROLES:
        return True
    # A technician hears a voicemail only when the call was routed to them.
    call = db.session.get(Call, voicemail.call_id) if voicemail.call_id else None
    if call is None or call.message_id is None:
        return False
    routed = db.session.scalar(
        sa.select(MessageRecipient.id).filter_by(
            message_id=call.message_id, user_id=current_user.id
        )
    )
    return routed is not None


@bp.get("/voicemails/<int:voicemail_id>/audio")
@any_role_required
def voicemail_audio(voicemail_id: int):
    voicemail = get_or_404(Voicemail, voicemail_id)
    if not _may_hear(voicemail):
        abort(404)
    if voicemail.state != VoicemailState.STORED or not voicemail.storage_key:
        abort(404)
    extension = voicemail.storage_key.rsplit(".", 1)[-1]
    # From the local folder or the S3 bucket (MEDIA_STORE), with range requests: the
    # player can seek.
    response = send_media(
        voicemail.storage_key,
        content_type=voicemail.content_type or "audio/wav",
        download_name=f"voicemail-{voicemail.id}.{extension}",
        inline=True,
        max_age=0,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


# -- Settings -> Calls and hours ----------------------------------------------------------------


class CallSettingsForm(FlaskForm):
    voicemail_greeting = TextAreaField(
        "Voicemail greeting",
        validators=[Optional(), Length(max=GREETING_MAX)],
        description="Read out when nobody answers, before the caller leaves a message. "
        "{company_name} is replaced by your company name. Empty: the standard greeting.",
    )
    after_hours_greeting = TextAreaField(
        "After-hours greeting",
        validators=[Optional(), Length(max=GREETING_MAX)],
        description="Read out outside your business hours, before the voicemail.",
    )
    emergency_phone = TelField(
        "On-call phone (optional)",
        validators=[Optional()],
        description="After hours, callers hear “press 1 for an emergency” and are put "
        "through to this phone. Empty: no emergency option.",
    )
    record_calls = BooleanField(
        "Record whole calls (callers hear “This call may be recorded.” first)"
    )
    delete_recordings_at_twilio = BooleanField(
        "Delete voicemail recordings at Twilio once saved here (recommended)"
    )


class GreetingAudioForm(FlaskForm):
    audio = FileField(
        "Recorded greeting",
        description="A WAV or MP3 file of up to 2 MB, played instead of the voicemail "
        "greeting's text.",
    )


class HolidayForm(FlaskForm):
    day = DateField("Date", validators=[DataRequired(message="Pick a date.")])
    name = StringField("Name (optional)", validators=[Optional(), Length(max=80)])


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _page(
    form: CallSettingsForm,
    holiday_form: HolidayForm,
    hours_errors=None,
    status=200,
    audio_form: GreetingAudioForm | None = None,
):
    company = current_user.company
    days = week(company)
    typed = getattr(g, "typed_hours", None)
    audio_name = greeting_audio_name(call_settings(company))
    return (
        render_template(
            "office/call_settings.html",
            form=form,
            holiday_form=holiday_form,
            audio_form=audio_form or GreetingAudioForm(formdata=None),
            greeting_audio_url=url_for("webhooks.twilio_voice_greeting", filename=audio_name)
            if audio_name
            else None,
            days=typed or days,
            clock=_clock,
            hours_set=hours_are_set(company),
            holidays=holidays(company),
            hours_errors=hours_errors or {},
            today=date.today(),
        ),
        status,
    )


@bp.get("/settings/calls")
@manager_required
def call_settings_page():
    settings = call_settings(current_user.company)
    form = CallSettingsForm(obj=settings)
    page = _page(form, HolidayForm(formdata=None))
    db.session.commit()  # the settings row made on first visit
    return page


@bp.post("/settings/calls")
@manager_required
def call_settings_save():
    form = CallSettingsForm()
    if not form.validate():
        return _page(form, HolidayForm(formdata=None), status=422)
    company = current_user.company
    number = company_number(company)
    with service_call(form) as call:
        update_call_settings(
            company=company,
            actor=current_user,
            voicemail_greeting=form.voicemail_greeting.data or "",
            after_hours_greeting=form.after_hours_greeting.data or "",
            emergency_phone=form.emergency_phone.data or "",
            record_calls=form.record_calls.data,
            delete_recordings_at_twilio=form.delete_recordings_at_twilio.data,
            custom_number=number.e164 if number else None,
        )
    if call.error:
        return _page(form, HolidayForm(formdata=None), status=422)
    return redirect(url_for("office.call_settings_page", saved="calls"))


def _typed_week() -> tuple[list[DayHours], dict[int, str]]:
    """The seven days as typed; errors per weekday (a bad time keeps what was typed)."""
    days, errors = [], {}
    for weekday in range(7):
        closed = request.form.get(f"day{weekday}_open") != "on"
        opens, closes = 8 * 60, 17 * 60
        # Parsing what was typed (nothing written yet): each bad day is collected, not shown
        # one at a time, and a closed day's times do not matter.
        try:
            opens = parse_clock(request.form.get(f"day{weekday}_opens", ""), field="")
            closes = parse_clock(request.form.get(f"day{weekday}_closes", ""), field="")
        except DomainError as error:
            if not closed:
                errors[weekday] = f"{WEEKDAYS[weekday]}: {error.message}"
        days.append(DayHours(weekday, closed, opens, closes))
    return days, errors


@bp.post("/settings/calls/hours")
@manager_required
def business_hours_save():
    company = current_user.company
    if request.form.get("action") == "clear":
        with service_call(flash_error=True):
            clear_week(company=company, actor=current_user)
        return redirect(url_for("office.call_settings_page", saved="hours"))
    days, errors = _typed_week()
    if not errors:
        with service_call() as call:
            set_week(company=company, actor=current_user, days=days)
        if call.error is None:
            return redirect(url_for("office.call_settings_page", saved="hours"))
        field = call.error.field or ""
        weekday = int(field[3:]) if field.startswith("day") and field[3:].isdigit() else 0
        errors[weekday] = call.error.message
    g.typed_hours = days
    form = CallSettingsForm(formdata=None, obj=call_settings(company))
    return _page(form, HolidayForm(formdata=None), hours_errors=errors, status=422)


@bp.post("/settings/calls/holidays")
@manager_required
def holiday_add():
    holiday_form = HolidayForm()
    company = current_user.company
    if holiday_form.validate():
        with service_call(holiday_form) as call:
            add_holiday(
                company=company,
                actor=current_user,
                day=holiday_form.day.data,
                name=holiday_form.name.data or "",
            )
        if call.error is None:
            return redirect(url_for("office.call_settings_page", saved="holiday") + "#holidays")
    form = CallSettingsForm(formdata=None, obj=call_settings(company))
    return _page(form, holiday_form, status=422)


@bp.post("/settings/calls/holidays/<int:holiday_id>/delete")
@manager_required
def holiday_delete(holiday_id: int):
    holiday = get_or_404(Holiday, holiday_id)
    with service_call(flash_error=True):
        remove_holiday(company=current_user.company, actor=current_user, holiday=holiday)
    return redirect(url_for("office.call_settings_page") + "#holidays")


@bp.post("/settings/calls/greeting")
@accepts_upload(GREETING_AUDIO_MAX_BYTES)
@manager_required
def greeting_audio_save():
    company = current_user.company
    audio_form = GreetingAudioForm()
    if request.form.get("action") == "remove":
        with service_call(flash_error=True):
            remove_greeting_audio(company=company, actor=current_user)
        return redirect(url_for("office.call_settings_page", saved="greeting"))
    upload = audio_form.audio.data if audio_form.validate() else None
    data = upload.read(GREETING_AUDIO_MAX_BYTES + 1) if upload else b""
    with service_call(audio_form) as call:
        set_greeting_audio(company=company, actor=current_user, data=data)
    if call.error is None:
        return redirect(url_for("office.call_settings_page", saved="greeting"))
    form = CallSettingsForm(formdata=None, obj=call_settings(company))
    return _page(form, HolidayForm(formdata=None), status=422, audio_form=audio_form)

"""Office pages: the automated texts (/texts) and their template editor.

Office staff, admins and owners edit the texts; only owners and admins change how texts
are signed (tech or company identity) and whether Job finished carries the invoice link.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, RadioField, SelectField, TextAreaField, TimeField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired

from app.actions import service_call
from app.auth.access import manager_required, office_required
from app.extensions import db, htmx
from app.models import Job, MessageKind, SenderIdentity, SkippedText
from app.office import bp
from app.services.message_templates import (
    KINDS,
    LEAD_CHOICES,
    PLACEHOLDER_HELP,
    TemplateInvalid,
    all_templates,
    get_template,
    reset_template,
    set_template_enabled,
    set_text_settings,
    update_template,
    validate_template,
)
from app.services.notifications import preview_text
from app.services.quiet_hours import company_window, set_texting_window
from app.sms.segments import describe_char, replace_with_gsm, segment_info

IDENTITY_CHOICES = [
    SelectChoice(SenderIdentity.TECH, "Tech name and photo"),
    SelectChoice(SenderIdentity.COMPANY, "Company name only"),
]
LEAD_SELECT = [SelectChoice(minutes, label) for minutes, label in LEAD_CHOICES]


class TemplateForm(FlaskForm):
    body = TextAreaField("Text", validators=[InputRequired("Write the text.")])
    enabled = BooleanField("Send this text automatically")
    lead_minutes = SelectField("Send the reminder", coerce=int, choices=LEAD_SELECT)


class TextSettingsForm(FlaskForm):
    sender_identity = RadioField(
        "Sign automated texts with", choices=IDENTITY_CHOICES, validators=[InputRequired()]
    )
    finished_text_invoice_link = BooleanField(
        "Include the invoice link in the Job finished text (when the job has a sent invoice)"
    )


class TextingHoursForm(FlaskForm):
    texting_window_start = TimeField("From", validators=[InputRequired("Enter a start time.")])
    texting_window_end = TimeField("Until", validators=[InputRequired("Enter an end time.")])


def _hours_form(company) -> TextingHoursForm:
    window = company_window(company)
    return TextingHoursForm(
        formdata=None, texting_window_start=window.opens, texting_window_end=window.closes
    )


def _kind_or_404(kind: str) -> str:
    if kind not in KINDS:
        abort(404)
    return kind


def _recent_skips(limit: int = 8) -> list[tuple[SkippedText, Job | None]]:
    rows = db.session.execute(
        sa.select(SkippedText, Job)
        .outerjoin(Job, Job.id == SkippedText.job_id)
        .where(SkippedText.company_id == current_user.company_id)
        .order_by(SkippedText.created_at.desc(), SkippedText.id.desc())
        .limit(limit)
    ).all()
    return [(skip, job) for skip, job in rows]


def _index_page(
    settings_form: TextSettingsForm | None = None,
    status: int = 200,
    hours_form: TextingHoursForm | None = None,
):
    company = current_user.company
    templates = all_templates(company=company)
    if settings_form is None:
        settings_form = TextSettingsForm(
            sender_identity=company.sender_identity,
            finished_text_invoice_link=company.finished_text_invoice_link,
        )
    db.session.commit()  # the default rows created on first visit
    return (
        render_template(
            "office/texts.html",
            title="Automated texts",
            templates=templates,
            kinds=KINDS,
            lead_labels=dict(LEAD_CHOICES),
            settings_form=settings_form,
            hours_form=hours_form or _hours_form(company),
            skips=_recent_skips(),
            kind_labels={k: spec.label for k, spec in KINDS.items()},
        ),
        status,
    )


@bp.get("/texts")
@office_required
def templates():
    return _index_page()


@bp.post("/texts/settings")
@manager_required
def template_settings():
    form = TextSettingsForm()
    if not form.validate_on_submit():
        return _index_page(form, 422)
    with service_call() as call:
        set_text_settings(
            company=current_user.company,
            sender_identity=form.sender_identity.data,
            finished_text_invoice_link=form.finished_text_invoice_link.data,
        )
    if not call.ok:
        form.sender_identity.errors = [call.message]
        return _index_page(form, 422)
    flash("Saved. Every automated text from now on follows these settings.", "success")
    return redirect(url_for("office.templates"))


@bp.post("/texts/hours")
@manager_required
def texting_hours():
    """When reminders (and later follow-ups) may reach customers, before state rules."""
    form = TextingHoursForm()
    if not form.validate_on_submit():
        return _index_page(status=422, hours_form=form)
    with service_call() as call:
        set_texting_window(
            company=current_user.company,
            start=form.texting_window_start.data,
            end=form.texting_window_end.data,
        )
    if not call.ok:
        form.texting_window_end.errors = [call.message]
        return _index_page(status=422, hours_form=form)
    flash("Texting hours saved.", "success")
    return redirect(url_for("office.templates"))


@bp.post("/texts/<kind>/toggle")
@office_required
def template_toggle(kind: str):
    kind = _kind_or_404(kind)
    if not KINDS[kind].automatic:
        abort(404)  # sent by hand from the estimate or invoice: nothing to switch
    enabled = request.form.get("enabled") == "1"
    template = set_template_enabled(company=current_user.company, kind=kind, enabled=enabled)
    db.session.commit()
    if htmx:
        return render_template(
            "office/_template_row.html",
            template=template,
            spec=KINDS[kind],
            lead_labels=dict(LEAD_CHOICES),
        )
    state = "on" if enabled else "off"
    flash(f"{KINDS[kind].label} is now {state}.", "success")
    return redirect(url_for("office.templates"))


def _editor(kind: str, form: TemplateForm, *, status: int = 200):
    company = current_user.company
    template = get_template(company=company, kind=kind)
    body = form.body.data if form.body.data is not None else template.body
    context = _preview_context(kind, body)
    db.session.commit()
    return (
        render_template(
            "office/texts_edit.html",
            title=f"{KINDS[kind].label} text",
            spec=KINDS[kind],
            template=template,
            form=form,
            placeholder_help=PLACEHOLDER_HELP,
            is_reminder=kind == MessageKind.REMINDER,
            **context,
        ),
        status,
    )


def _preview_context(kind: str, body: str) -> dict:
    problems = validate_template(body, kind=kind)
    preview = preview_text(company=current_user.company, kind=kind, body=body)
    # Characters that force UCS-2 and that the office typed (so a click can fix them).
    culprits = [
        {
            "char": char,
            "name": describe_char(char),
            "replacement": preview.info.replacements.get(char),
            "in_body": char in body,
        }
        for char in preview.info.non_gsm
    ]
    gsm_segments = None
    if culprits:
        gsm_segments = segment_info(replace_with_gsm(preview.text)).segments
    return {
        "kind": kind,
        "preview": preview,
        "problems": problems,
        "culprits": culprits,
        "gsm_segments": gsm_segments,
    }


@bp.route("/texts/<kind>", methods=["GET", "POST"])
@office_required
def template_edit(kind: str):
    kind = _kind_or_404(kind)
    company = current_user.company
    template = get_template(company=company, kind=kind)
    if request.method == "GET":
        form = TemplateForm(
            body=template.body,
            enabled=template.enabled,
            lead_minutes=template.lead_minutes or LEAD_CHOICES[0][0],
        )
        return _editor(kind, form)
    form = TemplateForm()
    if kind != MessageKind.REMINDER:
        form.lead_minutes.data = template.lead_minutes or LEAD_CHOICES[0][0]
    if not form.validate_on_submit():
        return _editor(kind, form, status=422)
    with service_call() as call:
        update_template(
            company=company,
            kind=kind,
            body=form.body.data,
            enabled=form.enabled.data,
            lead_minutes=form.lead_minutes.data if kind == MessageKind.REMINDER else None,
        )
    if isinstance(call.error, TemplateInvalid):
        form.body.errors = list(call.error.problems)
        return _editor(kind, form, status=422)
    if call.error is not None:
        target = getattr(form, call.error.field or "body", form.body)
        target.errors = [call.message]
        return _editor(kind, form, status=422)
    flash(f"Saved. The {KINDS[kind].label} text uses your new wording from now on.", "success")
    return redirect(url_for("office.template_edit", kind=kind))


@bp.post("/texts/<kind>/preview")
@office_required
def template_preview(kind: str):
    kind = _kind_or_404(kind)
    body = request.form.get("body", "")
    context = _preview_context(kind, body)
    db.session.commit()
    return render_template("office/_template_preview.html", **context)


@bp.post("/texts/<kind>/replace")
@office_required
def template_replace(kind: str):
    """Without JavaScript: swap one character for its GSM-7 look-alike (not saved yet)."""
    kind = _kind_or_404(kind)
    form = TemplateForm()
    char = request.form.get("char", "")
    form.body.data = replace_with_gsm(form.body.data or "", chars=char or None)
    flash("Replaced. Check the preview, then Save.", "info")
    return _editor(kind, form)


@bp.post("/texts/<kind>/reset")
@office_required
def template_reset(kind: str):
    kind = _kind_or_404(kind)
    reset_template(company=current_user.company, kind=kind)
    db.session.commit()
    flash(f"The {KINDS[kind].label} text is back to the default wording.", "success")
    return redirect(url_for("office.template_edit", kind=kind))

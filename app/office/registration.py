"""Settings → Texting registration (owner/admin): the wizard, the status page, "fix and
resubmit", the Sole Proprietor's "resend the confirmation text", and attaching an existing
Messaging Service. The work with Twilio happens in the worker (app/services/registration.py);
these routes validate, call one service, commit and redirect."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.actions import service_call
from app.auth.access import manager_required
from app.extensions import db
from app.models import RegistrationKind, RegistrationStatus, utcnow
from app.office import bp
from app.services import registration as registration_service
from app.services.errors import DomainError
from app.sms.error_codes import error_explanation
from app.worker.dispatcher import wake

FIELDS = registration_service.TEXT_FIELDS
SUBMITTED = (
    "Submitted. It goes to Twilio within a minute; we check its review regularly and "
    "texting turns on by itself once it is approved."
)

# The wizard's steps in URLs (words, not numbers: a number in a URL here is a row id).
STEP_SLUGS = {"business": 1, "consent": 2, "review": 3}
SLUG_OF = {number: slug for slug, number in STEP_SLUGS.items()}


def _form_data() -> dict:
    data = {name: request.form.get(name, "") for name in FIELDS}
    data["use_generated_terms"] = request.form.get("use_generated_terms") == "on"
    data["samples"] = [s for s in request.form.getlist("samples") if s.strip()]
    return data


def _page(
    *,
    data: dict,
    kind: str,
    step: int = 1,
    errors: dict[str, str] | None = None,
    status: int = 200,
):
    company = current_user.company
    registration = registration_service.registration_for(company)
    failure = None
    if registration.status == RegistrationStatus.REJECTED:
        failure = registration.failure_reason or error_explanation(registration.failure_code)
    return (
        render_template(
            "office/registration.html",
            registration=registration,
            steps=[
                (label, registration_service.state_label(state))
                for label, state, _sid in registration_service.steps_overview(registration)
            ],
            data=data,
            kind=kind,
            step=step,
            errors=errors or {},
            dev_review_url=url_for("dev.registration_review")
            if "dev.registration_review" in current_app.view_functions
            else None,
            failure=failure,
            kinds=RegistrationKind,
            statuses=RegistrationStatus,
            business_types=registration_service.BUSINESS_TYPES,
            industries=registration_service.INDUSTRIES,
            opt_in_methods=registration_service.OPT_IN_METHODS,
            state_options=[(s, s) for s in registration_service.US_STATES],
            terms_url=registration_service.terms_url(company=company),
            step_slug=SLUG_OF.get(step, "business"),
            editable=registration.status
            in (RegistrationStatus.NOT_STARTED, RegistrationStatus.REJECTED),
        ),
        status,
    )


def _step_of(field: str | None, default: int = 1) -> int:
    """The wizard step that asks for `field`: a refused field is shown where it is asked."""
    for step, names in registration_service.STEP_FIELDS.items():
        if field in names:
            return step
    return default


def _refused(error: DomainError, *, data: dict, kind: str, step: int = 1):
    """The wizard again with why: missing or bad fields at the step that asks for them
    (422), any other refusal above step `step` (409)."""
    if isinstance(error, registration_service.RegistrationInvalid):
        return _page(
            data=data, kind=kind, step=_step_of(error.field, step), errors=error.errors, status=422
        )
    return _page(
        data=data, kind=kind, step=step, errors={error.field or "form": error.message}, status=409
    )


@bp.get("/settings/texting-registration")
@manager_required
def registration_page():
    company = current_user.company
    registration = registration_service.registration_for(company)
    data = registration.details or registration_service.suggested_details(
        company=company, actor=current_user
    )
    kind = registration.kind if registration.details else RegistrationKind.STANDARD
    step = STEP_SLUGS.get(request.args.get("step", ""), 1)
    response = _page(data=data, kind=kind, step=step)
    db.session.commit()  # the row (and its public token) made on first visit
    return response


@bp.post("/settings/texting-registration")
@manager_required
def registration_submit():
    """The whole wizard in one POST (every field at once): the same checks and service as
    the last step, for clients that post the full form."""
    company = current_user.company
    kind = request.form.get("kind", RegistrationKind.STANDARD)
    data = _form_data()
    with service_call() as call:
        registration_service.submit_registration(
            company=company, actor=current_user, kind=kind, data=data, now=utcnow()
        )
    if not call.ok:
        return _refused(call.error, data=data, kind=kind)
    wake()
    flash(SUBMITTED, "success")
    return redirect(url_for("office.registration_page"))


@bp.post("/settings/texting-registration/<any(business, consent, review):slug>")
@manager_required
def registration_step(slug: str):
    """One step of the wizard: steps 1 and 2 keep a draft and go on, step 3 submits."""
    step = STEP_SLUGS[slug]
    company = current_user.company
    registration = registration_service.registration_for(company)
    fields = registration_service.STEP_FIELDS.get(step, ())
    posted = _form_data()
    data = {**(registration.details or {}), **{name: posted[name] for name in fields}}
    kind = request.form.get("kind") or registration.kind
    with service_call() as call:
        if step == 3:
            registration_service.submit_registration(
                company=company, actor=current_user, kind=kind, data=data, now=utcnow()
            )
        else:
            registration_service.save_registration_step(
                company=company, actor=current_user, step=step, kind=kind, data=posted
            )
    if not call.ok:
        return _refused(call.error, data=data, kind=kind, step=step)
    if step < 3:
        return redirect(url_for("office.registration_page", step=SLUG_OF[step + 1]))
    wake()
    flash(SUBMITTED, "success")
    return redirect(url_for("office.registration_page"))


@bp.post("/settings/texting-registration/attach")
@manager_required
def registration_attach():
    company = current_user.company
    with service_call() as call:
        registration_service.attach_messaging_service(
            company=company, service_sid=request.form.get("messaging_service", ""), now=utcnow()
        )
    if not call.ok:
        registration = registration_service.registration_for(company)
        return _page(
            data=registration.details or {},
            kind=registration.kind,
            errors={"messaging_service": call.message},
            status=422,
        )
    flash("Messaging Service attached: texting is on.", "success")
    return redirect(url_for("office.registration_page"))


@bp.post("/settings/texting-registration/resend")
@manager_required
def registration_resend():
    with service_call(flash_error=True) as call:
        registration_service.resend_confirmation(company=current_user.company, now=utcnow())
    if not call.ok:
        return redirect(url_for("office.registration_page"))
    flash("We texted the confirmation again. Reply YES to it within 24 hours.", "success")
    return redirect(url_for("office.registration_page"))

"""Office pages: the jobs board, booking, and one job's page with its htmx fragments.

Each fragment (`_job_techs`, `_job_schedule`, `_job_status`, `_job_timeline`) is included
by the job page and returned alone to htmx; a plain form post gets a redirect (or the full
page with its errors), so everything also works without JavaScript. After a change the
response raises events the other fragments listen to, so they refresh themselves.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_htmx import make_response
from flask_login import current_user

from app.actions import service_call
from app.auth.access import office_required
from app.extensions import htmx
from app.hx_events import JOB_STATUS_CHANGED, JOB_TIMELINE_CHANGED
from app.models import Customer, Job, JobStatus, User, utcnow
from app.office import bp
from app.office.forms import (
    AssignTechForm,
    JobCreateForm,
    JobDetailsForm,
    ScheduleForm,
)
from app.services.consent import current_consent, record_consent
from app.services.customers import company_has_customers
from app.services.errors import DomainError
from app.services.job_queries import (
    DEFAULT_TAB,
    TAB_KEYS,
    TABS,
    TABS_BY_KEY,
    BoardCursor,
    assignable_users,
    is_overdue,
    job_board,
    job_timeline,
)
from app.services.job_status import job_set_status, next_statuses
from app.services.jobs import assign_tech, create_job, reschedule_job, unassign_tech, update_job
from app.services.notifications import texts_not_sent
from app.tenancy import get_or_404


def _fragment(template: str, status: int = 200, events: tuple[str, ...] = (), **context):
    return make_response(
        render_template(template, **context), status, trigger=", ".join(events) or None
    )


def _detail_url(job: Job, anchor: str | None = None) -> str:
    return url_for("office.job_detail", job_id=job.id, _anchor=anchor)


# --- The board ----------------------------------------------------------------------------


@bp.get("/jobs")
@office_required
def jobs():
    company = current_user.company
    tab = request.args.get("tab", DEFAULT_TAB)
    if tab not in TAB_KEYS:
        tab = DEFAULT_TAB
    q = request.args.get("q", "").strip()[:100]
    # Keyset paging: `after` / `before` name the row a page continues from. A malformed
    # one, or a `page=` bookmark from when the board had numbered pages, gets page one.
    after = BoardCursor.parse(request.args.get("after"))
    before = None if after else BoardCursor.parse(request.args.get("before"))
    now = utcnow()
    context = {
        "tabs": TABS,
        "tab": tab,
        "newest_first": TABS_BY_KEY[tab].newest_first,
        "q": q,
        "board": job_board(company=company, tab=tab, q=q, after=after, before=before, now=now),
        "is_overdue": lambda job: is_overdue(job, company=company, now=now),
    }
    if htmx and htmx.target == "job-board":
        return render_template("office/_job_board.html", **context)
    return render_template("office/jobs.html", **context)


# --- Booking and editing ------------------------------------------------------------------


def _flash_not_sent(notes: list[str]) -> None:
    """The person who triggered a text is told when it could not go, or waits."""
    for note in notes:
        flash(note, "error")


@bp.route("/jobs/new", methods=["GET", "POST"])
@office_required
def job_new():
    company = current_user.company
    users = assignable_users(company)
    form = JobCreateForm(company=company)
    form.set_tech_choices(users)
    if request.method == "GET":
        form.fill_default_window(utcnow(), company.tz)
        customer_id = request.args.get("customer_id", type=int)
        if customer_id:
            preselected = get_or_404(Customer, customer_id)
            form.customer_id.preselect(preselected)
            form.address.data = preselected.address
    if form.validate_on_submit():
        customer = form.customer_id.customer
        start, end = form.window(company.tz)
        began = utcnow()
        with service_call(form) as call:
            job = create_job(
                company=company,
                customer=customer,
                description=form.description.data,
                scheduled_start=start,
                scheduled_end=end,
                address=form.address.data,
                notes=form.notes.data,
                techs=form.chosen_techs(users),
                notify=form.wants_notify,
            )
            if form.text_consent.data:
                record_consent(
                    customer=customer, source=form.consent_source.data, actor=current_user
                )
            # Read before the commit expires the job: a text that could not go is said.
            not_sent = texts_not_sent(job=job, since=began)
        if call.ok:
            _flash_not_sent(not_sent)
            flash(f"Job #{job.number} booked for {customer.name}.", "success")
            return redirect(_detail_url(job))
    status = 422 if form.errors or form.form_errors else 200
    picked = form.customer_id.customer if form.customer_id.data else None
    return render_template(
        "office/job_form.html",
        form=form,
        job=None,
        has_customers=company_has_customers(company),
        consent=current_consent(customer=picked) if picked else None,
    ), status


@bp.route("/jobs/<int:job_id>/edit", methods=["GET", "POST"])
@office_required
def job_edit(job_id: int):
    job = get_or_404(Job, job_id)
    company = current_user.company
    users = assignable_users(company)
    # Someone already on the job stays listed even if they were deactivated since.
    users += [t for t in job.techs if t not in users]
    form = JobDetailsForm(obj=job if request.method == "GET" else None)
    form.set_tech_choices(users)
    if request.method == "GET":
        form.fill_window(job.scheduled_start, job.scheduled_end, company.tz)
        form.tech_ids.data = [t.id for t in job.techs]
    if form.validate_on_submit():
        start, end = form.window(company.tz)
        began = utcnow()
        with service_call(form) as call:
            update_job(
                job=job,
                actor=current_user,
                description=form.description.data,
                scheduled_start=start,
                scheduled_end=end,
                address=form.address.data,
                notes=form.notes.data,
                techs=form.chosen_techs(users),
                notify=form.wants_notify,
            )
            not_sent = texts_not_sent(job=job, since=began)
        if call.ok:
            _flash_not_sent(not_sent)
            flash(f"Job #{job.number} saved.", "success")
            return redirect(_detail_url(job))
    status = 422 if form.errors or form.form_errors else 200
    return render_template("office/job_form.html", form=form, job=job), status


# --- One job's page and its fragments -----------------------------------------------------


def _assign_form(job: Job) -> AssignTechForm:
    form = AssignTechForm(formdata=None)
    on_job = {a.user_id for a in job.assignments}
    form.tech_id.choices = [
        (u.id, u.name if u.is_tech else f"{u.name} ({u.role_label})")
        for u in assignable_users(job.company)
        if u.id not in on_job
    ]
    return form


def _schedule_form(job: Job) -> ScheduleForm:
    form = ScheduleForm(formdata=None)
    form.fill_window(job.scheduled_start, job.scheduled_end, job.company.tz)
    return form


def _page_context(job: Job, **overrides) -> dict:
    context = {
        "job": job,
        "assign_form": _assign_form(job),
        "schedule_form": _schedule_form(job),
        "editing_schedule": False,
        "timeline": job_timeline(job),
        "next_statuses": next_statuses(job),
        "status_error": None,
        "techs_error": None,
    }
    context.update(overrides)
    return context


@bp.get("/jobs/<int:job_id>")
@office_required
def job_detail(job_id: int):
    job = get_or_404(Job, job_id)
    return render_template("office/job_detail.html", **_page_context(job))


@bp.get("/jobs/<int:job_id>/techs")
@office_required
def job_techs(job_id: int):
    job = get_or_404(Job, job_id)
    if not htmx:
        return redirect(_detail_url(job, "job-techs"))
    return render_template(
        "office/_job_techs.html", job=job, assign_form=_assign_form(job), techs_error=None
    )


def _techs_response(job: Job, error: DomainError | None):
    if htmx:
        events = () if error else (JOB_TIMELINE_CHANGED,)
        return _fragment(
            "office/_job_techs.html",
            status=error.status_code if error else 200,
            events=events,
            job=job,
            assign_form=_assign_form(job),
            techs_error=error.message if error else None,
        )
    if error:
        flash(error.message, "error")
    return redirect(_detail_url(job, "job-techs"))


@bp.post("/jobs/<int:job_id>/techs")
@office_required
def job_assign(job_id: int):
    job = get_or_404(Job, job_id)
    form = AssignTechForm()
    form.tech_id.choices = [(u.id, u.name) for u in assignable_users(job.company)]
    error: DomainError | None = None
    if not form.validate_on_submit():
        error = DomainError("Pick a technician from the list.", field="tech_id")
    else:
        tech = get_or_404(User, form.tech_id.data)
        with service_call() as call:
            assign_tech(job=job, tech=tech)
        error = call.error
    return _techs_response(job, error)


@bp.post("/jobs/<int:job_id>/techs/<int:user_id>/remove")
@office_required
def job_unassign(job_id: int, user_id: int):
    job = get_or_404(Job, job_id)
    tech = get_or_404(User, user_id)
    with service_call() as call:
        unassign_tech(job=job, tech=tech)
    return _techs_response(job, call.error)


@bp.get("/jobs/<int:job_id>/schedule")
@office_required
def job_schedule(job_id: int):
    job = get_or_404(Job, job_id)
    if not htmx:
        return redirect(_detail_url(job, "job-schedule"))
    return render_template(
        "office/_job_schedule.html",
        job=job,
        schedule_form=_schedule_form(job),
        editing_schedule=False,
    )


@bp.get("/jobs/<int:job_id>/schedule/edit")
@office_required
def job_schedule_edit(job_id: int):
    job = get_or_404(Job, job_id)
    if htmx:
        return render_template(
            "office/_job_schedule.html",
            job=job,
            schedule_form=_schedule_form(job),
            editing_schedule=True,
        )
    return render_template("office/job_detail.html", **_page_context(job, editing_schedule=True))


@bp.post("/jobs/<int:job_id>/schedule")
@office_required
def job_reschedule(job_id: int):
    job = get_or_404(Job, job_id)
    form = ScheduleForm()
    if form.validate_on_submit():
        start, end = form.window(job.company.tz)
        began = utcnow()
        with service_call(form) as call:
            reschedule_job(job=job, start=start, end=end)
            not_sent = texts_not_sent(job=job, since=began)
        if call.ok:
            if htmx:
                return _fragment(
                    "office/_job_schedule.html",
                    events=(JOB_TIMELINE_CHANGED,),
                    job=job,
                    schedule_form=_schedule_form(job),
                    editing_schedule=False,
                    schedule_notes=not_sent,
                )
            _flash_not_sent(not_sent)
            flash(f"Job #{job.number} rescheduled.", "success")
            return redirect(_detail_url(job))
    if htmx:
        return render_template(
            "office/_job_schedule.html", job=job, schedule_form=form, editing_schedule=True
        ), 422
    return render_template(
        "office/job_detail.html",
        **_page_context(job, schedule_form=form, editing_schedule=True),
    ), 422


@bp.get("/jobs/<int:job_id>/timeline")
@office_required
def job_timeline_fragment(job_id: int):
    job = get_or_404(Job, job_id)
    if not htmx:
        return redirect(_detail_url(job, "job-timeline"))
    return render_template("office/_job_timeline.html", job=job, timeline=job_timeline(job))


# Only these two moves belong to the office page; the tech's buttons do the rest.
OFFICE_STATUS_MOVES = (JobStatus.CANCELED, JobStatus.SCHEDULED)


@bp.post("/jobs/<int:job_id>/status")
@office_required
def job_status(job_id: int):
    job = get_or_404(Job, job_id)
    wanted = request.form.get("status", "")
    error: DomainError | None = None
    changed = False
    not_sent: list[str] = []
    if wanted not in OFFICE_STATUS_MOVES:
        error = DomainError("The office can cancel or reopen a job.", field="status")
    else:
        began = utcnow()
        with service_call() as call:
            changed = job_set_status(job=job, status=wanted, actor=current_user).changed
            not_sent = texts_not_sent(job=job, since=began) if changed else []
        error = call.error
    if htmx:
        return _fragment(
            "office/_job_status.html",
            status=error.status_code if error else 200,
            events=(JOB_STATUS_CHANGED, JOB_TIMELINE_CHANGED) if changed else (),
            job=job,
            next_statuses=next_statuses(job),
            status_error=error.message if error else None,
            status_notes=not_sent,
        )
    _flash_not_sent(not_sent)
    if error:
        flash(error.message, "error")
    elif changed:
        flash(
            f"Job #{job.number} canceled."
            if job.status == JobStatus.CANCELED
            else f"Job #{job.number} reopened.",
            "success",
        )
    return redirect(_detail_url(job))

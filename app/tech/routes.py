"""The technician's phone pages.

A tech uses these with one thumb, often on a bad connection, so every request may be a
retry: status taps go through `job_set_status` (a repeat is a no-op, shown as the current
state), replies carry a per-box key (a repeat queues nothing new), and every htmx failure
(logged out, stale CSRF token, job no longer theirs) answers with a plain message swapped
into `#tech-problem` instead of replacing the panel the tech was using.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import abort, flash, redirect, render_template, request, url_for
from flask_htmx import make_response
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf

from app.actions import service_call
from app.auth.access import any_role_required
from app.errors import render_error
from app.extensions import db, htmx
from app.hx_events import TECH_JOB_CHANGED
from app.models import Job, JobStatus, utcnow
from app.request_limits import accepts_upload
from app.services.first_contact import FOOTER, has_texted
from app.services.inbox import send_job_reply, unread_total
from app.services.job_status import IllegalTransition, job_set_status, next_statuses
from app.services.message_media import REPLY_UPLOAD_BYTES, InvalidPhoto
from app.services.notifications import texts_not_sent
from app.services.tech_day import (
    conversation_version,
    day_progress,
    delivery_tick,
    job_conversation,
    job_visible_to,
    local_today,
    mark_job_messages_read,
    tech_day,
)
from app.services.texting import TextingUnavailable, texting_blocker
from app.tech import bp
from app.tech.forms import ETA_CHOICES, ReplyForm, StatusForm, new_reply_key
from app.tenancy import get_or_404

# How far along a visit each status is; a tap for a step the job already passed is a
# retry (or a second tech), answered with the current state instead of an error.
PROGRESS = {
    JobStatus.SCHEDULED: 0,
    JobStatus.ON_MY_WAY: 1,
    JobStatus.STARTED: 2,
    JobStatus.FINISHED: 3,
}
DONE_MESSAGES = {
    JobStatus.ON_MY_WAY: "On My Way: done.",
    JobStatus.STARTED: "Job started.",
    JobStatus.FINISHED: "Job finished. Nice work!",
}


def _problem(status: int, message: str, *, login: bool = False):
    """A plain message for an htmx request that could not be served. It lands in the
    page's `#tech-problem` box; whatever the tech was doing stays on screen."""
    next_url = None
    if login:
        current = urlsplit(htmx.current_url or "")
        next_url = current.path + (f"?{current.query}" if current.query else "")
        if not next_url.startswith("/") or next_url.startswith("//"):
            next_url = url_for("tech.index")
    body = render_template("tech/_problem.html", message=message, next_url=next_url)
    return make_response(body, status, retarget="#tech-problem", reswap="innerHTML")


@bp.before_request
def _htmx_needs_login():
    # Flask-Login would redirect to the login page, and htmx would follow the redirect and
    # paste the login form into the action panel. Say it in words instead; plain page
    # requests still get the usual redirect from the view's decorator.
    if htmx and not current_user.is_authenticated:
        return _problem(
            401,
            "You were logged out. Log in again, then tap again. Nothing you typed is lost.",
            login=True,
        )
    return None


@bp.after_request
def _fresh_csrf_token(response):
    # The tech page stays open all day; every htmx answer carries a valid token, which
    # static/tech.js puts back into the page, so a lost session cookie (phone restarted,
    # "remember me" logged the tech back in) does not make the next tap fail.
    if htmx:
        response.headers["X-CSRF-Token"] = generate_csrf()
    return response


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    if not current_user.is_authenticated and htmx:
        return _htmx_needs_login()
    if htmx:
        return _problem(
            400, "This page was open a long time and had to be refreshed. Please tap again."
        )
    return render_error(
        400, "This page was open a long time and had to be refreshed. Please try again."
    )


@bp.errorhandler(404)
def _not_found(error):
    if htmx:
        return _problem(
            404, "This job is no longer on your list. Go back to My day to see your jobs."
        )
    return render_error(404)


@bp.context_processor
def _today() -> dict:
    if not current_user.is_authenticated:
        return {}
    # The ETA chips of the On My Way sheet, on the cards of My day and on the job page.
    return {"today": local_today(company=current_user.company), "eta_choices": ETA_CHOICES}


def _visible_job(job_id: int) -> Job:
    """The job, if it is this company's and this user may see it; 404 otherwise (a tech
    learns nothing about other techs' jobs, not even that they exist)."""
    job = get_or_404(Job, job_id)
    if not job_visible_to(job=job, user=current_user):
        abort(404)
    return job


@bp.get("")
@any_role_required
def index():
    company = current_user.company
    day = tech_day(company=company, user=current_user, everyone=request.args.get("all") == "1")
    # Texts routed to the tech for no job on the list (Point of Contact, handed over) show
    # only in the Messages chip: the poll's version covers its count too.
    unread_texts = unread_total(company=company, user=current_user)
    context = {
        "day": day,
        "unread_texts": unread_texts,
        "poll_version": f"{day.version}.{unread_texts}",
    }
    if htmx.target == "job-list":
        if request.args.get("v") == context["poll_version"]:
            return "", 204
        return render_template("tech/_job_list.html", **context) + render_template(
            "tech/_messages_chip.html", oob=True, **context
        )
    return render_template("tech/index.html", **context)


def _needs_confirm(job: Job, status: str | None) -> bool:
    """Whether a tap for `status` only asks first: a tap that skips a step. Finished straight
    from On My Way skips Start (and sends the customer the text that can't be taken back);
    Start straight from Scheduled skips the On My Way text for good. The steps in order
    (On My Way, Start, Finished) are one tap each: a whole job in 4 taps from My day."""
    if status == JobStatus.FINISHED:
        return job.status == JobStatus.ON_MY_WAY
    if status == JobStatus.STARTED:
        return job.status == JobStatus.SCHEDULED
    return False


def _actions_context(job: Job, **extra) -> dict:
    form = extra.pop("form", None) or StatusForm(formdata=None)
    progress = None
    if job.status == JobStatus.FINISHED:
        progress = day_progress(company=job.company, user=current_user, after=job)
    return {
        "job": job,
        "form": form,
        "next_statuses": next_statuses(job),
        "confirm": None,
        "note": None,
        "error": None,
        "progress": progress,
        **extra,
    }


def _reply_context(job: Job, form: ReplyForm | None = None, **extra) -> dict:
    if form is None:
        form = ReplyForm(formdata=None, key=new_reply_key())
    blocker = texting_blocker(company=job.company, phone=job.customer.mobile_phone)
    first_contact = not has_texted(company=job.company, phone=job.customer.mobile_phone)
    return {
        "job": job,
        "reply_form": form,
        "blocker": blocker,
        "sent": False,
        "first_contact": first_contact,
        "first_contact_footer": FOOTER,
        **extra,
    }


def _messages_context(job: Job) -> dict:
    """The conversation to show. What is on the screen has been seen, so the tech's unread
    marks are cleared too; the caller commits that AFTER rendering (`_rendered`), since a
    commit expires the loaded messages and each would then be read again, one by one."""
    conversation = job_conversation(job=job, user=current_user)
    mark_job_messages_read(job=job, user=current_user)
    return {"job": job, "conversation": conversation, "delivery_tick": delivery_tick, "oob": False}


def _rendered(template: str, **context) -> str:
    html = render_template(template, **context)
    db.session.commit()
    return html


def _job_page(job: Job, *, status: int = 200, actions: dict | None = None, reply=None):
    context = {
        **_actions_context(job, **(actions or {})),
        **_messages_context(job),
        **(reply or _reply_context(job)),
    }
    return _rendered("tech/job.html", **context), status


@bp.get("/jobs/<int:job_id>")
@any_role_required
def job(job_id: int):
    job = _visible_job(job_id)
    asks = request.args.get("confirm")
    confirm = asks if _needs_confirm(job, asks) else None
    if htmx.target == "actions":
        return render_template("tech/_actions.html", **_actions_context(job, confirm=confirm))
    return _job_page(job, actions={"confirm": confirm})


@bp.get("/jobs/<int:job_id>/on-my-way")
@any_role_required
def on_my_way(job_id: int):
    """The On My Way sheet as a page of its own: where the My day button leads without
    JavaScript (with it, the same form opens in a bottom sheet over the list)."""
    job = _visible_job(job_id)
    if JobStatus.ON_MY_WAY not in next_statuses(job):
        flash(f"Already {job.status_label.lower()}.", "success")
        return redirect(url_for("tech.job", job_id=job.id))
    return render_template("tech/on_my_way.html", job=job)


@bp.post("/jobs/<int:job_id>/status")
@any_role_required
def job_status(job_id: int):
    job = _visible_job(job_id)
    form = StatusForm()
    # The My day sheet opens the job page afterwards; the job panel swaps in place.
    then_page = form.then.data == "job"
    if not form.validate():
        return _actions_response(job, status=400, form=form, then_page=then_page)
    wanted = form.status.data
    if not form.confirmed and _needs_confirm(job, wanted):
        return _actions_response(job, confirm=wanted, then_page=then_page)
    started = utcnow()
    with service_call() as call:
        transition = job_set_status(
            job=job, status=wanted, actor=current_user, eta_minutes=form.eta_minutes
        )
        # Read before the commit expires the job: a text that could not go replaces "done".
        not_sent = texts_not_sent(job=job, since=started) if transition.changed else []
    if call.error is not None and not isinstance(call.error, IllegalTransition):
        raise call.error
    if call.error is not None:
        error = call.error
        if job.status == JobStatus.CANCELED:
            return _actions_response(job, note="The office canceled this job.", then_page=then_page)
        if PROGRESS.get(job.status, -1) >= PROGRESS.get(wanted, 99):
            return _actions_response(
                job, note=f"Already {job.status_label.lower()}.", then_page=then_page
            )
        if error.field == "eta":
            form.eta.errors = [*form.eta.errors, error.message]
            return _actions_response(job, status=400, form=form, then_page=then_page)
        return _actions_response(job, status=409, error=error.message, then_page=then_page)
    note = DONE_MESSAGES[wanted] if transition.changed else f"Already {job.status_label.lower()}."
    if not_sent:
        note = " ".join(not_sent)
    if not htmx or then_page:
        flash(note, "error" if not_sent else "success")
        return _to_job_page(job)
    # The On My Way / Finished texts now sit in the conversation: refresh it at once.
    return _actions_response(job, note=note, note_warning=bool(not_sent), trigger=TECH_JOB_CHANGED)


def _to_job_page(job: Job, *, confirm: str | None = None):
    url = url_for("tech.job", job_id=job.id, confirm=confirm)
    # htmx follows a plain redirect with XHR and would paste the page into the sheet.
    return make_response("", 200, redirect=url) if htmx else redirect(url)


def _actions_response(
    job: Job,
    *,
    status: int = 200,
    trigger: str | None = None,
    then_page: bool = False,
    **actions,
):
    if htmx and then_page:
        # Asked from My day, answered on the job page: a problem is said in words over
        # the list (nothing to swap there), anything else is shown on the job page.
        if status >= 400:
            form = actions.get("form")
            messages = [m for field in (form.errors.values() if form else ()) for m in field]
            return _problem(status, " ".join(messages) or actions.get("error") or "")
        if actions.get("note"):
            flash(actions["note"], "success")
        return _to_job_page(job, confirm=actions.get("confirm"))
    if htmx:
        body = render_template("tech/_actions.html", **_actions_context(job, **actions))
        return make_response(body, status, trigger=trigger)
    return _job_page(job, status=status, actions=actions)


@bp.get("/jobs/<int:job_id>/messages")
@any_role_required
def job_messages(job_id: int):
    job = _visible_job(job_id)
    if not htmx:
        return redirect(url_for("tech.job", job_id=job.id, _anchor="conversation"))
    if request.args.get("v") == conversation_version(job=job, user=current_user):
        return "", 204  # nothing new: htmx keeps the list as it is
    return _rendered("tech/_messages.html", **_messages_context(job))


@bp.post("/jobs/<int:job_id>/reply")
@accepts_upload(REPLY_UPLOAD_BYTES)
@any_role_required
def job_reply(job_id: int):
    job = _visible_job(job_id)
    form = ReplyForm()
    status = 400
    if form.validate():
        with service_call() as call:
            send_job_reply(
                job=job,
                author=current_user,
                body=form.body.data,
                reply_key=form.key.data,
                photos=form.photo_bytes(),
            )
        if isinstance(call.error, TextingUnavailable):
            status = 409  # the reply area now explains why (texting_blocker)
        elif isinstance(call.error, InvalidPhoto):
            form.photos.errors = [call.message]
        elif call.error is not None:
            raise call.error
        else:
            if not htmx:
                flash("Reply sent.", "success")
                return redirect(url_for("tech.job", job_id=job.id, _anchor="conversation"))
            context = _reply_context(job, sent=True) | _messages_context(job) | {"oob": True}
            return _rendered("tech/_reply.html", **context)
    if not htmx:
        return _job_page(job, status=status, reply=_reply_context(job, form))
    return render_template("tech/_reply.html", **_reply_context(job, form)), status

"""Office pages: the inbox (conversations, threads, replies) and the Point of Contact setting.

Layout: a list of conversations on the left, the open thread on the right. Both poll every
5 s while the tab is visible; each poll carries a fingerprint (`v`) of what the browser
shows, and the server answers 204 (htmx swaps nothing) while nothing changed, so a poll
never resets the scroll position or a half-typed reply.
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_htmx import make_response
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    Email,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from app.actions import service_call
from app.auth.access import any_role_required, manager_required, office_required
from app.extensions import db, htmx
from app.forms import ReplyPhotos
from app.hx_events import INBOX_LIST_CHANGED
from app.models import Conversation, RevocationFlag, Role, User, utcnow
from app.office import bp
from app.redirects import referrer_target
from app.request_limits import accepts_upload
from app.services.errors import DomainError
from app.services.escalation import MAX_ESCALATION_MINUTES, set_escalation_minutes
from app.services.first_contact import FOOTER, has_texted
from app.services.inbox import (
    MAX_REPLY_CHARS,
    create_customer_from_conversation,
    delivery_state,
    list_conversations,
    list_version,
    mark_read,
    reassign,
    related_job,
    send_reply,
    thread_messages,
    thread_version,
)
from app.services.message_media import REPLY_UPLOAD_BYTES, InvalidPhoto
from app.services.opt_outs import business_days_left, decide_revocation, open_flags
from app.services.routing import (
    decide_recipients,
    set_forwarding,
    set_point_of_contact,
    who_gets_texts_today,
)
from app.services.texting import TextingUnavailable, texting_blocker
from app.tenancy import get_in_company, get_or_404, parse_id


class ReplyForm(ReplyPhotos, FlaskForm):
    body = TextAreaField(
        "Reply",
        validators=[
            Length(max=MAX_REPLY_CHARS, message=f"Keep it under {MAX_REPLY_CHARS} characters.")
        ],
    )
    # One key per reply box: a double submit of the same box queues one text.
    key = HiddenField()

    def validate_body(self, field) -> None:
        if not (field.data or "").strip() and not self.has_photos():
            raise ValidationError("Write a message before sending.")


class AssignForm(FlaskForm):
    user_id = SelectField("Texts without a job in progress go to", choices=[])


class NewCustomerForm(FlaskForm):
    name = StringField(
        "Name", validators=[InputRequired("Enter the customer's name."), Length(max=120)]
    )
    email = StringField(
        "Email (optional)", validators=[Optional(), Email("Enter a valid email."), Length(max=255)]
    )
    address = StringField("Address (optional)", validators=[Optional(), Length(max=255)])


class PointOfContactForm(FlaskForm):
    poc_user_id = SelectField("Point of Contact", choices=[])
    escalation_minutes = IntegerField(
        "Escalate unread texts after (minutes)",
        validators=[
            Optional(),
            NumberRange(1, MAX_ESCALATION_MINUTES, f"Enter 1 to {MAX_ESCALATION_MINUTES} minutes."),
        ],
        description="A text routed to a technician and still unread after this many minutes "
        "is also shown to the Point of Contact (or the account owner, when the Point of "
        "Contact is that technician). Leave empty to turn escalation off.",
    )


class ForwardingForm(FlaskForm):
    enabled = HiddenField()


def _active_users() -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.company_id == current_user.company_id, User.active.is_(True))
            .order_by(User.name, User.id)
        )
    )


def _user_choices(empty_label: str) -> list[tuple[str, str]]:
    return [("", empty_label)] + [
        (str(u.id), f"{u.name} ({u.role_label})") for u in _active_users()
    ]


def _company_user(raw: str | None, *, field: str) -> User | None:
    """The chosen user (an active user of this company), or None for "nobody"."""
    if not raw:
        return None
    user_id = parse_id(raw)
    user = get_in_company(User, user_id, company_id=current_user.company_id) if user_id else None
    if user is None or not user.active:
        raise DomainError("Pick an active user of your company.", field=field)
    return user


# The list ---------------------------------------------------------------------------


def _list_context(selected_id: int | None = None) -> dict:
    query = request.args.get("q", "").strip()[:100]
    mine = request.args.get("mine") == "1"
    rows = list_conversations(
        company=current_user.company, query=query, only_user=current_user if mine else None
    )
    return {
        "rows": rows,
        "query": query,
        "mine": mine,
        "selected_id": selected_id,
        "list_version": list_version(rows),
    }


def _list_fragment_or_204(selected_id: int | None):
    context = _list_context(selected_id)
    if request.args.get("v") == context["list_version"]:
        return "", 204
    return render_template("office/_inbox_list.html", **context)


@bp.get("/inbox")
@office_required
def inbox():
    if htmx and htmx.target == "conversation-list":
        return _list_fragment_or_204(request.args.get("selected", type=int))
    return render_template(
        "office/inbox.html", conversation=None, forwarding_form=ForwardingForm(), **_list_context()
    )


# One conversation -------------------------------------------------------------------


def _thread_context(conversation: Conversation, **extra) -> dict:
    messages = thread_messages(conversation=conversation)
    company = current_user.company
    job = related_job(messages)
    next_route = decide_recipients(
        company=company, customer=conversation.customer, conversation=conversation
    )
    blocker = texting_blocker(company=company, phone=conversation.phone)
    assign_form = extra.pop("assign_form", None) or AssignForm(
        formdata=None, user_id=str(conversation.assigned_user_id or "")
    )
    assign_form.user_id.choices = _user_choices("Point of Contact (default)")
    reply_form = extra.pop("reply_form", None) or ReplyForm(
        formdata=None, key=secrets.token_urlsafe(16)
    )
    customer_form = extra.pop("customer_form", None) or NewCustomerForm(formdata=None)
    # One decision answers every open flag of the number: show the oldest (least time left).
    flags = open_flags(company=company, phone=conversation.phone)
    revocation = None
    if flags:
        left = business_days_left(flags[0], now=utcnow(), tz=company.tz)
        revocation = {"flag": flags[0], "days_left": left}
    return {
        "revocation": revocation,
        "first_contact": not has_texted(company=company, phone=conversation.phone),
        "first_contact_footer": FOOTER,
        "conversation": conversation,
        "messages": messages,
        # What the thread shows: its messages, the job's status, where the next text goes.
        "thread_version": thread_version(
            messages, job.status if job else "", next_route.reason, next_route.recipient_ids
        ),
        "delivery_state": delivery_state,
        "job": job,
        "next_route": next_route,
        "blocker": blocker,
        "reply_form": reply_form,
        "assign_form": assign_form,
        "customer_form": customer_form,
        **extra,
    }


@bp.get("/inbox/<int:conversation_id>")
@office_required
def conversation(conversation_id: int):
    conversation = get_or_404(Conversation, conversation_id)
    # Opening a conversation reads it (the inbox shows it on screen now). Committed after
    # rendering: a commit expires every object loaded so far (the user, the company, the
    # conversation), and the page would load each of them again.
    mark_read(conversation=conversation, user=current_user)
    if htmx and htmx.target == "thread-messages":
        context = _thread_context(conversation)
        if request.args.get("v") == context["thread_version"]:
            db.session.commit()
            return "", 204
        html = render_template("office/_conversation_messages.html", poll=True, **context)
        db.session.commit()
        return _list_changed(html)
    html = render_template(
        "office/inbox.html",
        forwarding_form=ForwardingForm(),
        **_list_context(conversation.id),
        **_thread_context(conversation),
    )
    db.session.commit()
    return html


def _list_changed(html: str, status: int = 200):
    """A fragment response that also tells the conversation list to refresh now (new texts
    were read, a reply changed the preview) instead of at its next poll."""
    return make_response(html, status, trigger=INBOX_LIST_CHANGED)


def _conversation_response(conversation: Conversation, status: int = 200, **extra):
    if htmx:
        html = render_template(
            "office/_conversation.html", **_thread_context(conversation, **extra)
        )
        return _list_changed(html, status) if status < 400 else (html, status)
    if status >= 400:
        return (
            render_template(
                "office/inbox.html",
                forwarding_form=ForwardingForm(),
                **_list_context(conversation.id),
                **_thread_context(conversation, **extra),
            ),
            status,
        )
    return redirect(url_for("office.conversation", conversation_id=conversation.id))


@bp.post("/inbox/<int:conversation_id>/reply")
@accepts_upload(REPLY_UPLOAD_BYTES)
@office_required
def conversation_reply(conversation_id: int):
    conversation = get_or_404(Conversation, conversation_id)
    form = ReplyForm()
    problem = None
    if form.validate_on_submit():
        with service_call() as call:
            send_reply(
                conversation=conversation,
                author=current_user,
                body=form.body.data,
                idempotency_key=form.key.data or None,
                photos=form.photo_bytes(),
            )
        if isinstance(call.error, TextingUnavailable):
            problem = call.message
        elif isinstance(call.error, InvalidPhoto):
            form.photos.errors = [call.message]
        elif call.error is not None:
            form.body.errors = [*form.body.errors, call.message]
        else:
            if not htmx:
                flash("Reply queued. Ticks show when it's delivered.", "success")
                return redirect(url_for("office.conversation", conversation_id=conversation.id))
            context = _thread_context(conversation, sent=True)
            return _list_changed(
                render_template("office/_conversation_reply.html", oob_messages=True, **context)
            )
    status = 409 if problem else 422
    if htmx:
        context = _thread_context(conversation, reply_form=form, reply_problem=problem)
        return render_template("office/_conversation_reply.html", **context), status
    return _conversation_response(conversation, status, reply_form=form, reply_problem=problem)


@bp.post("/inbox/<int:conversation_id>/revocation/<int:flag_id>")
@office_required
def conversation_revocation(conversation_id: int, flag_id: int):
    """The office's answer to a flagged "stop texting me": opt the number out (one
    confirmation text, held texts canceled) or not (held texts go out)."""
    conversation = get_or_404(Conversation, conversation_id)
    flag = get_or_404(RevocationFlag, flag_id)
    decision = request.form.get("decision")
    if flag.phone != conversation.phone or decision not in ("opt_out", "not_opt_out"):
        return _problem_response(conversation, "Pick Opt this number out or Not an opt-out.")
    with service_call() as call:
        decide_revocation(flag=flag, actor=current_user, opt_out_number=decision == "opt_out")
    if not call.ok:
        return _problem_response(conversation, call.message)
    if not htmx:  # with htmx the thread itself shows it: the banner goes, the texts move
        if decision == "opt_out":
            flash("Opted out. They were sent one confirmation and get no other texts.", "success")
        else:
            flash("Marked as not an opt-out. The held texts are on their way.", "success")
    return _conversation_response(conversation)


def _problem_response(conversation: Conversation, message: str):
    if htmx:
        return _conversation_response(conversation, 409, revocation_problem=message)
    flash(message, "error")
    return redirect(url_for("office.conversation", conversation_id=conversation.id))


@bp.post("/inbox/<int:conversation_id>/assign")
@office_required
def conversation_assign(conversation_id: int):
    conversation = get_or_404(Conversation, conversation_id)
    form = AssignForm()
    form.user_id.choices = _user_choices("Point of Contact (default)")
    with service_call() as call:
        to_user = _company_user(form.user_id.data, field="user_id")
        reassign(conversation=conversation, to_user=to_user, actor=current_user)
    if not call.ok:
        form.user_id.errors = [*form.user_id.errors, call.message]
        return _conversation_response(conversation, call.status_code, assign_form=form)
    if not htmx:
        flash("Conversation reassigned.", "success")
    return _conversation_response(conversation)


@bp.post("/inbox/<int:conversation_id>/customer")
@office_required
def conversation_customer(conversation_id: int):
    conversation = get_or_404(Conversation, conversation_id)
    form = NewCustomerForm()
    if not form.validate_on_submit():
        return _conversation_response(conversation, 422, customer_form=form)
    with service_call() as call:
        customer = create_customer_from_conversation(
            conversation=conversation,
            name=form.name.data,
            email=form.email.data,
            address=form.address.data,
            actor=current_user,
        )
    if not call.ok:
        field = getattr(form, call.error.field or "name", form.name)
        field.errors = [*field.errors, call.message]
        return _conversation_response(conversation, 422, customer_form=form)
    if not htmx:
        flash(f"{customer.name} is now a customer.", "success")
    return _conversation_response(conversation)


# Forwarding -------------------------------------------------------------------------


@bp.post("/inbox/forwarding")
@any_role_required  # techs too: any page (the tech view, a profile) may post this form
def my_forwarding():
    form = ForwardingForm()
    status = 200
    with service_call() as call:
        set_forwarding(user=current_user, enabled=form.enabled.data == "1", actor=current_user)
    if not call.ok:
        form.enabled.errors = [call.message]
        status = 422
    if htmx:
        return render_template("office/_inbox_forwarding.html", forwarding_form=form), status
    if status != 200:
        flash(form.enabled.errors[0], "error")
    return redirect(_back_here())


def _back_here() -> str:
    """The page the form was on (same site only), else the inbox."""
    return referrer_target() or (
        url_for("office.inbox") if current_user.is_office else url_for("tech.index")
    )


# The Point of Contact setting -------------------------------------------------------


def _team() -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User).where(User.company_id == current_user.company_id).order_by(User.id)
        )
    )


@bp.route("/settings/point-of-contact", methods=["GET", "POST"])
@manager_required
def point_of_contact():
    company = current_user.company
    form = PointOfContactForm(
        poc_user_id=str(company.poc_user_id or ""),
        escalation_minutes=company.escalation_minutes,
    )
    form.poc_user_id.choices = _user_choices("No Point of Contact (use the account owner)")
    status = 200
    if form.validate_on_submit():
        with service_call() as call:
            poc = _company_user(form.poc_user_id.data, field="poc_user_id")
            set_point_of_contact(company=company, user=poc, actor=current_user)
            set_escalation_minutes(
                company=company, minutes=form.escalation_minutes.data, actor=current_user
            )
        if not call.ok:
            field = getattr(form, call.error.field or "poc_user_id", form.poc_user_id)
            field.errors = [*field.errors, call.message]
            status = 422
        else:
            flash("Saved. " + who_gets_texts_today(company), "success")
            return redirect(url_for("office.point_of_contact"))
    elif request.method == "POST":
        status = 422
    return (
        render_template(
            "office/point_of_contact.html",
            form=form,
            today=who_gets_texts_today(company),
            team=_team(),
            forwarding_form=ForwardingForm(),
            Role=Role,
        ),
        status,
    )


@bp.post("/settings/point-of-contact/forwarding/<int:user_id>")
@manager_required
def user_forwarding(user_id: int):
    user = get_or_404(User, user_id)
    form = ForwardingForm()
    with service_call(flash_error=True) as call:
        set_forwarding(user=user, enabled=form.enabled.data == "1", actor=current_user)
    if call.ok:
        state = "on" if user.forward_texts else "off"
        flash(f"Forwarding to {user.name}'s mobile is {state}.", "success")
    return redirect(url_for("office.point_of_contact") + "#forwarding")

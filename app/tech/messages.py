"""The technician's messages: every conversation routed to them, and its thread.

The same services as the office inbox (app/services/inbox.py) list, read and answer the
conversations; only who may open which differs: a technician opens the conversations
routed to them (`conversation_open_to`), any other one is 404 as if it did not exist.
"""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user

from app.actions import service_call
from app.auth.access import any_role_required
from app.errors import render_error
from app.extensions import db, htmx
from app.models import Conversation
from app.request_limits import accepts_upload
from app.services.first_contact import FOOTER, has_texted
from app.services.inbox import (
    conversation_open_to,
    delivery_state,
    list_conversations,
    list_version,
    mark_read,
    related_job,
    send_reply,
    thread_messages,
    thread_version,
)
from app.services.message_media import REPLY_UPLOAD_BYTES, InvalidPhoto
from app.services.routing import decide_recipients
from app.services.tech_day import job_visible_to
from app.services.texting import TextingUnavailable, texting_blocker
from app.tech import bp
from app.tech.forms import ReplyForm, new_reply_key
from app.tech.routes import _problem
from app.tenancy import get_or_404

NOT_YOURS = "This conversation is no longer routed to you. Go back to Messages to see yours."


def _routed_conversation(conversation_id: int) -> Conversation:
    """The conversation, if it is this company's and routed to this user; 404 otherwise
    (a tech learns nothing about conversations that are not theirs)."""
    conversation = get_or_404(Conversation, conversation_id)
    if not conversation_open_to(conversation=conversation, user=current_user):
        # Said in words: the blueprint's own 404 speaks of jobs.
        abort(_problem(404, NOT_YOURS) if htmx else make_response(render_error(404, NOT_YOURS)))
    return conversation


@bp.get("/messages")
@any_role_required
def messages():
    rows = list_conversations(company=current_user.company, routed_to=current_user)
    version = list_version(rows)
    if htmx.target == "message-list":
        if request.args.get("v") == version:
            return "", 204
        return render_template("tech/_message_list.html", rows=rows, list_version=version)
    return render_template("tech/messages.html", rows=rows, list_version=version)


def _thread_context(conversation: Conversation, **extra) -> dict:
    company = conversation.company
    messages = thread_messages(conversation=conversation, viewer=current_user)
    job = related_job(messages)
    route = decide_recipients(
        company=company, customer=conversation.customer, conversation=conversation
    )
    reply_form = extra.pop("reply_form", None) or ReplyForm(formdata=None, key=new_reply_key())
    return {
        "conversation": conversation,
        "messages": messages,
        "job": job if job is not None and job_visible_to(job=job, user=current_user) else None,
        "route": route,
        "routed_to_me": current_user.id in route.recipient_ids,
        "thread_version": thread_version(messages, route.reason, route.recipient_ids),
        "delivery_state": delivery_state,
        "blocker": texting_blocker(company=company, phone=conversation.phone),
        "first_contact": not has_texted(company=company, phone=conversation.phone),
        "first_contact_footer": FOOTER,
        "reply_form": reply_form,
        "sent": False,
        **extra,
    }


def _rendered(template: str, status: int = 200, **context):
    # Committed after rendering (the read marks): a commit expires every loaded message.
    html = render_template(template, **context)
    db.session.commit()
    return html, status


@bp.get("/messages/<int:conversation_id>")
@any_role_required
def message_thread(conversation_id: int):
    conversation = _routed_conversation(conversation_id)
    # What is on the screen has been read (by this user, and for the office's counts).
    mark_read(conversation=conversation, user=current_user)
    context = _thread_context(conversation)
    if htmx.target == "thread-messages":
        if request.args.get("v") == context["thread_version"]:
            db.session.commit()
            return "", 204
        return _rendered("tech/_thread_messages.html", **context)
    return _rendered("tech/message_thread.html", **context)


@bp.post("/messages/<int:conversation_id>/reply")
@accepts_upload(REPLY_UPLOAD_BYTES)
@any_role_required
def message_reply(conversation_id: int):
    conversation = _routed_conversation(conversation_id)
    form = ReplyForm()
    status = 422
    problem = None
    if form.validate():
        with service_call() as call:
            send_reply(
                conversation=conversation,
                author=current_user,
                body=form.body.data,
                idempotency_key=form.key.data,
                photos=form.photo_bytes(),
            )
        if isinstance(call.error, TextingUnavailable):
            problem, status = call.message, 409
        elif isinstance(call.error, InvalidPhoto):
            form.photos.errors = [call.message]
        elif call.error is not None:
            form.body.errors = [*form.body.errors, call.message]
            status = call.status_code
        else:
            if not htmx:
                flash("Reply sent. Ticks show when it's delivered.", "success")
                return redirect(url_for("tech.message_thread", conversation_id=conversation.id))
            context = _thread_context(conversation, sent=True)
            return _rendered("tech/_thread_reply.html", oob_messages=True, **context)
    context = _thread_context(conversation, reply_form=form, reply_problem=problem)
    if htmx:
        return render_template("tech/_thread_reply.html", **context), status
    return render_template("tech/message_thread.html", **context), status

"""/dev/mail: the development mailbox, what the app emailed (password reset links), with
links that work. Open without logging in: the person who forgot their password is not
logged in. Present only in development without SMTP (see app/dev/__init__.py)."""

from __future__ import annotations

from flask import current_app, render_template

from app.dev import bp
from app.dev.simulator import linkify
from app.mail import DevMailbox


@bp.get("/mail")
def mail():
    messages = DevMailbox(current_app.config["DEV_MAILBOX"]).messages()
    return render_template(
        "dev/mail.html", title="Development mailbox", messages=messages, linkify=linkify
    )

"""/t/<token>: the short link in a text to a user's own mobile, to the thread it is about.

The link needs a login (the login page brings the user back here through `next`) and then
sends each person to where THEY read the thread: the inbox for the office, the tech's
messages for a technician. Whether they may still read it is that page's decision.
"""

from __future__ import annotations

from flask import abort, redirect
from flask_login import current_user, login_required

from app.auth import bp
from app.models import Conversation
from app.services.thread_links import read_thread_link_token, thread_url_for
from app.tenancy import get_or_404


@bp.get("/t/<token>")
@login_required
def thread_link(token: str):
    ids = read_thread_link_token(token)
    if ids is None:
        abort(404)
    conversation = get_or_404(Conversation, ids[0])
    return redirect(thread_url_for(user=current_user, conversation=conversation, external=False))

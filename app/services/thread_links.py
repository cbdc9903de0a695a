"""Where a given person reads a conversation.

The office reads every conversation in the inbox; a technician cannot open the inbox and
reads the conversations routed to them on their phone page (`/tech/messages/<id>`). Every
link that sends a person to "the thread" (a forwarded text, a push notification, a text
answering a reply to a forward) asks here, so nobody is sent to a page they cannot open.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import current_app

from app.models import Conversation, User
from app.urls import public_path_for, public_url_for


def thread_endpoint(user: User) -> str:
    return "office.conversation" if user.is_office else "tech.message_thread"


def thread_url_for(*, user: User, conversation: Conversation, external: bool = True) -> str:
    """The URL where `user` reads `conversation`: the inbox thread for owners, admins and
    office staff, the tech's messages for a technician. `external` gives the absolute
    `PUBLIC_BASE_URL` link (texts, pushes, the worker); otherwise the path on this site."""
    endpoint = thread_endpoint(user)
    if external:
        return public_url_for(endpoint, conversation_id=conversation.id)
    # Built from the URL map, not the request: the worker and CLI ask too.
    return public_path_for(endpoint, conversation_id=conversation.id)


# A forwarded text carries a link that fits in the text: /t/<conversation>-<user>-<mac>.
# The mac (an HMAC with SECRET_KEY, 12 bytes) makes the link a thing the app issued, not
# a counter anyone can walk; the thread itself still needs a login and the right to read
# it. 96 bits is far beyond guessing through a rate-limited login.
_MAC_BYTES = 12


def _mac(conversation_id: int, user_id: int) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"thread-link:{conversation_id}:{user_id}".encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:_MAC_BYTES]).decode().rstrip("=")


def thread_link_token(*, user: User, conversation: Conversation) -> str:
    return f"{conversation.id}-{user.id}-{_mac(conversation.id, user.id)}"


def short_thread_link(*, user: User, conversation: Conversation) -> str:
    """The short absolute link put in texts to `user` (see `read_thread_link_token`)."""
    token = thread_link_token(user=user, conversation=conversation)
    return public_url_for("auth.thread_link", token=token)


def read_thread_link_token(token: str) -> tuple[int, int] | None:
    """(conversation id, user id) of a link this app issued, else None."""
    parts = token.split("-", 2)
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        return None
    conversation_id, user_id = int(parts[0]), int(parts[1])
    if not hmac.compare_digest(parts[2], _mac(conversation_id, user_id)):
        return None
    return conversation_id, user_id

"""Where a given person reads a conversation.

The office reads every conversation in the inbox; a technician cannot open the inbox and
reads the conversations routed to them on their phone page (`/tech/messages/<id>`). Every
link that sends a person to "the thread" (a forwarded text, a push notification, a text
answering a reply to a forward) asks here, so nobody is sent to a page they cannot open.
"""

from __future__ import annotations

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

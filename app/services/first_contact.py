"""The first-contact footer: the first text a company ever sends to a number says how to
opt out (CTIA Messaging Principles and Best Practices 5.1.1: opt-out instructions in the
first message; later messages may leave them out). Decided when the text is queued.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.extensions import db
from app.models import Company, Conversation, Direction, Message, MessageKind, MessageStatus

FOOTER = " Reply STOP to opt out."
# Texts that never reached the phone do not count as the first contact.
NOT_SENT = (MessageStatus.CANCELED, MessageStatus.FAILED)
# These already say how to opt out (or are the answer to the customer's own keyword).
EXEMPT_KINDS = (
    MessageKind.OPT_OUT_CONFIRMATION,
    MessageKind.OPT_IN_CONFIRMATION,
    MessageKind.HELP_REPLY,
    MessageKind.FORWARD,
    MessageKind.NOTICE,
)
_SAYS_HOW = re.compile(r"\b(reply|text)\s+stop\b", re.IGNORECASE)


def has_texted(*, company: Company, phone: str) -> bool:
    """Whether the company has ever sent (or is sending) a text to `phone`. Through the
    conversation (unique per company and phone, and its messages indexed by it), so it
    reads one conversation's texts, not every text of a busy company."""
    return (
        db.session.scalar(
            sa.select(Message.id)
            .join(Conversation, Conversation.id == Message.conversation_id)
            .where(
                Conversation.company_id == company.id,
                Conversation.phone == phone,
                Message.direction == Direction.OUT,
                Message.status.not_in(NOT_SENT),
            )
            .limit(1)
        )
        is not None
    )


def footer_applies(*, company: Company, phone: str | None, kind: str, body: str) -> bool:
    """True when a text of `kind` with `body` to `phone` must end with FOOTER. With no
    phone (a template preview without a real customer) the answer is for a new number."""
    if kind in EXEMPT_KINDS or _SAYS_HOW.search(body):
        return False
    return phone is None or not has_texted(company=company, phone=phone)


def with_footer(*, company: Company, phone: str, kind: str, body: str) -> str:
    if footer_applies(company=company, phone=phone, kind=kind, body=body):
        return body.rstrip() + FOOTER
    return body

"""Finding the conversation a text belongs to, and writing system notices into it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Company,
    Conversation,
    Customer,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    PhoneNumber,
    User,
    utcnow,
)
from app.services.uniqueness import insert_or_get


def conversation_for(
    *, company: Company, phone: str, customer: Customer | None = None
) -> Conversation:
    """The company's conversation with `phone` (E.164), created on first use.

    Safe under concurrency: a second request creating the same conversation at the same
    moment hits the unique constraint inside a savepoint and reads the winner's row.
    """
    stmt = sa.select(Conversation).filter_by(company_id=company.id, phone=phone)
    conversation = db.session.scalar(stmt)
    if conversation is None:
        new = Conversation(
            company_id=company.id, phone=phone, customer_id=customer.id if customer else None
        )
        conversation, _ = insert_or_get(new, stmt)
    if customer is not None and conversation.customer_id is None:
        conversation.customer_id = customer.id
    return conversation


def add_notice(
    *,
    conversation: Conversation,
    body: str,
    extra: dict[str, Any],
    author: User | None = None,
    job_id: int | None = None,
    dedupe_key: str | None = None,
    read: bool = False,
    now: datetime | None = None,
) -> Message:
    """A system event shown in the thread ("Estimate #12 approved", "Assigned to Ann"): a
    NOTICE row, stored like an inbound text so it sorts, counts and routes like one.

    `read` marks it read at once (the office's own action needs no one's attention).
    """
    now = now or utcnow()
    number = db.session.scalar(sa.select(PhoneNumber).filter_by(company_id=conversation.company_id))
    notice = Message(
        company_id=conversation.company_id,
        conversation_id=conversation.id,
        direction=Direction.IN,
        kind=MessageKind.NOTICE,
        from_phone=conversation.phone,
        to_phone=number.e164 if number else "",
        body=body,
        status=MessageStatus.RECEIVED,
        author_id=author.id if author else None,
        job_id=job_id,
        dedupe_key=dedupe_key,
        read_at=now if read else None,
        created_at=now,
        extra=extra,
    )
    conversation.last_message_at = now
    db.session.add(notice)
    db.session.flush()
    return notice

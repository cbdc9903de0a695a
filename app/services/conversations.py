"""Finding the conversation a text belongs to."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Company, Conversation, Customer
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

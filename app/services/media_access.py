"""Who may see a picture or file of a text (the rule behind /media/<id>).

Office roles see every one of their company's. A technician sees what their pages show
them: the customer's texts routed to them, and what the company sent in a conversation
open to them on their messages page (app/services/inbox.py `conversation_open_to`) or
with the customer of a job of theirs (app/services/tech_day.py). Never a customer's text
that went to someone else (issue 7; the messages thread hides it too), and never another
company's.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Direction, Job, JobAssignment, MessageMedia, MessageRecipient, User
from app.services.inbox import conversation_open_to


def can_view(*, user: User, media: MessageMedia) -> bool:
    if media.company_id != user.company_id:
        return False
    if user.is_office:
        return True
    message = media.message
    routed_here = db.session.scalar(
        sa.select(MessageRecipient.id)
        .where(MessageRecipient.message_id == message.id, MessageRecipient.user_id == user.id)
        .limit(1)
    )
    if routed_here is not None:
        return True
    if message.direction != Direction.OUT:
        # A customer's text that went to someone else: no tech page shows it (issue 7).
        return False
    if conversation_open_to(conversation=message.conversation, user=user):
        return True
    customer_id = message.conversation.customer_id
    if customer_id is None:
        return False
    on_job = db.session.scalar(
        sa.select(JobAssignment.id)
        .join(Job, Job.id == JobAssignment.job_id)
        .where(
            Job.customer_id == customer_id,
            Job.company_id == user.company_id,
            JobAssignment.user_id == user.id,
        )
        .limit(1)
    )
    return on_job is not None

"""Who may see a picture or file of a text (the rule behind /media/<id>).

Office roles see every one of their company's. A technician sees what their pages show
them: the whole thread of a conversation open to them on their messages page
(app/services/inbox.py `conversation_open_to`), and on a job page the customer's texts
routed to them and what the company sent (app/services/tech_day.py). Never a customer's
text that went to someone else in a conversation that is not theirs, and never another
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
    if conversation_open_to(conversation=message.conversation, user=user):
        return True
    routed_here = db.session.scalar(
        sa.select(MessageRecipient.id)
        .where(MessageRecipient.message_id == message.id, MessageRecipient.user_id == user.id)
        .limit(1)
    )
    if routed_here is not None:
        return True
    customer_id = message.conversation.customer_id
    if message.direction != Direction.OUT or customer_id is None:
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

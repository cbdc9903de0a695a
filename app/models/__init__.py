"""All models, importable from one place (Alembic autogenerate sees every table)."""

from app.models.company import Company, SenderIdentity
from app.models.customer import Customer
from app.models.job import Job, JobAssignment, JobStatus
from app.models.messaging import (
    Conversation,
    Direction,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    MessageTemplate,
    OptOut,
    PhoneNumber,
    UnroutedInbound,
)
from app.models.types import utcnow
from app.models.user import Invitation, Role, User

__all__ = [
    "Company",
    "Conversation",
    "Customer",
    "Direction",
    "Invitation",
    "Job",
    "JobAssignment",
    "JobStatus",
    "Message",
    "MessageKind",
    "MessageRecipient",
    "MessageStatus",
    "MessageTemplate",
    "OptOut",
    "PhoneNumber",
    "Role",
    "SenderIdentity",
    "UnroutedInbound",
    "User",
    "utcnow",
]

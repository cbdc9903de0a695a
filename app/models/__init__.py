"""All models, importable from one place (Alembic autogenerate sees every table)."""

import sqlalchemy as sa

from app.extensions import db
from app.models.billing import (
    BillingSettings,
    DepositKind,
    DiscountKind,
    DocumentText,
    Estimate,
    EstimateApproval,
    EstimateOption,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    LineItem,
    OptionStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
    ReminderBasis,
    RevokedLink,
)
from app.models.calls import (
    BusinessHours,
    Call,
    CallOutcome,
    CallSettings,
    Holiday,
    Voicemail,
    VoicemailState,
)
from app.models.company import Company, SenderIdentity
from app.models.customer import Consent, ConsentSource, Customer
from app.models.customer_import import CustomerImport, CustomerImportChange, ImportStatus
from app.models.job import Job, JobAssignment, JobStatus
from app.models.line_type import LineTypeLookup
from app.models.media import MediaFailure, MediaState, MessageMedia
from app.models.messaging import (
    Conversation,
    Direction,
    InboundReceipt,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    MessageTemplate,
    NumberSetup,
    OptOut,
    OptOutSource,
    PhoneNumber,
    RevocationDecision,
    RevocationFlag,
    UnroutedInbound,
)
from app.models.notification import SkippedText
from app.models.payments import CheckoutSession, CheckoutStatus, StripeAccount, StripeEvent
from app.models.push import PushDelivery, PushStatus, PushSubscription, VapidKey
from app.models.rate_limit import RateLimitCounter
from app.models.registration import (
    MessagingRegistration,
    RegistrationKind,
    RegistrationStatus,
)
from app.models.types import utcnow
from app.models.user import Invitation, PasswordReset, Role, User, UserSession

# The search indexes (customers, jobs) need pg_trgm and btree_gin. The migrations create
# them first; this does the same for `create_all` (the tests, bench/seed.py).
for _extension in ("pg_trgm", "btree_gin"):
    sa.event.listen(
        db.metadata,
        "before_create",
        sa.DDL(f"CREATE EXTENSION IF NOT EXISTS {_extension}").execute_if(dialect="postgresql"),
    )

# Indexes on an expression. Alembic cannot compare them: PostgreSQL hands back the
# expression rewritten (casts, parentheses) and SQLite not at all. Autogenerate and the
# drift test leave them out; tests/test_migrations.py compares each one's definition after
# `flask db upgrade` with the one `create_all` makes.
EXPRESSION_INDEXES = frozenset(
    {"ix_customers_search_trgm", "ix_customers_company_email_lower", "ix_customers_tags"}
)


def include_in_autogenerate(obj, name, type_, reflected, compare_to) -> bool:
    """Alembic's include_object hook (see EXPRESSION_INDEXES)."""
    return not (type_ == "index" and name in EXPRESSION_INDEXES)


__all__ = [
    "BillingSettings",
    "BusinessHours",
    "Call",
    "CallOutcome",
    "CallSettings",
    "CheckoutSession",
    "CheckoutStatus",
    "Company",
    "Consent",
    "ConsentSource",
    "Conversation",
    "Customer",
    "CustomerImport",
    "CustomerImportChange",
    "DepositKind",
    "Direction",
    "DiscountKind",
    "DocumentText",
    "Estimate",
    "EstimateApproval",
    "EstimateOption",
    "EstimateStatus",
    "Holiday",
    "ImportStatus",
    "InboundReceipt",
    "Invitation",
    "Invoice",
    "InvoiceStatus",
    "Job",
    "JobAssignment",
    "JobStatus",
    "LineItem",
    "LineTypeLookup",
    "MediaFailure",
    "MediaState",
    "Message",
    "MessageKind",
    "MessageMedia",
    "MessageRecipient",
    "MessageStatus",
    "MessageTemplate",
    "MessagingRegistration",
    "NumberSetup",
    "OptOut",
    "OptOutSource",
    "OptionStatus",
    "PasswordReset",
    "Payment",
    "PaymentMethod",
    "PaymentStatus",
    "PhoneNumber",
    "PushDelivery",
    "PushStatus",
    "PushSubscription",
    "RateLimitCounter",
    "RegistrationKind",
    "RegistrationStatus",
    "ReminderBasis",
    "RevocationDecision",
    "RevocationFlag",
    "RevokedLink",
    "Role",
    "SenderIdentity",
    "SkippedText",
    "StripeAccount",
    "StripeEvent",
    "UnroutedInbound",
    "User",
    "UserSession",
    "VapidKey",
    "Voicemail",
    "VoicemailState",
    "utcnow",
]

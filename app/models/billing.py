"""Estimates, invoices, their line items and payments (rule 3 of the seed: they go out by
text as links to a phone page).

Money is integer cents. Quantities are integer **thousandths** (`quantity_milli`: 1500 is
1.5 hours), so a line amount is exact integer arithmetic; see app/services/billing/totals.py for
the rounding rules. Tax rates are integer **thousandths of a percent** (`tax_rate_mpct`:
8250 is 8.25 %, 8875 is 8.875 %): basis points cannot say 8.875 %, a common US sales tax.
A percent discount is in basis points (1000 is 10 %).

Each document has a `version` that goes up whenever something the customer sees changes;
an approval records the exact version it approved, and the PDF cache is keyed by it.
"""

from __future__ import annotations

import secrets
from datetime import date, datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.company import Company
from app.models.customer import Customer
from app.models.enums import LabelledStrEnum
from app.models.job import Job
from app.models.messaging import Message, MessageKind
from app.models.types import UTCDateTime, utcnow
from app.models.user import User

# 18 random bytes = 144 bits, 24 URL-safe characters: unguessable, yet short in a text.
PUBLIC_TOKEN_BYTES = 18


def new_document_token() -> str:
    return secrets.token_urlsafe(PUBLIC_TOKEN_BYTES)


class EstimateStatus(LabelledStrEnum):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    VIEWED = "viewed", "Viewed"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"
    EXPIRED = "expired", "Expired"


EstimateStatus.ALL = tuple(EstimateStatus)
# The customer may still decide.
EstimateStatus.OPEN = (EstimateStatus.DRAFT, EstimateStatus.SENT, EstimateStatus.VIEWED)
EstimateStatus.LABELS = EstimateStatus.labels()


class InvoiceStatus(LabelledStrEnum):
    DRAFT = "draft", "Draft"
    SENT = "sent", "Sent"
    VIEWED = "viewed", "Viewed"
    PARTIALLY_PAID = "partially_paid", "Partially paid"
    PAID = "paid", "Paid"
    VOID = "void", "Void"


InvoiceStatus.ALL = tuple(InvoiceStatus)
# Money is still owed.
InvoiceStatus.OPEN = (
    InvoiceStatus.DRAFT,
    InvoiceStatus.SENT,
    InvoiceStatus.VIEWED,
    InvoiceStatus.PARTIALLY_PAID,
)
InvoiceStatus.LABELS = InvoiceStatus.labels()


class OptionStatus:
    OPEN = "open"
    APPROVED = "approved"
    DECLINED = "declined"


class DiscountKind:
    NONE = "none"
    AMOUNT = "amount"  # discount_value is cents
    PERCENT = "percent"  # discount_value is basis points (1000 = 10 %)
    ALL = (NONE, AMOUNT, PERCENT)


class PaymentMethod(LabelledStrEnum):
    CASH = "cash", "Cash"
    CHECK = "check", "Check"
    CARD = "card", "Card"
    BANK = "bank_transfer", "Bank transfer"
    ACH = "ach", "Bank account (ACH)"  # a US bank account debited through Stripe (online only)
    OTHER = "other", "Other"


PaymentMethod.ALL = tuple(PaymentMethod)
PaymentMethod.LABELS = PaymentMethod.labels()
# What the office can type in by hand (ACH only ever comes from Stripe).
PaymentMethod.MANUAL = tuple(m for m in PaymentMethod if m is not PaymentMethod.ACH)


class PaymentStatus:
    """Only `succeeded` money counts toward the invoice (`Invoice.paid_cents`)."""

    PROCESSING = "processing"  # an ACH debit on its way (days)
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # the ACH debit bounced; never counted
    REFUNDED = "refunded"  # refunded in full; `refunded_cents` for partial refunds
    LABELS = {
        PROCESSING: "Processing",
        SUCCEEDED: "Received",
        FAILED: "Failed",
        REFUNDED: "Refunded",
    }


class ReminderBasis:
    SENT = "sent"  # days after the invoice was texted
    DUE = "due"  # days after its due date
    LABELS = {SENT: "after the invoice is sent", DUE: "after the due date"}


class DepositKind(LabelledStrEnum):
    NONE = "none", "No deposit"
    PERCENT = "percent", "A percent of the estimate"
    AMOUNT = "amount", "A fixed amount"


DepositKind.ALL = tuple(DepositKind)


class DocumentType:
    ESTIMATE = "estimate"
    INVOICE = "invoice"


class LinkRevocation:
    REVOKED = "revoked"  # the office revoked the link and issued a new one
    SUPERSEDED = "superseded"  # the document was replaced by a revised copy


class BillingSettings(db.Model):
    """Per-company defaults for new estimates and invoices."""

    __tablename__ = "billing_settings"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), unique=True
    )
    # Shown on every invoice page and PDF ("Pay by check to ...", "Zelle to ...").
    payment_instructions: so.Mapped[str | None] = so.mapped_column(sa.Text)
    estimate_terms: so.Mapped[str | None] = so.mapped_column(sa.Text)
    invoice_terms: so.Mapped[str | None] = so.mapped_column(sa.Text)
    default_tax_rate_mpct: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    invoice_due_days: so.Mapped[int] = so.mapped_column(default=14, server_default="14")
    estimate_valid_days: so.Mapped[int] = so.mapped_column(default=30, server_default="30")
    # Online payments: may the customer pay less than the balance (an instalment)?
    allow_partial_payments: so.Mapped[bool] = so.mapped_column(
        default=False, server_default=sa.false()
    )
    # Up to two automatic payment reminders for an unpaid sent invoice, `days` after the
    # basis; None = that reminder is off.
    reminder_basis: so.Mapped[str] = so.mapped_column(
        sa.String(8), default=ReminderBasis.SENT, server_default=ReminderBasis.SENT
    )
    first_reminder_days: so.Mapped[int | None] = so.mapped_column()
    second_reminder_days: so.Mapped[int | None] = so.mapped_column()
    # A deposit the customer pays online once they approved an estimate: none, a percent
    # of the approved total (`deposit_value` in basis points) or a fixed amount (cents).
    deposit_kind: so.Mapped[str] = so.mapped_column(
        sa.String(8), default=DepositKind.NONE, server_default=DepositKind.NONE
    )
    deposit_value: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0, server_default="0")
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )


class _DocumentColumns:
    """Columns an estimate and an invoice share."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # Shown to people ("Estimate #1001"); sequential per company and kind.
    number: so.Mapped[int] = so.mapped_column()
    title: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    status: so.Mapped[str] = so.mapped_column(sa.String(16))
    version: so.Mapped[int] = so.mapped_column(default=1, server_default="1")
    public_token: so.Mapped[str] = so.mapped_column(
        sa.String(64), unique=True, default=new_document_token
    )
    tax_rate_mpct: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    discount_kind: so.Mapped[str] = so.mapped_column(
        sa.String(8), default=DiscountKind.NONE, server_default=DiscountKind.NONE
    )
    discount_value: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    # `notes` and `terms` are shown to the customer; `internal_notes` never are.
    notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    internal_notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    terms: so.Mapped[str | None] = so.mapped_column(sa.Text)
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    updated_at: so.Mapped[datetime] = so.mapped_column(
        UTCDateTime(), default=utcnow, onupdate=utcnow
    )
    sent_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    viewed_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())


class Estimate(_DocumentColumns, db.Model):
    __tablename__ = "estimates"
    __table_args__ = (sa.UniqueConstraint("company_id", "number"),)

    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    customer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("customers.id"), index=True)
    job_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    valid_until: so.Mapped[date | None] = so.mapped_column(sa.Date)
    approved_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    declined_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    decline_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    expired_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    changes_requested_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    approved_option_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("estimate_options.id", use_alter=True, ondelete="SET NULL")
    )
    # What "Convert" made of it (one click, at most once each).
    converted_job_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("jobs.id", ondelete="SET NULL")
    )
    converted_invoice_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("invoices.id", use_alter=True, ondelete="SET NULL")
    )
    # Set when a revised copy replaced this estimate: its link then answers 410.
    superseded_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("estimates.id", ondelete="SET NULL")
    )

    company: so.Mapped[Company] = so.relationship()
    customer: so.Mapped[Customer] = so.relationship()
    job: so.Mapped[Job | None] = so.relationship(foreign_keys=[job_id])
    converted_job: so.Mapped[Job | None] = so.relationship(foreign_keys=[converted_job_id])
    options: so.Mapped[list[EstimateOption]] = so.relationship(
        back_populates="estimate",
        cascade="all, delete-orphan",
        order_by="EstimateOption.position, EstimateOption.id",
        foreign_keys="EstimateOption.estimate_id",
    )
    approved_option: so.Mapped[EstimateOption | None] = so.relationship(
        foreign_keys=[approved_option_id], post_update=True
    )
    approval: so.Mapped[EstimateApproval | None] = so.relationship(
        back_populates="estimate", uselist=False, cascade="all, delete-orphan"
    )

    kind = DocumentType.ESTIMATE
    # The customer's page for it (app/public/documents.py), reached by `public_token`.
    public_endpoint = "public.estimate_page"
    # The kind of the text that sends it, and its status values.
    message_kind = MessageKind.ESTIMATE
    statuses = EstimateStatus

    @property
    def is_editable(self) -> bool:
        """Open (or expired: a new date revives it) and not replaced by a revised copy."""
        return self.superseded_by_id is None and self.status in (
            *EstimateStatus.OPEN,
            EstimateStatus.EXPIRED,
        )

    @property
    def label(self) -> str:
        return f"Estimate #{self.number}"

    @property
    def status_label(self) -> str:
        return EstimateStatus.label_for(self.status)

    def __repr__(self) -> str:
        return f"<Estimate {self.id} #{self.number} {self.status} v{self.version}>"


class EstimateOption(db.Model):
    """One choice the customer can approve ("Repair", "Replace"); an estimate has at least
    one. Each option has its own line items and totals."""

    __tablename__ = "estimate_options"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    estimate_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("estimates.id", ondelete="CASCADE"), index=True
    )
    title: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    position: so.Mapped[int] = so.mapped_column(default=0)
    status: so.Mapped[str] = so.mapped_column(
        sa.String(10), default=OptionStatus.OPEN, server_default=OptionStatus.OPEN
    )

    estimate: so.Mapped[Estimate] = so.relationship(
        back_populates="options", foreign_keys=[estimate_id]
    )
    items: so.Mapped[list[LineItem]] = so.relationship(
        back_populates="option",
        cascade="all, delete-orphan",
        order_by="LineItem.position, LineItem.id",
    )


class Invoice(_DocumentColumns, db.Model):
    __tablename__ = "invoices"
    __table_args__ = (sa.UniqueConstraint("company_id", "number"),)

    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    customer_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("customers.id"), index=True)
    job_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("jobs.id", ondelete="SET NULL"), index=True
    )
    estimate_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("estimates.id", ondelete="SET NULL")
    )
    issued_on: so.Mapped[date | None] = so.mapped_column(sa.Date)
    due_on: so.Mapped[date | None] = so.mapped_column(sa.Date)
    payment_instructions: so.Mapped[str | None] = so.mapped_column(sa.Text)
    paid_cents: so.Mapped[int] = so.mapped_column(default=0, server_default="0")
    paid_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    voided_at: so.Mapped[datetime | None] = so.mapped_column(UTCDateTime())
    void_reason: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # Automatic payment reminders texted so far (at most two; see online_payments).
    reminders_sent: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    company: so.Mapped[Company] = so.relationship()
    customer: so.Mapped[Customer] = so.relationship()
    job: so.Mapped[Job | None] = so.relationship()
    estimate: so.Mapped[Estimate | None] = so.relationship(foreign_keys=[estimate_id])
    items: so.Mapped[list[LineItem]] = so.relationship(
        back_populates="invoice",
        cascade="all, delete-orphan",
        order_by="LineItem.position, LineItem.id",
    )
    payments: so.Mapped[list[Payment]] = so.relationship(
        back_populates="invoice", cascade="all, delete-orphan", order_by="Payment.received_at"
    )

    kind = DocumentType.INVOICE
    public_endpoint = "public.invoice_page"
    message_kind = MessageKind.INVOICE
    statuses = InvoiceStatus

    @property
    def is_editable(self) -> bool:
        """Not yet paid in any part, and not void."""
        return self.status in (
            InvoiceStatus.DRAFT,
            InvoiceStatus.SENT,
            InvoiceStatus.VIEWED,
        ) and not (self.paid_cents or self.payments)

    @property
    def label(self) -> str:
        return f"Invoice #{self.number}"

    @property
    def status_label(self) -> str:
        return InvoiceStatus.label_for(self.status)

    def __repr__(self) -> str:
        return f"<Invoice {self.id} #{self.number} {self.status} v{self.version}>"


class LineItem(db.Model):
    """A priced line on an estimate option or an invoice (exactly one of the two)."""

    __tablename__ = "line_items"
    __table_args__ = (
        sa.CheckConstraint("(option_id IS NULL) <> (invoice_id IS NULL)", name="one_document"),
        sa.CheckConstraint("quantity_milli > 0", name="quantity_positive"),
        sa.CheckConstraint("unit_price_cents >= 0", name="price_not_negative"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    option_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("estimate_options.id", ondelete="CASCADE"), index=True
    )
    invoice_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: so.Mapped[int] = so.mapped_column(default=0)
    description: so.Mapped[str] = so.mapped_column(sa.String(500))
    quantity_milli: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=1000)
    unit_price_cents: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    taxable: so.Mapped[bool] = so.mapped_column(default=True, server_default=sa.true())

    option: so.Mapped[EstimateOption | None] = so.relationship(back_populates="items")
    invoice: so.Mapped[Invoice | None] = so.relationship(back_populates="items")


class Payment(db.Model):
    """Money against an invoice (partial payments sum up): recorded by the office, or paid
    online through Stripe (then with its PaymentIntent, unique per company, which is what
    makes a replayed or raced webhook record it once).

    A **deposit** is paid on an approved estimate before any invoice exists: it carries
    `estimate_id` and no `invoice_id` until the estimate is converted to an invoice, which
    then takes it as a payment (it counts against the invoice's balance from then on)."""

    __tablename__ = "payments"
    __table_args__ = (
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
        sa.CheckConstraint(
            "invoice_id IS NOT NULL OR estimate_id IS NOT NULL", name="has_document"
        ),
        sa.UniqueConstraint("company_id", "stripe_payment_intent_id", name="uq_payments_intent"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    invoice_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    # Set on a deposit: the approved estimate it was paid on.
    estimate_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("estimates.id", ondelete="SET NULL"), index=True
    )
    amount_cents: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    method: so.Mapped[str] = so.mapped_column(sa.String(16))
    received_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    note: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    recorded_by_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    status: so.Mapped[str] = so.mapped_column(
        sa.String(12), default=PaymentStatus.SUCCEEDED, server_default=PaymentStatus.SUCCEEDED
    )
    refunded_cents: so.Mapped[int] = so.mapped_column(sa.BigInteger, default=0, server_default="0")
    stripe_payment_intent_id: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    stripe_checkout_session_id: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    failure_reason: so.Mapped[str | None] = so.mapped_column(sa.String(255))

    invoice: so.Mapped[Invoice | None] = so.relationship(back_populates="payments")
    recorded_by: so.Mapped[User | None] = so.relationship()

    @property
    def is_deposit(self) -> bool:
        return self.estimate_id is not None

    @property
    def deposit_receipt_key(self) -> str:
        """The outbox's dedupe key of the deposit's receipt text: one text per deposit
        (however many times Stripe delivers its event), and how the estimate's progress
        finds it."""
        paid_by = self.stripe_payment_intent_id or self.id
        return f"estimate:{self.estimate_id}:deposit-receipt:{paid_by}"

    @property
    def invoice_receipt_key(self) -> str:
        """The same for the receipt of a payment of an invoice (a deposit paid after the
        estimate became an invoice gets this one instead)."""
        paid_by = self.stripe_payment_intent_id or self.id
        return f"invoice:{self.invoice_id}:receipt:{paid_by}"

    @property
    def method_label(self) -> str:
        return PaymentMethod.label_for(self.method)

    @property
    def status_label(self) -> str:
        return PaymentStatus.LABELS.get(self.status, self.status)


class EstimateApproval(db.Model):
    """Evidence of a customer's approval: who typed which name, when, from where, and the
    exact version, option, total and terms they saw. One per estimate (the unique
    constraint is what makes a double approval impossible, even under a race)."""

    __tablename__ = "estimate_approvals"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    estimate_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("estimates.id", ondelete="CASCADE"), unique=True
    )
    option_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("estimate_options.id", ondelete="SET NULL")
    )
    option_title: so.Mapped[str] = so.mapped_column(sa.String(120), default="")
    signed_name: so.Mapped[str] = so.mapped_column(sa.String(120))
    approved_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    ip_address: so.Mapped[str | None] = so.mapped_column(sa.String(64))
    user_agent: so.Mapped[str | None] = so.mapped_column(sa.String(512))
    document_version: so.Mapped[int] = so.mapped_column()
    total_cents: so.Mapped[int] = so.mapped_column(sa.BigInteger)
    terms_snapshot: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    estimate: so.Mapped[Estimate] = so.relationship(back_populates="approval")


class RevokedLink(db.Model):
    """A public token that no longer opens its document. Kept so that the old link answers
    410 "no longer valid" (not 404), and so a token is never issued twice."""

    __tablename__ = "revoked_links"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    document_type: so.Mapped[str] = so.mapped_column(sa.String(10))
    document_id: so.Mapped[int] = so.mapped_column()
    token: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    reason: so.Mapped[str] = so.mapped_column(sa.String(12), default=LinkRevocation.REVOKED)
    revoked_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)


class DocumentText(db.Model):
    """A text that carried a document's link: the timeline reads the message's status
    (sent -> delivered) through it."""

    __tablename__ = "document_texts"
    __table_args__ = (
        sa.CheckConstraint("(estimate_id IS NULL) <> (invoice_id IS NULL)", name="one_document"),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    estimate_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("estimates.id", ondelete="CASCADE"), index=True
    )
    invoice_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    message_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("messages.id", ondelete="CASCADE"), unique=True
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    message: so.Mapped[Message] = so.relationship()

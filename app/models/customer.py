from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.company import Company
from app.models.types import JSONList, UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.user import User


class Customer(db.Model):
    __tablename__ = "customers"
    __table_args__ = (
        # Inbound texts find the customer by (company, number): one customer per number.
        sa.UniqueConstraint("company_id", "mobile_phone"),
        # The customer picker's empty box: a company's newest customers, read in order.
        sa.Index("ix_customers_company_newest", "company_id", "id"),
        # Searches match any part of a company's customers' names or numbers (ILIKE
        # '%...%'): on PostgreSQL, GIN indexes of the company id (btree_gin) and the
        # column's trigrams (pg_trgm); SQLite makes plain indexes of them.
        sa.Index(
            "ix_customers_name_trgm",
            "company_id",
            "name",
            postgresql_using="gin",
            postgresql_ops={"name": "gin_trgm_ops"},
        ),
        sa.Index(
            "ix_customers_phone_trgm",
            "company_id",
            "mobile_phone",
            postgresql_using="gin",
            postgresql_ops={"mobile_phone": "gin_trgm_ops"},
        ),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    mobile_phone: so.Mapped[str] = so.mapped_column(sa.String(20))  # E.164
    email: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    address: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    notes: so.Mapped[str | None] = so.mapped_column(sa.Text)
    # What HCP, Jobber and QuickBooks keep beside the person's name (their "Company" column).
    company_name: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    # The customer's numbers besides the mobile (home, work), in order: E.164 when the number
    # is valid, else as typed. A JSON list rather than a child table: they are only ever
    # read and written with the customer (its page, the export, an import's merge and undo),
    # an import inserts them in the same row as the customer, and undo restores a list by
    # comparing it whole. Texts only ever go to mobile_phone.
    other_phones: so.Mapped[list[str]] = so.mapped_column(
        JSONList, default=list, server_default=sa.text("'[]'")
    )
    # Short labels ("VIP", "Maintenance plan"), as typed, no two equal ignoring case. JSONB on
    # PostgreSQL with a GIN index, so `tags @> '["VIP"]'` (customers_tagged) reads the index.
    tags: so.Mapped[list[str]] = so.mapped_column(
        JSONList, default=list, server_default=sa.text("'[]'")
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    company: so.Mapped[Company] = so.relationship()

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.name!r}>"


class ConsentSource:
    """How a customer agreed (or not) to get texts. Labels live beside the values."""

    UNKNOWN = "unknown"
    VERBAL = "verbal"  # the office read the script at booking and the customer said yes
    WEB_FORM = "web_form"
    WRITTEN = "written"
    TEXTED_US_FIRST = "texted_us_first"
    IMPORTED = "imported"  # came in a customer import, not confirmed with the customer
    ALL = (UNKNOWN, VERBAL, WEB_FORM, WRITTEN, TEXTED_US_FIRST, IMPORTED)
    LABELS = {
        UNKNOWN: "Unknown",
        VERBAL: "Verbal (script read at booking)",
        WEB_FORM: "Web form",
        WRITTEN: "Written",
        TEXTED_US_FIRST: "Texted us first",
        IMPORTED: "Imported, not confirmed",
    }
    # What the office may pick on a form (the others are recorded by the product itself).
    OFFICE_CHOICES = (VERBAL, WEB_FORM, WRITTEN)


class Consent(db.Model):
    """One consent event of a customer. The newest row is the customer's consent now; the
    older ones stay for the auditor (app/services/consent.py, the CSV export)."""

    __tablename__ = "consents"
    __table_args__ = (sa.Index("ix_consents_customer_newest", "customer_id", "id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    company_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    customer_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("customers.id", ondelete="CASCADE")
    )
    source: so.Mapped[str] = so.mapped_column(sa.String(16))  # a ConsentSource value
    # When the customer agreed (may be earlier than when it was recorded, e.g. imported).
    consented_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())
    recorded_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)
    # Who recorded it; None when the product did (the customer texted first, an import).
    actor_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", ondelete="SET NULL")
    )
    note: so.Mapped[str | None] = so.mapped_column(sa.Text)

    customer: so.Mapped[Customer] = so.relationship()
    actor: so.Mapped[User | None] = so.relationship()

    @property
    def source_label(self) -> str:
        return ConsentSource.LABELS.get(self.source, self.source)


def customer_search_text() -> sa.ColumnElement[str]:
    """Name, email and address as one text, which the customer picker and the customers
    list match each word typed against: one LIKE per customer instead of three (a word
    holds no space, so it never matches across two fields). Its separators are literals,
    not parameters, so every query spells the same expression as the index below."""
    space, empty = sa.literal_column("' '"), sa.literal_column("''")
    return (
        Customer.name
        + space
        + sa.func.coalesce(Customer.email, empty)
        + space
        + sa.func.coalesce(Customer.address, empty)
    )


# The trigrams of that text, lowercased, per company: on PostgreSQL a word typed into the
# picker reads its matches instead of every customer of the company. PostgreSQL only
# (SQLite has no trigram index, and a LIKE '%...%' cannot use a plain one).
sa.Index(
    "ix_customers_search_trgm",
    Customer.company_id,
    sa.func.lower(customer_search_text()).label("search_text"),
    postgresql_using="gin",
    postgresql_ops={"search_text": "gin_trgm_ops"},
).ddl_if(dialect="postgresql")


# The CSV import matches a file's rows to customers by email, ignoring case, a batch of
# emails at a time (app.services.customer_imports); without it, a scan of the company's
# customers per batch.
sa.Index("ix_customers_company_email_lower", Customer.company_id, sa.func.lower(Customer.email))


# Customers with a tag (app.services.customers.customers_tagged): containment on the JSONB
# list reads this index. PostgreSQL only (SQLite has no index over a JSON list's items).
sa.Index(
    "ix_customers_tags",
    Customer.tags,
    postgresql_using="gin",
    postgresql_ops={"tags": "jsonb_path_ops"},
).ddl_if(dialect="postgresql")

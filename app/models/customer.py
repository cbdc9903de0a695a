from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.company import Company
from app.models.types import UTCDateTime, utcnow


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
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    company: so.Mapped[Company] = so.relationship()

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else self.name

    def __repr__(self) -> str:
        return f"<Customer {self.id} {self.name!r}>"


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

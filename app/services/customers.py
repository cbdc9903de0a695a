"""Customers: create and edit (the phone normalised to E.164), list and search."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Company, Conversation, Customer
from app.models.customer import customer_search_text
from app.services.errors import DomainError
from app.services.phones import looks_like_phone, normalize_mobile

PER_PAGE = 25


def _check_phone_free(*, company: Company, phone: str, exclude_id: int | None = None) -> None:
    stmt = sa.select(Customer).filter_by(company_id=company.id, mobile_phone=phone)
    if exclude_id is not None:
        stmt = stmt.where(Customer.id != exclude_id)
    other = db.session.scalar(stmt)
    if other is not None:
        raise DomainError(f"{other.name} already has this mobile number.", field="mobile_phone")


def _flush_checking_phone() -> None:
    # The check above can race a second form saving the same number; the unique
    # constraint decides, and the loser gets the same message instead of a 500.
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise DomainError(
            "Another customer already has this mobile number.", field="mobile_phone"
        ) from None


def create_customer(
    *,
    company: Company,
    name: str,
    mobile_phone: str,
    email: str | None = None,
    address: str | None = None,
    notes: str | None = None,
) -> Customer:
    phone = normalize_mobile(mobile_phone, field="mobile_phone")
    _check_phone_free(company=company, phone=phone)
    customer = Customer(
        company_id=company.id,
        name=name.strip(),
        mobile_phone=phone,
        email=(email or "").strip() or None,
        address=(address or "").strip() or None,
        notes=(notes or "").strip() or None,
    )
    db.session.add(customer)
    _flush_checking_phone()
    return customer


def update_customer(
    *,
    customer: Customer,
    name: str,
    mobile_phone: str,
    email: str | None = None,
    address: str | None = None,
    notes: str | None = None,
) -> Customer:
    phone = normalize_mobile(mobile_phone, field="mobile_phone")
    _check_phone_free(company=customer.company, phone=phone, exclude_id=customer.id)
    customer.name = name.strip()
    customer.mobile_phone = phone
    customer.email = (email or "").strip() or None
    customer.address = (address or "").strip() or None
    customer.notes = (notes or "").strip() or None
    _flush_checking_phone()
    return customer


# Enough words for "jane 12 oak st"; more only makes the query longer.
MAX_SEARCH_WORDS = 5
# A picker shows a handful of customers: the person typing narrows it down, not scrolls.
PICKER_LIMIT = 10


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _case_blind_like() -> bool:
    """Whether LIKE itself ignores case: SQLite's does (for ASCII, as far as its lower()
    goes too), so lower() there only costs time. PostgreSQL compares lower() to lower():
    its ILIKE lowercases the pattern again for every row."""
    return db.session.get_bind().dialect.name == "sqlite"


def _folded(column: sa.ColumnElement[str]) -> sa.ColumnElement[str]:
    return column if _case_blind_like() else sa.func.lower(column)


def _searchable_text() -> sa.ColumnElement[str]:
    # Lowercased on PostgreSQL exactly as ix_customers_search_trgm is, so the index serves.
    return _folded(customer_search_text())


def _matches(text: str) -> sa.ColumnElement[bool] | None:
    """Customers whose name, email or address holds every word typed (a word of 3+ digits
    may also be part of the phone). Typed like a phone number, the digits are looked for
    in the phone (stored as E.164: "(512) 555-01" and "512 555 01" both find
    +1512555 01...), and the text as typed in the address (a house number)."""
    words = text.lower().split()[:MAX_SEARCH_WORDS]
    if not words:
        return None
    searchable = _searchable_text()
    digits = _digits(text)
    if len(digits) >= 3 and looks_like_phone(text):
        return sa.or_(
            Customer.mobile_phone.contains(digits, autoescape=True),
            searchable.contains(" ".join(words), autoescape=True),
        )

    def word_matches(word: str) -> sa.ColumnElement[bool]:
        condition = searchable.contains(word, autoescape=True)
        if len(_digits(word)) >= 3:
            condition = sa.or_(
                condition, Customer.mobile_phone.contains(_digits(word), autoescape=True)
            )
        return condition

    return sa.and_(*(word_matches(word) for word in words))


def customers_page(*, company: Company, q: str = "", page: int = 1) -> Pagination:
    """Customers by name, filtered by name, email, address or the digits of their phone."""
    stmt = sa.select(Customer).where(Customer.company_id == company.id)
    condition = _matches(q)
    if condition is not None:
        stmt = stmt.where(condition)
    stmt = stmt.order_by(sa.func.lower(Customer.name), Customer.id)
    return db.paginate(stmt, page=max(page, 1), per_page=PER_PAGE, error_out=False)


def search_customers(*, company: Company, q: str, limit: int = PICKER_LIMIT) -> list[Customer]:
    """At most `limit` customers matching `q` (as the customers list matches), best first:
    the name typed exactly, then names starting with it, then names with a word starting
    with it, then the other matches; newest first within each. No text: the newest.

    One LIMITed query scoped to the company, so its cost does not depend on how many
    customers the page could have listed."""
    stmt = sa.select(Customer).where(Customer.company_id == company.id)
    text = " ".join(q.split())
    condition = _matches(text)
    if condition is not None:
        name, typed = _folded(Customer.name), text.lower()
        rank = sa.case(
            (sa.func.lower(Customer.name) == typed, 0),
            (name.startswith(typed, autoescape=True), 1),
            (name.contains(" " + typed, autoescape=True), 2),
            else_=3,
        )
        stmt = stmt.where(condition).order_by(rank, Customer.id.desc())
    else:
        stmt = stmt.order_by(Customer.id.desc())
    return list(db.session.scalars(stmt.limit(limit)))


def company_has_customers(company: Company) -> bool:
    return db.session.scalar(sa.select(sa.exists().where(Customer.company_id == company.id)))


def customer_conversation(customer: Customer) -> Conversation | None:
    """The texts between the company's number and this customer's mobile, if any yet."""
    return db.session.scalar(
        sa.select(Conversation).filter_by(
            company_id=customer.company_id, phone=customer.mobile_phone
        )
    )

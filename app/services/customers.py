"""Customers: create and edit, with the phone normalised to E.164."""

from __future__ import annotations

import re

import sqlalchemy as sa
from flask_sqlalchemy.pagination import Pagination
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Company, Conversation, Customer
from app.services.errors import DomainError
from app.services.phones import normalize_phone

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
    phone = normalize_phone(mobile_phone, field="mobile_phone")
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
    phone = normalize_phone(mobile_phone, field="mobile_phone")
    _check_phone_free(company=customer.company, phone=phone, exclude_id=customer.id)
    customer.name = name.strip()
    customer.mobile_phone = phone
    customer.email = (email or "").strip() or None
    customer.address = (address or "").strip() or None
    customer.notes = (notes or "").strip() or None
    _flush_checking_phone()
    return customer


def customers_page(*, company: Company, q: str = "", page: int = 1) -> Pagination:
    """Customers by name, filtered by name, email or the digits of their phone."""
    stmt = sa.select(Customer).where(Customer.company_id == company.id)
    text = q.strip()
    if text:
        conditions = [
            Customer.name.icontains(text, autoescape=True),
            Customer.email.icontains(text, autoescape=True),
        ]
        digits = re.sub(r"\D", "", text)
        if len(digits) >= 3:
            conditions.append(Customer.mobile_phone.contains(digits, autoescape=True))
        stmt = stmt.where(sa.or_(*conditions))
    stmt = stmt.order_by(sa.func.lower(Customer.name), Customer.id)
    return db.paginate(stmt, page=max(page, 1), per_page=PER_PAGE, error_out=False)


def customer_choices(company: Company) -> list[Customer]:
    return list(
        db.session.scalars(
            sa.select(Customer)
            .where(Customer.company_id == company.id)
            .order_by(sa.func.lower(Customer.name), Customer.id)
        )
    )


def customer_conversation(customer: Customer) -> Conversation | None:
    """The texts between the company's number and this customer's mobile, if any yet."""
    return db.session.scalar(
        sa.select(Conversation).filter_by(
            company_id=customer.company_id, phone=customer.mobile_phone
        )
    )

"""Customers: create and edit, with the phone normalised to E.164."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Company, Customer
from app.services.errors import DomainError
from app.services.phones import normalize_phone


def _check_phone_free(*, company: Company, phone: str, exclude_id: int | None = None) -> None:
    stmt = sa.select(Customer).filter_by(company_id=company.id, mobile_phone=phone)
    if exclude_id is not None:
        stmt = stmt.where(Customer.id != exclude_id)
    other = db.session.scalar(stmt)
    if other is not None:
        raise DomainError(f"{other.name} already has this mobile number.", field="mobile_phone")


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
    db.session.flush()
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
    db.session.flush()
    return customer

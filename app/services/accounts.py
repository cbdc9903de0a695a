"""Companies and their users."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Company, Role, User
from app.services.errors import DomainError
from app.services.phones import normalize_phone

MIN_PASSWORD_LENGTH = 8


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.", field="password"
        )


def email_taken(email: str) -> bool:
    return (
        db.session.scalar(
            sa.select(User.id).where(sa.func.lower(User.email) == email.strip().lower())
        )
        is not None
    )


def create_user(
    *,
    company: Company,
    name: str,
    email: str,
    password: str,
    role: str,
    mobile_phone: str | None = None,
) -> User:
    if role not in Role.ALL:
        raise DomainError(f"Unknown role “{role}”.", field="role")
    check_password_strength(password)
    if email_taken(email):
        raise DomainError("An account with this email already exists.", field="email")
    user = User(
        company_id=company.id,
        name=name.strip(),
        email=email.strip().lower(),
        role=role,
        mobile_phone=normalize_phone(mobile_phone, field="mobile_phone") if mobile_phone else None,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def sign_up(
    *,
    company_name: str,
    name: str,
    email: str,
    password: str,
    time_zone: str = "America/Chicago",
    business_phone: str | None = None,
) -> User:
    """Create a company and its owner, the first user (the lowest user id of the company)."""
    company = Company(
        name=company_name.strip(),
        time_zone=time_zone,
        business_phone=(
            normalize_phone(business_phone, field="business_phone") if business_phone else None
        ),
    )
    db.session.add(company)
    db.session.flush()
    return create_user(company=company, name=name, email=email, password=password, role=Role.OWNER)

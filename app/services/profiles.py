"""A person's own profile: name, mobile phone and photo (the photo On My Way may carry)."""

from __future__ import annotations

from app.models import User
from app.services.errors import DomainError
from app.services.phones import normalize_phone
from app.services.photos import photo_path


def update_profile(*, user: User, name: str, mobile_phone: str | None) -> User:
    name = (name or "").strip()
    if not name:
        raise DomainError("Enter your name.", field="name")
    if len(name) > 120:
        raise DomainError("Keep the name under 120 characters.", field="name")
    phone = (mobile_phone or "").strip()
    user.name = name
    user.mobile_phone = normalize_phone(phone, field="mobile_phone") if phone else None
    return user


def can_edit_photo(*, actor: User, user: User) -> bool:
    """Anyone sets their own photo; owners and admins set a teammate's (a tech's)."""
    if actor.id == user.id:
        return True
    return actor.company_id == user.company_id and actor.is_manager


def remove_profile_photo(*, user: User, upload_folder: str) -> None:
    if user.photo_filename:
        photo_path(upload_folder, user.photo_filename).unlink(missing_ok=True)
    user.photo_filename = None

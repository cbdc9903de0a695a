"""The company profile: name, business phone, time zone, contact details and logo.

The logo is re-encoded with Pillow (which drops anything else the upload carried) and
stored under a fresh random file name on every upload: the public URL cannot be guessed
from the company id, and a new logo gets a new URL, so browsers may cache a logo forever.
"""

from __future__ import annotations

import io
import re
import secrets
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import available_timezones

import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import Company, PhoneNumber
from app.services.errors import DomainError
from app.services.images import open_upload
from app.services.phones import normalize_phone

# Offered first, in this order: where the product's customers are.
US_TIME_ZONES = (
    ("America/New_York", "Eastern (New York)"),
    ("America/Chicago", "Central (Chicago)"),
    ("America/Denver", "Mountain (Denver)"),
    ("America/Phoenix", "Mountain, no DST (Phoenix)"),
    ("America/Los_Angeles", "Pacific (Los Angeles)"),
    ("America/Anchorage", "Alaska (Anchorage)"),
    ("Pacific/Honolulu", "Hawaii (Honolulu)"),
    ("America/Puerto_Rico", "Atlantic (Puerto Rico)"),
)

MAX_LOGO_BYTES = 2 * 1024 * 1024
LOGO_BOX = (800, 800)
# What `store_company_logo` writes: a random token and ".png"; the public route checks it.
LOGO_FILENAME = re.compile(r"^[A-Za-z0-9_-]{32,64}\.png$")


# Skips the aliases ("US/Central", "Etc/GMT+6") that would only make the list longer.
_REGIONS = {
    "Africa",
    "America",
    "Antarctica",
    "Asia",
    "Atlantic",
    "Australia",
    "Europe",
    "Indian",
    "Pacific",
}


class InvalidLogo(DomainError):
    pass


@cache
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk on every call.
    return frozenset(available_timezones())


@cache
def time_zone_choices() -> tuple[tuple[str, str], ...]:
    """US zones first (labelled), then every other IANA zone by name."""
    us = {zone for zone, _ in US_TIME_ZONES}
    others = sorted(
        zone for zone in _known_zones() if zone not in us and zone.split("/")[0] in _REGIONS
    )
    return (*US_TIME_ZONES, *((zone, zone.replace("_", " ")) for zone in others))


def check_time_zone(zone: str) -> None:
    if zone not in _known_zones():
        raise DomainError("Choose a time zone from the list.", field="time_zone")


def _clean_website(raw: str | None) -> str | None:
    text = (raw or "").strip()
    if not text:
        return None
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    host = parts.hostname or ""
    if parts.scheme not in {"http", "https"} or "." not in host or " " in text:
        raise DomainError(f"“{raw}” is not a web address (like example.com).", field="website")
    return text


def update_company_profile(
    *,
    company: Company,
    name: str,
    time_zone: str,
    business_phone: str | None = None,
    address: str | None = None,
    email: str | None = None,
    website: str | None = None,
) -> Company:
    if not name.strip():
        raise DomainError("Enter the company name.", field="name")
    check_time_zone(time_zone)
    phone = (business_phone or "").strip()
    phone = normalize_phone(phone, field="business_phone") if phone else None
    if phone is not None and _is_custom_number(company, phone):
        # Calls to the custom number ring the business phone: this one would ring itself.
        raise DomainError(
            "That is your custom number. Calls to it ring the business phone, so enter the "
            "phone your business answers (a mobile or office line).",
            field="business_phone",
        )
    company.business_phone = phone
    company.name = name.strip()
    company.time_zone = time_zone
    company.address = (address or "").strip() or None
    company.email = (email or "").strip().lower() or None
    company.website = _clean_website(website)
    return company


def _is_custom_number(company: Company, e164: str) -> bool:
    return (
        db.session.scalar(
            sa.select(PhoneNumber.id).filter_by(company_id=company.id, e164=e164).limit(1)
        )
        is not None
    )


def logo_folder(upload_folder: str) -> Path:
    return Path(upload_folder) / "logos"


def _encode_logo(data: bytes) -> bytes:
    image = open_upload(
        data,
        max_bytes=MAX_LOGO_BYTES,
        error=InvalidLogo,
        field="logo",
        name="logo",
        noun="an image",
    )
    image = image.convert("RGBA")
    image.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


def store_company_logo(*, company: Company, data: bytes, upload_folder: str) -> str | None:
    """Validate and re-encode `data` as PNG, store it, and point the company at it.

    Returns the previous logo's file name: the caller deletes it with `delete_logo_file`
    once the change is committed (until then the database still points at it)."""
    png = _encode_logo(data)
    folder = logo_folder(upload_folder)
    folder.mkdir(parents=True, exist_ok=True)
    filename = f"{secrets.token_urlsafe(32)}.png"
    (folder / filename).write_bytes(png)
    previous = company.logo_filename
    company.logo_filename = filename
    return previous


def remove_company_logo(*, company: Company) -> str | None:
    """Unset the logo; returns the file name to delete after the commit."""
    previous = company.logo_filename
    company.logo_filename = None
    return previous


def delete_logo_file(upload_folder: str, filename: str | None) -> None:
    if filename and LOGO_FILENAME.match(filename):
        (logo_folder(upload_folder) / filename).unlink(missing_ok=True)

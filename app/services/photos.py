"""Profile photos: checked, re-encoded and resized before they are stored.

Re-encoding with Pillow strips whatever else the upload carried (EXIF location, scripts
in a polyglot file) and gives every photo the same small size for MMS.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps

from app.models import User
from app.services.errors import DomainError
from app.services.images import open_upload

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
SIZE = 480


class InvalidPhoto(DomainError):
    pass


def photo_path(upload_folder: str, filename: str) -> Path:
    return Path(upload_folder) / "photos" / filename


def store_profile_photo(*, user: User, data: bytes, upload_folder: str) -> str:
    """Validate `data` (app/services/images.py checks the dimensions before decoding),
    save a square JPEG, and point `user.photo_filename` at it."""
    image = open_upload(
        data,
        max_bytes=MAX_UPLOAD_BYTES,
        error=InvalidPhoto,
        field="photo",
        name="photo",
        noun="a photo",
    )
    image = ImageOps.fit(image.convert("RGB"), (SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True)
    filename = f"{user.photo_token}.jpg"
    path = photo_path(upload_folder, filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    user.photo_filename = filename
    return filename

"""Profile photos: checked, re-encoded and resized before they are stored.

Re-encoding with Pillow strips whatever else the upload carried (EXIF location, scripts
in a polyglot file) and gives every photo the same small size for MMS.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from app.models import User
from app.services.errors import DomainError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
ACCEPTED_FORMATS = {"JPEG", "PNG", "WEBP"}
SIZE = 480


class InvalidPhoto(DomainError):
    pass


def photo_path(upload_folder: str, filename: str) -> Path:
    return Path(upload_folder) / "photos" / filename


def store_profile_photo(*, user: User, data: bytes, upload_folder: str) -> str:
    """Validate `data`, save a square JPEG, and point `user.photo_filename` at it."""
    if not data:
        raise InvalidPhoto("Choose a photo to upload.", field="photo")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidPhoto("The photo must be 5 MB or smaller.", field="photo")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            image_format = probe.format
            probe.verify()
        if image_format not in ACCEPTED_FORMATS:
            raise InvalidPhoto("Upload a JPEG, PNG or WebP photo.", field="photo")
        with Image.open(io.BytesIO(data)) as image:
            image = ImageOps.exif_transpose(image).convert("RGB")
            image = ImageOps.fit(image, (SIZE, SIZE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            image.save(out, "JPEG", quality=85, optimize=True)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise InvalidPhoto("That file is not a photo we can read.", field="photo") from None
    filename = f"{user.photo_token}.jpg"
    path = photo_path(upload_folder, filename)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(out.getvalue())
    user.photo_filename = filename
    return filename

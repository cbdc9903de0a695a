"""Image intake: the one door every uploaded picture (profile photo, company logo) goes
through before Pillow decodes it.

A small file can declare a huge bitmap: a 136 KB PNG of 12000x12000 pixels decodes to
over 500 MB. `Image.open` reads only the header, so the declared size is checked there,
before any pixel is decoded; the format is checked against what we accept, and `verify()`
reads the rest of the file for corruption without decoding it either. Only then is the
image decoded, for the caller to re-encode (which strips EXIF and anything else it carried).
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError
from pillow_heif import register_heif_opener

from app.services.errors import DomainError

# iPhones send HEIC pictures by MMS: pillow-heif teaches Pillow to read them (header first,
# like every other format, so the pixel limit below applies before decoding).
register_heif_opener()

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
# What customers' phones send by MMS (Twilio's accepted image types, plus HEIC/HEIF).
PICTURE_FORMATS = ACCEPTED_FORMATS | {"GIF", "HEIF", "BMP", "TIFF"}
# About 6300 x 6300: more than any phone camera, far less than a decompression bomb.
MAX_PIXELS = 40_000_000
MAX_SIDE = 20_000

# Pillow's own guard in `Image.open` (a warning above this, an error at twice this), for
# every decode in the process: at our limit rather than its default of ~179 million pixels.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def open_upload(
    data: bytes,
    *,
    max_bytes: int,
    error: type[DomainError],
    field: str,
    name: str,
    noun: str,
    formats: frozenset[str] = ACCEPTED_FORMATS,
) -> Image.Image:
    """The uploaded image, decoded and turned upright (EXIF orientation), once it has
    passed the checks; otherwise `error(message, field=field)`. `name` is what the page
    calls it ("photo", "logo"), `noun` the same with its article ("a photo", "an image")."""
    too_large = "use one under 6000 by 6000 pixels."
    if not data:
        raise error(f"Choose {noun} to upload.", field=field)
    if len(data) > max_bytes:
        raise error(f"The {name} must be {max_bytes // (1024 * 1024)} MB or smaller.", field=field)
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            if probe.format not in formats:
                raise error(f"Upload a JPEG, PNG or WebP {name}.", field=field)
            width, height = probe.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise error(f"That {name} is {width} by {height} pixels: {too_large}", field=field)
            probe.verify()  # reads the rest for corruption, still without decoding
        image = Image.open(io.BytesIO(data))
        image.load()
        # In place: a phone photo's bitmap is 48 MB, and a copy of it is not needed.
        ImageOps.exif_transpose(image, in_place=True)
        return image
    except Image.DecompressionBombError:
        # Pillow's own check in `Image.open` (over twice MAX_IMAGE_PIXELS), before ours.
        raise error(too_large, field=field) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise error(f"That file is not {noun} we can read.", field=field) from None

"""Image intake (app/services/images.py): every upload's dimensions are checked from the
header, before Pillow decodes a pixel: a small PNG declaring 12000x12000 pixels is refused
without the ~500 MB decode (the pixel bomb)."""

from __future__ import annotations

import io
from functools import cache

import pytest
from PIL import Image, ImageFile

from app.extensions import db
from app.models import Role
from app.services.errors import DomainError
from app.services.images import MAX_PIXELS, open_upload


@cache
def pixel_bomb() -> bytes:
    """A 12000x12000 PNG of one colour: about 20 KB on disk, 430 MB once decoded as RGB."""
    out = io.BytesIO()
    Image.new("1", (12000, 12000)).save(out, "PNG", optimize=True)
    return out.getvalue()


@pytest.fixture
def no_decoding(monkeypatch):
    """Fail the test if any image is decoded."""

    def load(self):
        raise AssertionError(f"decoded a {self.size[0]}x{self.size[1]} image")

    monkeypatch.setattr(ImageFile.ImageFile, "load", load)


class Refused(DomainError):
    pass


def test_the_bomb_is_small_and_declares_more_pixels_than_allowed():
    assert len(pixel_bomb()) < 200_000
    assert MAX_PIXELS < 12000 * 12000


def test_an_image_over_the_limit_but_under_pillows_own_is_refused_by_size(no_decoding):
    out = io.BytesIO()
    Image.new("1", (7000, 7000)).save(out, "PNG")
    with pytest.raises(Refused) as refused, pytest.warns(Image.DecompressionBombWarning):
        open_upload(
            out.getvalue(), max_bytes=5 << 20, error=Refused, field="f", name="logo", noun="x"
        )
    assert refused.value.message.startswith("That logo is 7000 by 7000 pixels")


def test_open_upload_refuses_the_bomb_before_decoding(no_decoding):
    with pytest.raises(Refused) as refused:
        open_upload(
            pixel_bomb(), max_bytes=5 << 20, error=Refused, field="f", name="photo", noun="a photo"
        )
    assert "under 6000 by 6000 pixels" in refused.value.message
    assert refused.value.field == "f"


def _upload(client, url: str, data: dict):
    return client.post(url, data=data, content_type="multipart/form-data")


def test_the_profile_photo_refuses_the_bomb_before_decoding(make, client, log_in, no_decoding):
    company = make.company()
    tech = make.user(company, role=Role.TECH)
    db.session.commit()
    log_in(client, tech)
    response = _upload(client, "/me/photo", {"photo": (io.BytesIO(pixel_bomb()), "bomb.png")})
    assert response.status_code == 422
    assert "under 6000 by 6000 pixels" in response.get_data(as_text=True)


def test_the_logo_refuses_the_bomb_before_decoding(make, client, log_in, no_decoding):
    from tests.views.test_company import PROFILE

    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    data = {**PROFILE, "logo": (io.BytesIO(pixel_bomb()), "bomb.png")}
    response = _upload(client, "/settings/company", data)
    assert response.status_code == 400
    assert "under 6000 by 6000 pixels" in response.get_data(as_text=True)


def test_a_photo_taken_sideways_is_turned_upright():
    # Phones store the sensor's pixels and say how to turn them (EXIF Orientation 6: turn
    # 90 degrees clockwise); the upright picture is what is kept.
    picture = Image.new("RGB", (64, 48), (200, 30, 30))
    picture.paste((30, 30, 200), (0, 0, 32, 48))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    picture.save(out, "JPEG", exif=exif)
    upright = open_upload(
        out.getvalue(), max_bytes=10**6, error=DomainError, field="f", name="photo", noun="a photo"
    )
    assert upright.size == (48, 64)
    assert upright.getpixel((24, 4))[2] > 150  # the blue half is now on top
    assert upright.getexif().get(0x0112) in (None, 1)

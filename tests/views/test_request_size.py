"""Request size: 1 MB for webhooks and forms, more only where a view takes a file, and a
413 that says the limit."""

from __future__ import annotations

import io
import os

from PIL import Image

from app.extensions import db
from app.models import InboundReceipt, Role

MB = 1024 * 1024


def test_the_default_limit_is_one_megabyte(app):
    from app.config import load_config

    assert load_config(app.instance_path)["MAX_CONTENT_LENGTH"] == MB


def test_a_signed_sms_webhook_over_1_mb_is_413_and_stores_nothing(client, signed_post, sms_world):
    form = {
        "MessageSid": "SM" + "a" * 32,
        "From": "+15125550101",
        "To": "+15126660100",
        "Body": "x" * (2 * MB),
    }
    response = signed_post(client, "/webhooks/twilio/sms", form)
    assert response.status_code == 413
    assert db.session.query(InboundReceipt).count() == 0


def test_a_form_over_1_mb_gets_a_clear_413_page(client, make, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    response = client.post("/customers/new", data={"name": "x", "notes": "y" * (2 * MB)})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "up to 1 MB" in page


def _noise_png(side: int) -> bytes:
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(out, "PNG")
    return out.getvalue()


def test_a_photo_over_1_mb_is_accepted_where_uploads_need_it(client, make, log_in):
    company = make.company()
    tech = make.user(company, role=Role.TECH)
    db.session.commit()
    log_in(client, tech)
    photo = _noise_png(1000)
    assert 2 * MB < len(photo) < 5 * MB
    response = client.post(
        "/me/photo",
        data={"photo": (io.BytesIO(photo), "me.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    too_big = client.post(
        "/me/photo",
        data={"photo": (io.BytesIO(b"\0" * (6 * MB)), "me.png")},
        content_type="multipart/form-data",
    )
    assert too_big.status_code == 413
    assert "up to 5 MB" in too_big.get_data(as_text=True)

"""Outbound photos: the office's and the tech's reply boxes take up to five photos, which
are checked, shrunk under the size Twilio recommends for MMS, stored, and sent as MMS with
signed, expiring links that the fake Twilio fetches like Twilio does."""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from flask import current_app
from PIL import Image

from app.extensions import db
from app.models import JobStatus, MediaState, Message, MessageMedia, Role
from app.services import media_store
from app.services.message_media import MMS_MAX_BYTES
from tests.fixtures.media import customer_conversation_id, photo_files
from tests.fixtures.notifications import image_bytes
from tests.support import HX

CUSTOMER = "+15125550101"


def camera_photo(size=(2400, 1800)) -> bytes:
    """Noise compresses badly: a few MB, like a real phone photo."""
    image = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def _sent() -> Message:
    db.session.expire_all()
    return db.session.scalar(
        sa.select(Message).filter_by(direction="out").order_by(Message.id.desc())
    )


def test_the_office_sends_photos_as_mms_through_signed_links(
    app, client, log_in, sms_world, fake, dispatcher
):
    big = camera_photo()
    assert len(big) > 2 * MMS_MAX_BYTES
    log_in(client, sms_world.company.owner)
    conversation_id = customer_conversation_id(sms_world)
    response = client.post(
        f"/inbox/{conversation_id}/reply",
        data={
            "body": "Here's the part",
            "key": "k1",
            "photos": photo_files(big, image_bytes("PNG")),
        },
        headers=HX,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    message = _sent()
    assert message.media_urls == ["media:0", "media:1"]
    rows = message.media
    assert [r.state for r in rows] == [MediaState.STORED] * 2
    assert all(r.size_bytes <= MMS_MAX_BYTES for r in rows)
    assert Image.open(io.BytesIO(media_store.read(rows[0].storage_key))).format == "JPEG"
    # The thread shows what was sent.
    assert f'src="/media/{rows[0].id}/thumb"' in response.get_data(as_text=True)

    dispatcher().run_once()
    [request] = fake.message_requests()
    urls = request.form_dict()["MediaUrl"]
    assert len(urls) == 2
    base = app.config["PUBLIC_BASE_URL"]
    assert all(url.startswith(base + "/m/") for url in urls)
    # The fake fetched them as Twilio would, and holds them as the message's media.
    [remote] = fake.outbound()
    held = fake.media_of(remote.sid)
    assert [m.content_type for m in held] == ["image/jpeg", "image/jpeg"]
    assert held[0].data == media_store.read(rows[0].storage_key)
    # The link is signed: anything else is 404, and it works without a login.
    client.post("/logout")
    path = urlsplit(urls[0]).path
    assert client.get(path).status_code == 200
    assert client.get(path[:-3] + "abc").status_code == 404


def test_a_tech_sends_a_job_photo_that_shows_on_the_office_job_page(
    client, log_in, make, sms_world, fake
):
    tech = make.user(sms_world.company, Role.TECH)
    job = make.job(sms_world.company, sms_world.customer, techs=[tech])
    job.status = JobStatus.STARTED
    db.session.commit()
    log_in(client, tech)
    response = client.post(
        f"/tech/jobs/{job.id}/reply",
        data={"body": "", "key": "t" * 16, "photos": photo_files(image_bytes("JPEG", (900, 700)))},
        headers=HX,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:800]
    message = _sent()
    assert message.job_id == job.id and message.body.startswith("") and message.media
    [item] = message.media
    assert f'src="/media/{item.id}/thumb"' in response.get_data(as_text=True)
    client.post("/logout")
    log_in(client, sms_world.company.owner)
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert f'src="/media/{item.id}/thumb"' in page
    assert client.get(f"/media/{item.id}").status_code == 200


@pytest.mark.parametrize(
    ("photos", "error"),
    [
        ([image_bytes("PNG", (8, 8))] * 6, "Attach at most 5 photos."),
        ([b'<svg xmlns="http://www.w3.org/2000/svg"></svg>'], "not a photo we can read"),
        ([b"not a photo at all"], "not a photo we can read"),
    ],
)
def test_bad_photos_are_a_field_error_and_queue_nothing(client, log_in, sms_world, photos, error):
    log_in(client, sms_world.company.owner)
    conversation_id = customer_conversation_id(sms_world)
    response = client.post(
        f"/inbox/{conversation_id}/reply",
        data={"body": "Look", "key": "k2", "photos": photo_files(*photos)},
        headers=HX,
        content_type="multipart/form-data",
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert error in html
    assert "Look" in html  # the typed text is kept
    assert db.session.scalar(sa.select(sa.func.count(Message.id)).filter_by(direction="out")) == 0
    assert db.session.scalar(sa.select(sa.func.count(MessageMedia.id))) == 0


def test_the_reply_boxes_offer_the_camera(client, log_in, make, sms_world):
    tech = make.user(sms_world.company, Role.TECH)
    job = make.job(sms_world.company, sms_world.customer, techs=[tech])
    conversation_id = customer_conversation_id(sms_world)
    log_in(client, tech)
    page = client.get(f"/tech/jobs/{job.id}").get_data(as_text=True)
    assert 'type="file" name="photos" accept="image/*" capture="environment" multiple' in page
    assert 'enctype="multipart/form-data"' in page
    client.post("/logout")
    log_in(client, sms_world.company.owner)
    page = client.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert 'type="file" name="photos" accept="image/*" capture="environment" multiple' in page


def test_a_reply_that_may_not_go_stores_no_photo(client, log_in, sms_world):
    from app.services.opt_outs import opt_out

    opt_out(company_id=sms_world.company.id, phone=CUSTOMER, keyword="STOP")
    db.session.commit()
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "media"

    def files() -> int:
        return sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0

    before = files()
    log_in(client, sms_world.company.owner)
    response = client.post(
        f"/inbox/{customer_conversation_id(sms_world)}/reply",
        data={"body": "Look", "key": "k3", "photos": photo_files(image_bytes("PNG"))},
        headers=HX,
        content_type="multipart/form-data",
    )
    assert response.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count(MessageMedia.id))) == 0
    assert files() == before

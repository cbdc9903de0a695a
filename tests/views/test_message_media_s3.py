"""MMS pictures with MEDIA_STORE=s3: the worker keeps a customer's picture in the bucket,
and the app's own routes stream it to who may see it (never a bucket link); a store that
refuses us leaves the picture at Twilio to be fetched again."""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa
from flask import current_app
from PIL import Image

from app.extensions import db
from app.models import Direction, MediaState, Message, MessageMedia, utcnow
from app.services import media_backends
from app.services.message_media import fetch_due_media, media_token
from tests.fixtures.media import customer_conversation_id, photo_files
from tests.fixtures.notifications import image_bytes
from tests.fixtures.s3 import use_backend
from tests.fixtures.sms import route_received
from tests.support import HX

CUSTOMER = "+15125550101"
NUMBER = "+15126660100"


def _customer_sends_a_photo(fake) -> None:
    fake.send_inbound_sms(
        from_=CUSTOMER,
        to=NUMBER,
        body="The leak",
        attachments=[(image_bytes("JPEG", (800, 600)), "image/jpeg")],
    )
    route_received()


def _item() -> MessageMedia:
    db.session.expire_all()
    return db.session.scalar(sa.select(MessageMedia))


def test_a_fetched_picture_lands_in_s3_and_is_served_to_the_right_people(
    client, log_in, make, sms_world, fake, s3_store
):
    _customer_sends_a_photo(fake)
    fetch_due_media(now=utcnow())
    item = _item()
    assert item.state == MediaState.STORED, item.error
    assert s3_store.object_names() == sorted(
        [f"prod/{item.storage_key}", f"prod/{item.thumbnail_key}"]
    )
    upload_folder = current_app.config["UPLOAD_FOLDER"]
    assert not Path(upload_folder, item.storage_key).exists()
    assert fake.live_media() == []  # kept here, so Twilio's copy is deleted

    log_in(client, sms_world.company.owner)
    full = client.get(f"/media/{item.id}")
    assert full.status_code == 200 and full.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(full.data)).size == (800, 600)
    assert full.headers["Content-Length"] == str(len(full.data))
    assert full.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in full.headers["Cache-Control"]
    assert "public" not in full.headers["Cache-Control"]
    assert full.headers["Content-Disposition"].startswith("inline")
    assert full.headers["ETag"]
    # The browser's copy is still good: 304 without the bytes.
    again = client.get(f"/media/{item.id}", headers={"If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    # A range (audio and video players ask for them) is cut from the stream.
    part = client.get(f"/media/{item.id}", headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == full.data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(full.data)}"
    thumb = client.get(f"/media/{item.id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.data)).size) == 320
    # No page links to the bucket: only to the app's routes.
    page = client.get(f"/inbox/{item.message.conversation_id}").get_data(as_text=True)
    assert f'src="/media/{item.id}/thumb"' in page
    assert s3_store.server.endpoint_url not in page and s3_store.bucket not in page

    client.post("/logout")
    other = make.company("Other Plumbing")
    db.session.commit()
    log_in(client, other.owner)
    assert client.get(f"/media/{item.id}").status_code == 404
    assert client.get(f"/media/{item.id}/thumb").status_code == 404


def test_a_photo_we_send_is_kept_in_s3_and_fetched_by_its_signed_link(
    client, sms_world, fake, s3_store
):
    _customer_sends_a_photo(fake)
    fetch_due_media(now=utcnow())
    item = _item()
    # Only pictures that went out with a text are served by signed link; flip this one's
    # text to outbound to use the same stored object.
    item.message.direction = Direction.OUT
    db.session.commit()
    answer = client.get(f"/m/{media_token(item)}")
    assert answer.status_code == 200 and answer.mimetype == "image/jpeg"
    assert (
        answer.data
        == s3_store.server.client()
        .get_object(Bucket=s3_store.bucket, Key=f"prod/{item.storage_key}")["Body"]
        .read()
    )


def test_a_store_that_refuses_us_is_retried_and_nothing_is_lost(app, sms_world, fake, s3_store):
    _customer_sends_a_photo(fake)
    use_backend(
        app,
        media_backends.S3Backend.from_config(
            {**current_app.config, "S3_SECRET_ACCESS_KEY": "rotated-elsewhere"}
        ),
    )
    fetch_due_media(now=utcnow())
    item = _item()
    assert item.state == MediaState.PENDING and item.attempts == 1
    assert "SignatureDoesNotMatch" in item.error and "S3_SECRET_ACCESS_KEY" in item.error
    assert len(fake.live_media()) == 1  # Twilio's copy stays until ours is kept
    assert s3_store.object_names() == []

    app.extensions.pop(media_backends.EXTENSION)  # the right key again
    fetch_due_media(now=item.next_attempt_at)
    item = _item()
    assert item.state == MediaState.STORED, item.error
    assert len(s3_store.object_names()) == 2
    assert fake.live_media() == []


def test_a_store_that_is_down_while_serving_is_503(app, client, log_in, sms_world, fake, s3_store):
    _customer_sends_a_photo(fake)
    fetch_due_media(now=utcnow())
    item = _item()
    use_backend(
        app,
        media_backends.S3Backend.from_config(
            {**current_app.config, "S3_ACCESS_KEY_ID": "AKIANOBODY"}
        ),
    )
    log_in(client, sms_world.company.owner)
    assert client.get(f"/media/{item.id}").status_code == 503


def test_the_office_sends_a_photo_kept_in_s3(
    app, client, log_in, sms_world, fake, dispatcher, s3_store
):
    log_in(client, sms_world.company.owner)
    conversation_id = customer_conversation_id(sms_world)
    response = client.post(
        f"/inbox/{conversation_id}/reply",
        data={"body": "Here's the part", "key": "s3", "photos": photo_files(image_bytes("PNG"))},
        headers=HX,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    dispatcher().run_once()
    [row] = db.session.scalars(sa.select(MessageMedia)).all()
    assert s3_store.object_names() == sorted(
        [f"prod/{row.storage_key}", f"prod/{row.thumbnail_key}"]
    )
    # The fake Twilio fetched the photo by its signed link, streamed from the bucket.
    [remote] = fake.outbound()
    [held] = fake.media_of(remote.sid)
    assert (
        held.data
        == s3_store.server.client()
        .get_object(Bucket=s3_store.bucket, Key=f"prod/{row.storage_key}")["Body"]
        .read()
    )


def test_a_reply_whose_photos_cannot_be_stored_is_refused_with_a_message(
    app, client, log_in, sms_world, fake, s3_store
):
    use_backend(
        app,
        media_backends.S3Backend.from_config(
            {**current_app.config, "S3_SECRET_ACCESS_KEY": "rotated-elsewhere"}
        ),
    )
    log_in(client, sms_world.company.owner)
    conversation_id = customer_conversation_id(sms_world)
    response = client.post(
        f"/inbox/{conversation_id}/reply",
        data={"body": "Here's the part", "key": "s3", "photos": photo_files(image_bytes("PNG"))},
        headers=HX,
        content_type="multipart/form-data",
    )
    page = response.get_data(as_text=True)
    assert "Photos cannot be stored just now" in page
    assert "S3_SECRET" not in page and s3_store.bucket not in page  # the operator's detail
    assert db.session.scalar(sa.select(sa.func.count(MessageMedia.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0
    assert s3_store.object_names() == []

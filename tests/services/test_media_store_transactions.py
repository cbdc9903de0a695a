"""A file the media store writes belongs to the open database transaction: kept when it
commits, deleted when it does not (rollback, or a session closed without a commit), so a
rollback leaves no file that no row names. With the local store and with S3 (moto)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask import current_app

from app.extensions import db
from app.models import MediaState, Message, MessageMedia, utcnow
from app.services import media_backends, media_store, message_media
from app.services.business_hours import (
    call_settings,
    remove_greeting_audio,
    set_greeting_audio,
)
from app.services.message_media import fetch_due_media
from tests.fixtures.media import customer_conversation_id, photo_files
from tests.fixtures.notifications import image_bytes
from tests.fixtures.s3 import use_backend
from tests.fixtures.sms import route_received
from tests.support import HX


@pytest.fixture(params=["local", "s3"])
def stored(request, app, tmp_path, monkeypatch):
    """What the store holds, as a sorted list of keys, for the backend of this run."""
    if request.param == "s3":
        store = request.getfixturevalue("s3_store")
        prefix = f"{store.prefix}/"
        return lambda: sorted(name.removeprefix(prefix) for name in store.object_names())
    # A folder of this test's own: the suite's upload folder holds other tests' files.
    monkeypatch.setitem(app.config, "UPLOAD_FOLDER", str(tmp_path))
    app.extensions.pop(media_backends.EXTENSION, None)
    request.addfinalizer(lambda: app.extensions.pop(media_backends.EXTENSION, None))
    root = tmp_path

    def local() -> list[str]:
        return sorted(
            str(path.relative_to(root)) for path in (root / "media").rglob("*") if path.is_file()
        )

    return local


def test_a_file_written_before_a_rollback_is_deleted(app, stored):
    key = media_store.save(b"x", company_id=3, extension="jpg")
    assert stored() == [key]
    db.session.rollback()
    assert stored() == []


def test_a_committed_file_stays_and_a_later_rollback_leaves_it(app, stored):
    key = media_store.save(b"x", company_id=3, extension="jpg")
    db.session.commit()
    db.session.execute(sa.select(1))
    db.session.rollback()
    assert stored() == [key]


def test_a_session_closed_without_a_commit_deletes_its_files(app, stored):
    db.session.execute(sa.select(1))
    media_store.save(b"x", company_id=3, extension="jpg")
    db.session.close()  # as at the end of a request that failed
    assert stored() == []


def test_a_savepoint_does_not_end_the_transaction(app, stored):
    with db.session.begin_nested():
        key = media_store.save(b"x", company_id=3, extension="jpg")
    assert stored() == [key]  # released; the outer transaction decides
    db.session.commit()
    assert stored() == [key]


def test_a_named_file_is_left_to_its_retry(app, stored):
    # A recording's key is its RecordingSid: the file may be a committed row's already.
    key = media_store.save(b"x", company_id=3, extension="mp3", name="RE123")
    db.session.rollback()
    assert stored() == [key]


def test_a_store_that_cannot_delete_does_not_break_the_rollback(app, s3_store, caplog):
    key = media_store.save(b"x", company_id=3, extension="jpg")
    use_backend(
        app,
        media_backends.S3Backend.from_config(
            {**current_app.config, "S3_SECRET_ACCESS_KEY": "rotated-elsewhere"}
        ),
    )
    db.session.rollback()
    assert key in caplog.text and "was left" in caplog.text
    assert s3_store.object_names() == [f"prod/{key}"]


def test_a_reply_refused_for_its_second_photo_leaves_no_file_of_its_first(
    client, log_in, sms_world, stored
):
    """The photos are stored one by one; the second is not a picture, so the reply is
    refused and rolled back after the first was written."""
    log_in(client, sms_world.company.owner)
    conversation_id = customer_conversation_id(sms_world)
    response = client.post(
        f"/inbox/{conversation_id}/reply",
        data={
            "body": "Here's the part",
            "key": "orphan",
            "photos": photo_files(image_bytes("JPEG", (640, 480)), b"<svg></svg>"),
        },
        headers=HX,
        content_type="multipart/form-data",
    )
    assert response.status_code in (200, 422)
    assert "photo" in response.get_data(as_text=True).lower()
    assert db.session.scalar(sa.select(sa.func.count(MessageMedia.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0
    assert stored() == []


def test_a_fetched_picture_whose_transaction_fails_leaves_no_file(
    app, sms_world, fake, stored, monkeypatch
):
    """The worker stores the picture and its thumbnail, then the database fails before the
    commit: the worker's rollback takes the two files with it; the item stays due."""
    fake.send_inbound_sms(
        from_="+15125550101",
        to="+15126660100",
        body="The leak",
        attachments=[(image_bytes("JPEG", (800, 600)), "image/jpeg")],
    )
    route_received()

    def database_gone(message_id):
        raise sa.exc.OperationalError("UPDATE messages", {}, Exception("server closed"))

    with monkeypatch.context() as patched:
        patched.setattr(message_media, "_touch_message", database_gone)
        with pytest.raises(sa.exc.OperationalError):
            fetch_due_media(now=utcnow())
        db.session.rollback()  # as the worker's loop does after a task fails
    assert stored() == []
    item = db.session.scalar(sa.select(MessageMedia))
    assert item.state == MediaState.PENDING and item.storage_key is None

    fetch_due_media(now=utcnow() + message_media.CLAIM_LEASE)
    db.session.expire_all()
    item = db.session.scalar(sa.select(MessageMedia))
    assert item.state == MediaState.STORED
    assert stored() == sorted([item.storage_key, item.thumbnail_key])


WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 32


def test_a_replaced_greeting_keeps_its_old_file_until_the_change_commits(app, sms_world, stored):
    owner = sms_world.company.owner
    first = set_greeting_audio(company=sms_world.company, actor=owner, data=WAV)
    first_key = first.greeting_audio_key
    db.session.commit()

    set_greeting_audio(company=sms_world.company, actor=owner, data=WAV + b"2")
    db.session.rollback()  # the replacement failed: the row names the first file still
    db.session.expire_all()
    assert call_settings(sms_world.company).greeting_audio_key == first_key
    assert stored() == [first_key]

    second = set_greeting_audio(company=sms_world.company, actor=owner, data=WAV + b"3")
    second_key = second.greeting_audio_key
    assert stored() == sorted([first_key, second_key])  # until the commit
    db.session.commit()
    assert stored() == [second_key]

    remove_greeting_audio(company=sms_world.company, actor=owner)
    db.session.rollback()
    assert stored() == [second_key]
    remove_greeting_audio(company=sms_world.company, actor=owner)
    db.session.commit()
    assert stored() == []

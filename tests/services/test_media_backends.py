"""The media store on an S3-compatible bucket (MEDIA_STORE=s3): the same keys and functions
as the local folder, through the real boto3 against an S3 server over HTTP."""

from __future__ import annotations

import socket

import pytest
from flask import current_app

from app.services import media_backends, media_store
from tests.fixtures.s3 import use_backend


def test_save_read_exists_delete_round_trip_on_s3(s3_store):
    key = media_store.save(b"\xff\xd8picture", company_id=7, extension="JPG")
    assert key.startswith("media/7/") and key.endswith(".jpg")
    # Under S3_PREFIX, by the same key; nothing written to the upload folder.
    assert s3_store.object_names() == [f"prod/{key}"]
    assert not media_store.path_of(key).exists()
    head = s3_store.server.client().head_object(Bucket=s3_store.bucket, Key=f"prod/{key}")
    assert head["ContentType"] == "image/jpeg"
    assert media_store.read(key) == b"\xff\xd8picture"
    assert media_store.exists(key)
    media_store.delete(key)
    assert not media_store.exists(key)
    assert s3_store.object_names() == []
    media_store.delete(key)  # already gone: nothing
    with pytest.raises(FileNotFoundError):
        media_store.read(key)


def test_open_for_serving_streams_the_object_with_its_size_and_etag(s3_store):
    data = bytes(range(256)) * 1000
    key = media_store.save(data, company_id=1, extension="pdf")
    stored = media_store.open_for_serving(key)
    assert isinstance(stored, media_backends.StoredObject)
    assert stored.size == len(data) and stored.etag and stored.last_modified
    chunks = []
    while chunk := stored.stream.read(64 * 1024):
        chunks.append(chunk)
    stored.stream.close()
    assert b"".join(chunks) == data and len(chunks) > 1


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "media/../../etc/passwd",
        "media/1/../../secret",
        "media/1/./x.jpg",
        "media//x.jpg",
        "media\\..\\x",
        "photos/x.jpg",
    ],
)
def test_a_key_outside_the_media_root_is_refused_on_s3(s3_store, key):
    # Planted where a `..` key would land if it were sent as it is.
    s3_store.server.client().put_object(Bucket=s3_store.bucket, Key="secret", Body=b"x")
    with pytest.raises(media_store.BadMediaKey):
        media_store.read(key)
    with pytest.raises(media_store.BadMediaKey):
        media_store.delete(key)
    with pytest.raises(media_store.BadMediaKey):
        media_store.open_for_serving(key)
    assert not media_store.exists(key)
    assert s3_store.object_names() == ["secret"]


def test_wrong_credentials_are_a_clear_error(app, s3_store):
    wrong = media_backends.S3Backend.from_config(
        {**current_app.config, "S3_SECRET_ACCESS_KEY": "not-the-secret"}
    )
    use_backend(app, wrong)
    with pytest.raises(media_store.MediaStoreUnavailable) as caught:
        media_store.save(b"x", company_id=1, extension="jpg")
    message = caught.value.message
    assert "SignatureDoesNotMatch" in message and s3_store.bucket in message
    assert "S3_SECRET_ACCESS_KEY" in message
    assert caught.value.status_code == 503
    unknown = media_backends.S3Backend.from_config(
        {**current_app.config, "S3_ACCESS_KEY_ID": "AKIANOBODY"}
    )
    use_backend(app, unknown)
    with pytest.raises(media_store.MediaStoreUnavailable, match="InvalidAccessKeyId"):
        media_store.read("media/1/2026/12/" + "a" * 32 + ".jpg")
    # A HEAD answer has no body: the status says enough.
    with pytest.raises(media_store.MediaStoreUnavailable, match="403: the key was refused"):
        media_store.exists("media/1/2026/12/" + "a" * 32 + ".jpg")
    assert s3_store.object_names() == []


def test_a_missing_bucket_is_a_clear_error(app, s3_store):
    app.config["S3_BUCKET"] = "no-such-bucket-here"
    app.extensions.pop(media_backends.EXTENSION, None)
    with pytest.raises(media_store.MediaStoreUnavailable, match="NoSuchBucket"):
        media_store.save(b"x", company_id=1, extension="jpg")


def test_an_unreachable_endpoint_is_a_clear_error(app, s3_store):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app.config["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{port}"
    app.extensions.pop(media_backends.EXTENSION, None)
    with pytest.raises(media_store.MediaStoreUnavailable, match="could not be reached"):
        media_store.save(b"x", company_id=1, extension="jpg")


def test_the_backend_is_made_once_per_app(app, s3_store):
    first = media_backends.current_backend()
    assert isinstance(first, media_backends.S3Backend)
    assert media_backends.current_backend() is first


def test_the_local_folder_stays_the_default(app):
    backend = media_backends.current_backend()
    assert isinstance(backend, media_backends.LocalBackend)
    key = media_store.save(b"abc", company_id=3, extension="png")
    assert media_store.path_of(key).read_bytes() == b"abc"
    assert media_store.open_for_serving(key) == media_store.path_of(key)
    media_store.delete(key)
    with pytest.raises(FileNotFoundError):
        media_store.open_for_serving(key)


def test_flask_media_check_says_whether_the_store_works(app, runner, s3_store):
    result = runner.invoke(args=["media", "check"])
    assert result.exit_code == 0, result.output
    assert f"MEDIA_STORE=s3: bucket '{s3_store.bucket}'" in result.output
    assert "The media store works." in result.output
    assert s3_store.object_names() == []  # nothing left behind
    use_backend(
        app,
        media_backends.S3Backend.from_config(
            {**current_app.config, "S3_SECRET_ACCESS_KEY": "not-the-secret"}
        ),
    )
    result = runner.invoke(args=["media", "check"])
    assert result.exit_code == 1
    assert "SignatureDoesNotMatch" in result.output and "works" not in result.output


def test_flask_media_check_on_the_local_folder(app, runner):
    result = runner.invoke(args=["media", "check"])
    assert result.exit_code == 0, result.output
    assert "MEDIA_STORE=local" in result.output and "The media store works." in result.output

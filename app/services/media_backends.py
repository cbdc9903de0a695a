"""Where the media store (app/services/media_store.py) keeps its bytes, chosen by
MEDIA_STORE: `local` (default: files under UPLOAD_FOLDER) or `s3` (an S3-compatible bucket:
AWS S3, or MinIO, Cloudflare R2, Backblaze B2, Wasabi... through S3_ENDPOINT_URL).

media_store makes and checks the keys (`media/<company>/<yyyy>/<mm>/<token>.<ext>`); a
backend only puts, gets, heads and deletes bytes under a key it is given. One backend is
made per app, the first time it is needed, and kept in `app.extensions`.

The bucket is private: nothing here makes a public or presigned link. Pictures are served
by the app's own routes (app/media/routes.py), which check the viewer's company and role,
then stream the object through (`open`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from flask import current_app

from app.atomic_files import write_atomically
from app.services.errors import DomainError

EXTENSION = "prosms.media_backend"


class MediaStoreUnavailable(DomainError):
    """The store could not be reached or refused us (credentials, bucket, network). Nothing
    was written: the caller keeps its bytes (the worker retries a fetch later)."""

    status_code = 503


@dataclass(frozen=True)
class StoredObject:
    """An object opened for serving: a stream to read from, and what the HTTP headers need."""

    stream: IO[bytes]
    size: int | None
    etag: str | None
    last_modified: datetime | None


class LocalBackend:
    """Files under `folder` (UPLOAD_FOLDER); keys are relative paths inside it."""

    name = "local"

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def local_path(self, key: str) -> Path:
        return self.folder / key

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        write_atomically(self.local_path(key), data)

    def get(self, key: str) -> bytes:
        return self.local_path(key).read_bytes()

    def exists(self, key: str) -> bool:
        return self.local_path(key).is_file()

    def delete(self, key: str) -> None:
        self.local_path(key).unlink(missing_ok=True)


_MISSING = {"NoSuchKey", "404", "NotFound"}


class S3Backend:
    """Objects in an S3-compatible bucket, named `<S3_PREFIX>/<key>`, through boto3."""

    name = "s3"

    def __init__(self, *, bucket: str, client: Any, prefix: str = "") -> None:
        self.bucket = bucket
        self.client = client
        self.prefix = prefix.strip("/")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> S3Backend:
        import boto3
        from botocore.config import Config

        client = boto3.client(
            "s3",
            endpoint_url=config.get("S3_ENDPOINT_URL") or None,
            region_name=config.get("S3_REGION") or None,
            aws_access_key_id=config.get("S3_ACCESS_KEY_ID") or None,
            aws_secret_access_key=config.get("S3_SECRET_ACCESS_KEY") or None,
            # A request that hangs must not hold a web worker or the media worker for long;
            # botocore retries a throttled or dropped request itself (3 tries).
            config=Config(
                connect_timeout=5,
                read_timeout=30,
                retries={"max_attempts": 3, "mode": "standard"},
                # Path-style addressing works on MinIO and every S3 clone; AWS accepts it too.
                s3={"addressing_style": "path"},
            ),
        )
        return cls(
            bucket=str(config["S3_BUCKET"]),
            client=client,
            prefix=str(config.get("S3_PREFIX") or ""),
        )

    def object_name(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def _unavailable(self, error: Exception) -> MediaStoreUnavailable:
        from botocore.exceptions import ClientError

        if isinstance(error, ClientError):
            code = str(error.response.get("Error", {}).get("Code", "?"))
            detail = error.response.get("Error", {}).get("Message") or ""
            if code == "403" and detail in ("", "Forbidden"):
                # A HEAD answer has no body to name the reason.
                detail = "the key was refused or may not use this bucket"
            reason = f"{code}: {detail}" if detail else code
        else:
            reason = str(error)
        return MediaStoreUnavailable(
            f"The media store (S3 bucket {self.bucket!r}) refused or could not be reached "
            f"({reason}). Check S3_ENDPOINT_URL, S3_BUCKET, S3_ACCESS_KEY_ID and "
            "S3_SECRET_ACCESS_KEY."
        )

    def _call(self, method: str, key: str, **kwargs: Any) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, method)(
                Bucket=self.bucket, Key=self.object_name(key), **kwargs
            )
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise FileNotFoundError(key) from error
            raise self._unavailable(error) from error
        except BotoCoreError as error:
            raise self._unavailable(error) from error

    def put(self, key: str, data: bytes, *, content_type: str) -> None:
        # One PUT: an object appears whole or not at all.
        self._call("put_object", key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self.open(key).stream.read()

    def open(self, key: str) -> StoredObject:
        response = self._call("get_object", key)
        return StoredObject(
            stream=_Chunks(response["Body"]),
            size=response.get("ContentLength"),
            etag=(response.get("ETag") or "").strip('"') or None,
            last_modified=response.get("LastModified"),
        )

    def exists(self, key: str) -> bool:
        try:
            self._call("head_object", key)
        except FileNotFoundError:
            return False
        return True

    def delete(self, key: str) -> None:
        # S3 answers 204 for a key that is already gone: nothing to do either way.
        self._call("delete_object", key)


class _Chunks:
    """botocore's StreamingBody as the file werkzeug streams from (read(n) in blocks),
    closed when the response is done."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        return self._body.read(None if size is None or size < 0 else size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body.iter_chunks())

    def close(self) -> None:
        self._body.close()


def backend_for(config: Mapping[str, Any]) -> LocalBackend | S3Backend:
    if config.get("MEDIA_STORE", "local") == "s3":
        return S3Backend.from_config(config)
    return LocalBackend(str(config["UPLOAD_FOLDER"]))


def current_backend() -> LocalBackend | S3Backend:
    """This app's backend, made once (a boto3 client is thread-safe and slow to build)."""
    backend = current_app.extensions.get(EXTENSION)
    if backend is None:
        backend = current_app.extensions[EXTENSION] = backend_for(current_app.config)
    return backend

"""Where kept media lives: files under the upload folder (`UPLOAD_FOLDER/media/`).

Callers hand bytes and get back a *key* (a relative path such as
`media/12/2026/12/3f9c...e1.jpg`) to store on their row; they read, serve and delete by
that key. Keys are made here from random tokens, or for a thing that has its own id (a
Twilio RecordingSid) from that id's letters and digits only, never from a path a sender
chose; a key that would leave the media root (`..`, an absolute path) is refused, so a row
that was tampered with cannot make the app read another file.

The bytes live where MEDIA_STORE says (app/services/media_backends.py): files under
UPLOAD_FOLDER (`local`, the default) or a private S3-compatible bucket (`s3`), the same keys
either way. Passing `upload_folder` names a local folder explicitly (tests, scripts).
A file written while a database transaction is open belongs to it: if that transaction
ends without committing (a rollback, an error, a session closed at the end of a failed
request), the files it wrote are deleted, so no row-less file is left behind (see
`_forget_unkept`). Files are written before the commit, not after, because the row must
name its file when it becomes visible (the dispatcher may send an MMS photo the moment
its text commits); a named key (a recording) is left alone, as it may be the file of a
row already committed, and its retry overwrites it. The other way round, a file a row
stops naming is deleted only once that change commits (`delete_after_commit`): a rollback
must not leave the row naming a file that is gone.

Used by MMS pictures (app/services/message_media.py), voicemail and call recordings
(app/services/voicemail.py) and uploaded greetings (app/services/business_hours.py).
"""

from __future__ import annotations

import logging
import mimetypes
import secrets
from datetime import datetime
from pathlib import Path

import sqlalchemy.orm as so
from flask import current_app, has_app_context
from sqlalchemy import event

from app.extensions import db
from app.models.types import utcnow
from app.services.media_backends import (
    LocalBackend,
    MediaStoreUnavailable,
    S3Backend,
    StoredObject,
    current_backend,
)

__all__ = ["BadMediaKey", "MediaStoreUnavailable", "StoredObject"]

log = logging.getLogger(__name__)

ROOT = "media"
# session.info: keys written during the session's open transaction, not yet committed.
_WRITTEN = "media_store.written"
# session.info: keys to delete once the open transaction commits.
_DOOMED = "media_store.doomed"


class BadMediaKey(ValueError):
    pass


def _root(upload_folder: str | None = None) -> Path:
    folder = upload_folder or current_app.config["UPLOAD_FOLDER"]
    return (Path(folder) / ROOT).resolve()


def check_key(key: str) -> str:
    """`key` if it names something under the media root, else BadMediaKey: no `..`, `.` or
    empty part, no absolute path or backslash, nothing outside `media/` (whatever the
    backend: an S3 object name with `..` is refused as a path with one is)."""
    if not key or not isinstance(key, str) or not key.startswith(f"{ROOT}/"):
        raise BadMediaKey(key)
    if "\\" in key or any(ord(ch) < 32 for ch in key):
        raise BadMediaKey(key)
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise BadMediaKey(key)
    return key


def path_of(key: str, *, upload_folder: str | None = None) -> Path:
    """The file for `key`, checked to lie inside the media root (local store)."""
    root = _root(upload_folder)
    if not key or key.startswith(("/", "\\")) or not key.startswith(f"{ROOT}/"):
        raise BadMediaKey(key)
    path = (root.parent / key).resolve()
    if root not in path.parents:
        raise BadMediaKey(key)
    return path


def _backend(upload_folder: str | None) -> LocalBackend | S3Backend:
    if upload_folder is not None:
        return LocalBackend(upload_folder)
    return current_backend()


def _checked(key: str, backend: LocalBackend | S3Backend) -> str:
    check_key(key)
    if isinstance(backend, LocalBackend):
        path_of(key, upload_folder=str(backend.folder))  # and no symlink out of the root
    return key


def _clean_extension(extension: str) -> str:
    return "".join(ch for ch in extension.lower() if ch.isalnum())[:8] or "bin"


def new_key(*, company_id: int, extension: str, now: datetime | None = None) -> str:
    """A fresh key for a company's file: unguessable, grouped by company and month."""
    now = now or utcnow()
    token = secrets.token_hex(16)
    return f"{ROOT}/{int(company_id)}/{now:%Y/%m}/{token}.{_clean_extension(extension)}"


def named_key(*, company_id: int, name: str, extension: str) -> str:
    """The key for a thing with its own id (a RecordingSid): the same every time, so a
    second fetch of the same recording overwrites its file instead of leaving another."""
    safe = "".join(ch for ch in name if ch.isalnum())[:64] or "unnamed"
    return f"{ROOT}/{int(company_id)}/named/{safe}.{_clean_extension(extension)}"


def save(
    data: bytes,
    *,
    company_id: int,
    extension: str,
    name: str | None = None,
    upload_folder: str | None = None,
) -> str:
    """Write `data` and return its key: `named_key` when `name` is given, else a new one.
    A reader never sees half a file (a local file is written to a temporary file and
    renamed; an S3 object appears whole), and a second write of a named key replaces it.
    MediaStoreUnavailable when the store cannot take it."""
    if name:
        key = named_key(company_id=company_id, name=name, extension=extension)
    else:
        key = new_key(company_id=company_id, extension=extension)
    backend = _backend(upload_folder)
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    backend.put(_checked(key, backend), data, content_type=content_type)
    if not name and upload_folder is None:
        _belongs_to_transaction(key)
    return key


# -- a file written in a transaction that does not commit is deleted ------------------------


def _belongs_to_transaction(key: str) -> None:
    if not has_app_context():
        return
    session = db.session()
    if session.get_transaction() is None:
        # No SQL yet: begin (no connection is taken) so that a rollback ends something.
        session.begin()
    session.info.setdefault(_WRITTEN, []).append(key)


def delete_after_commit(key: str) -> None:
    """Delete `key` once the open transaction commits (a row stopped naming it, e.g. a
    replaced greeting); if it rolls back, the file stays with the row that still names it."""
    session = db.session()
    if session.get_transaction() is None:
        session.begin()
    session.info.setdefault(_DOOMED, []).append(key)


def _delete_all(keys: list[str], *, why: str) -> None:
    for key in keys:
        try:
            delete(key)
        except Exception as error:  # a commit or rollback must not fail for a file
            log.warning("media store: %s (%s) was left: %s", key, why, error)


@event.listens_for(so.Session, "after_commit")
def _kept(session: so.Session) -> None:
    # Fires for the outermost transaction only: its files are its rows' now, and the files
    # its rows stopped naming can go.
    session.info.pop(_WRITTEN, None)
    doomed = session.info.pop(_DOOMED, None)
    if doomed and has_app_context():
        _delete_all(doomed, why="no longer named by a row")


@event.listens_for(so.Session, "after_transaction_end")
def _forget_unkept(session: so.Session, transaction: so.SessionTransaction) -> None:
    """The outermost transaction ended without a commit (which would have emptied the
    list): delete the files it wrote. A savepoint's end is not the end: its outer
    transaction may still commit them."""
    if transaction.parent is not None:
        return
    session.info.pop(_DOOMED, None)  # not committed: the rows still name those files
    keys = session.info.pop(_WRITTEN, None)
    if keys and has_app_context():
        _delete_all(keys, why="written for a transaction that rolled back")


def read(key: str, *, upload_folder: str | None = None) -> bytes:
    backend = _backend(upload_folder)
    return backend.get(_checked(key, backend))


def open_for_serving(key: str) -> StoredObject | Path:
    """What a route hands to send_file: the local file's path, or the S3 object's stream
    with its size and ETag. FileNotFoundError when there is none."""
    backend = _backend(None)
    _checked(key, backend)
    if isinstance(backend, LocalBackend):
        path = path_of(key, upload_folder=str(backend.folder))
        if not path.is_file():
            raise FileNotFoundError(key)
        return path
    return backend.open(key)


def exists(key: str, *, upload_folder: str | None = None) -> bool:
    backend = _backend(upload_folder)
    try:
        return backend.exists(_checked(key, backend))
    except BadMediaKey:
        return False


def delete(key: str, *, upload_folder: str | None = None) -> None:
    """Remove the file (nothing if it is already gone)."""
    backend = _backend(upload_folder)
    backend.delete(_checked(key, backend))

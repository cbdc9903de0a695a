"""Where kept media lives: files under the upload folder (`UPLOAD_FOLDER/media/`).

Callers hand bytes and get back a *key* (a relative path such as
`media/12/2026/12/3f9c...e1.jpg`) to store on their row; they read, serve and delete by
that key. Keys are made here from random tokens, or for a thing that has its own id (a
Twilio RecordingSid) from that id's letters and digits only, never from a path a sender
chose; a key that would leave the media root (`..`, an absolute path) is refused, so a row
that was tampered with cannot make the app read another file.

Only the local folder is built. An S3-compatible store is not: a deployment with several
web servers must share UPLOAD_FOLDER (a network volume) until one is.
Used by MMS pictures (app/services/message_media.py), voicemail and call recordings
(app/services/voicemail.py) and uploaded greetings (app/services/business_hours.py).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from datetime import datetime
from pathlib import Path

from flask import current_app

from app.models.types import utcnow

ROOT = "media"


class BadMediaKey(ValueError):
    pass


def _root(upload_folder: str | None = None) -> Path:
    folder = upload_folder or current_app.config["UPLOAD_FOLDER"]
    return (Path(folder) / ROOT).resolve()


def path_of(key: str, *, upload_folder: str | None = None) -> Path:
    """The file for `key`, checked to lie inside the media root."""
    root = _root(upload_folder)
    if not key or key.startswith(("/", "\\")) or not key.startswith(f"{ROOT}/"):
        raise BadMediaKey(key)
    path = (root.parent / key).resolve()
    if root not in path.parents:
        raise BadMediaKey(key)
    return path


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
    Written to a temporary file and renamed, so a reader never sees half a file and a
    crash (or two writers of one named key) leaves no partial one."""
    if name:
        key = named_key(company_id=company_id, name=name, extension=extension)
    else:
        key = new_key(company_id=company_id, extension=extension)
    path = path_of(key, upload_folder=upload_folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return key


def read(key: str, *, upload_folder: str | None = None) -> bytes:
    return path_of(key, upload_folder=upload_folder).read_bytes()


def exists(key: str, *, upload_folder: str | None = None) -> bool:
    try:
        return path_of(key, upload_folder=upload_folder).is_file()
    except BadMediaKey:
        return False


def delete(key: str, *, upload_folder: str | None = None) -> None:
    """Remove the file (nothing if it is already gone)."""
    path_of(key, upload_folder=upload_folder).unlink(missing_ok=True)

"""Where kept media lives: files under the upload folder (`UPLOAD_FOLDER/media/`).

Callers hand bytes and get back a *key* (a relative path such as
`media/12/2026/12/3f9c...e1.jpg`) to store on their row; they read, serve and delete by
that key. Keys are made here from random tokens, never from anything a sender chose, and
a key that would leave the media root (`..`, an absolute path) is refused, so a row that
was tampered with cannot make the app read another file.

Only the local folder is built. An S3-compatible store is not: a deployment with several
web servers must share UPLOAD_FOLDER (a network volume) until one is.
Used by MMS pictures (app/services/message_media.py) and meant for call recordings too.
"""

from __future__ import annotations

import os
import secrets
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


def new_key(*, company_id: int, extension: str, now: datetime | None = None) -> str:
    """A fresh key for a company's file: unguessable, grouped by company and month."""
    now = now or utcnow()
    extension = "".join(ch for ch in extension.lower() if ch.isalnum())[:8] or "bin"
    token = secrets.token_hex(16)
    return f"{ROOT}/{company_id}/{now:%Y/%m}/{token}.{extension}"


def save(data: bytes, *, company_id: int, extension: str, upload_folder: str | None = None) -> str:
    """Write `data` to a new key and return it. Written to a temporary name and renamed,
    so a reader never sees half a file."""
    key = new_key(company_id=company_id, extension=extension)
    path = path_of(key, upload_folder=upload_folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    os.replace(partial, path)
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

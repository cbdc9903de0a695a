"""Where voicemail audio lives on disk: under UPLOAD_FOLDER/voicemails/<company id>/.

A small store of its own until the shared media store (issue 17's app/services/media_store.py)
is on main; its keys are relative paths, so moving them there is a rename of this module.
Keys are made here from ids only (never from what Twilio or a browser sent), and resolved
back inside the folder, so a key can never point outside it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from flask import current_app

FOLDER = "voicemails"
# What a stored recording must start with: RIFF....WAVE (Twilio's default), or MP3.
_AUDIO_SIGNATURES = (
    (b"RIFF", "audio/wav", "wav"),
    (b"ID3", "audio/mpeg", "mp3"),
    (b"\xff\xfb", "audio/mpeg", "mp3"),
    (b"\xff\xf3", "audio/mpeg", "mp3"),
)


def audio_kind(data: bytes) -> tuple[str, str] | None:
    """(content type, extension) of WAV or MP3 audio, judged by its first bytes; else None."""
    for signature, content_type, extension in _AUDIO_SIGNATURES:
        if data.startswith(signature):
            if signature == b"RIFF" and data[8:12] != b"WAVE":
                return None
            return content_type, extension
    return None


def _root() -> Path:
    return Path(current_app.config["UPLOAD_FOLDER"]).resolve()


def recording_key(*, company_id: int, recording_sid: str, extension: str) -> str:
    safe_sid = "".join(ch for ch in recording_sid if ch.isalnum())[:64]
    return f"{FOLDER}/{int(company_id)}/{safe_sid}.{extension}"


GREETINGS = "greetings"


def greeting_key(*, company_id: int, token: str, extension: str) -> str:
    safe = "".join(ch for ch in token if ch.isalnum() or ch in "-_")[:64]
    return f"{GREETINGS}/{int(company_id)}/{safe}.{extension}"


def path_for(key: str) -> Path:
    root = _root()
    path = (root / key).resolve()
    if root not in path.parents:
        raise ValueError("storage key outside the upload folder")
    return path


def save(key: str, data: bytes) -> None:
    """Write atomically: a reader never sees half a file, a crash leaves no partial file."""
    path = path_for(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def exists(key: str) -> bool:
    return path_for(key).is_file()


def delete(key: str | None) -> None:
    if key:
        path_for(key).unlink(missing_ok=True)

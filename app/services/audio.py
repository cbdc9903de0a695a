"""Is it audio? Judged by the first bytes, never by a name or a Content-Type someone sent.

Used for voicemail and call recordings fetched from Twilio (app/services/voicemail.py)
and for uploaded greetings (app/services/business_hours.py).
"""

from __future__ import annotations

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

"""Pictures and files of texts (MMS): kept, checked and served.

Inbound: the webhook keeps only the post; routing (app/services/inbound.py) records one
`pending` MessageMedia per MediaUrlN (at most 10) and the worker fetches them
(`fetch_due_media`) through the Twilio door (app/sms/media.py: this account's media on
api.twilio.com only, 5 MB at most). Each file is judged by its bytes, not by the type
Twilio declared: a picture (JPEG, PNG, GIF, WebP, HEIC, BMP, TIFF) is decoded within the
pixel limit of app/services/images.py and re-encoded as JPEG with a thumbnail; a PDF, a
vCard, audio or video is kept as a download; anything else (an SVG, a text file named
.jpg) is refused. A fetch that fails for a reason that may pass is retried with backoff
(the thread says so); after the last try it reads "could not be fetched", and a file
refused for what it is says why ("not a picture we can show (SVG)", "too large"): see
`MessageMedia.notice`. Then, if the company wants it (privacy setting), Twilio's copy is
deleted.

Outbound: a photo the office or a tech attaches is checked the same way, re-encoded under
the size Twilio recommends for reliable MMS delivery, stored, and sent by a signed link
that expires (`signed_url`), which Twilio fetches once when it sends.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from PIL import Image, UnidentifiedImageError

from app.extensions import db
from app.models import (
    Company,
    MediaFailure,
    MediaState,
    Message,
    MessageMedia,
    User,
    utcnow,
)
from app.services import media_store
from app.services.errors import DomainError, NotAllowed
from app.services.images import MAX_PIXELS, MAX_SIDE, PICTURE_FORMATS, open_upload
from app.sms import media as twilio_media
from app.sms.gateway import GatewayError, TransientGatewayError
from app.urls import public_url_for
from app.worker import leases

log = logging.getLogger(__name__)

MAX_ITEMS = 10  # Twilio's own limit per message
MAX_FETCH_BYTES = 5 * 1024 * 1024  # Twilio's MMS limit: nothing larger is a real MMS item
MAX_ATTEMPTS = 6
RETRY_FIRST = timedelta(seconds=10)
RETRY_MAX = timedelta(minutes=30)
# A worker that took items and died: they are due again after this.
CLAIM_LEASE = timedelta(minutes=2)
FETCH_BATCH = 10
# Pictures are kept at phone-screen size; thumbnails for the threads.
STORED_SIDE = 2048
THUMB_SIDE = 320
# Outbound: Twilio recommends attachments of no more than 600 KB for delivery on every US
# carrier (AT&T long code: 1 MB, toll-free 600 KB; "Supported File Types and Size Limits
# for MMS Media Messages"), and at most 5 MB for the whole message.
MMS_MAX_BYTES = 600 * 1024
MAX_OUTBOUND_PHOTOS = 5
MAX_UPLOAD_BYTES = 15 * 1024 * 1024  # a phone camera's photo, before we shrink it
# A reply box's whole upload: five photos of a few MB each, as phones take them.
REPLY_UPLOAD_BYTES = 30 * 1024 * 1024
SIGNED_URL_TTL = timedelta(hours=1)
_SALT = "mms-media"

COULD_NOT_FETCH = "Picture could not be fetched"


class UnkeepableMedia(DomainError):
    pass


class InvalidPhoto(DomainError):
    pass


@dataclass(frozen=True)
class Kind:
    content_type: str
    extension: str
    label: str


# Non-picture files kept as downloads, recognised by their first bytes.
def sniff(data: bytes) -> Kind | None:
    head = data[:64]
    if head.startswith(b"%PDF-"):
        return Kind("application/pdf", "pdf", "PDF")
    if head.lstrip(b"\xef\xbb\xbf \r\n\t").upper().startswith(b"BEGIN:VCARD"):
        return Kind("text/vcard", "vcf", "Contact card")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand[:4] in (b"heic", b"heix", b"mif1", b"msf1", b"avif"):
            return None  # a picture: Pillow (pillow-heif) reads it
        if brand.startswith(b"3g"):
            return Kind("video/3gpp", "3gp", "Video")
        if brand == b"qt  ":
            return Kind("video/quicktime", "mov", "Video")
        if brand in (b"M4A ", b"M4B "):
            return Kind("audio/mp4", "m4a", "Audio")
        return Kind("video/mp4", "mp4", "Video")
    if head.startswith(b"#!AMR"):
        return Kind("audio/amr", "amr", "Audio")
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return Kind("audio/mpeg", "mp3", "Audio")
    if head.startswith(b"OggS"):
        return Kind("audio/ogg", "ogg", "Audio")
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return Kind("audio/wav", "wav", "Audio")
    if head.startswith(b"\x1aE\xdf\xa3"):
        return Kind("video/webm", "webm", "Video")
    return None


# -- inbound: recorded by routing, fetched by the worker ----------------------------------


def record_inbound_media(
    *, company: Company, message: Message, items: list[dict[str, str]], now: datetime
) -> list[MessageMedia]:
    """One pending row per posted item (at most MAX_ITEMS). A URL that is not this
    account's media at Twilio is refused here, logged, and never fetched."""
    rows = []
    for position, item in enumerate(items[:MAX_ITEMS]):
        url = item.get("url", "")
        row = MessageMedia(
            message=message,
            company_id=company.id,
            position=position,
            source_url=url[:2000],
            content_type=(item.get("content_type") or "")[:100],
            state=MediaState.PENDING,
            next_attempt_at=now,
        )
        try:
            twilio_media.media_ref(url)
        except twilio_media.MediaRefused as error:
            log.warning(
                "media: message %s item %s refused: %s", message.twilio_sid, position, error
            )
            row.state = MediaState.FAILED
            row.next_attempt_at = None
            row.error = "Not a Twilio media address: not fetched."
            row.failure = MediaFailure.NOT_TWILIO
        rows.append(row)
        db.session.add(row)
    return rows


def fetch_due_media(*, now: datetime, limit: int = FETCH_BATCH) -> int:
    """The worker's task: fetch and keep up to `limit` due items. Commits: the items are
    claimed first (so two workers never fetch the same one), no transaction stays open
    across a download, and each item's outcome is committed on its own."""
    ids = list(
        db.session.scalars(
            sa.select(MessageMedia.id)
            .where(MessageMedia.state == MediaState.PENDING, MessageMedia.next_attempt_at <= now)
            .order_by(MessageMedia.next_attempt_at, MessageMedia.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not ids:
        db.session.rollback()
        return 0
    claimed = [
        media_id
        for media_id in ids
        if leases.claim(
            MessageMedia, media_id, state=MediaState.PENDING, now=now, lease=CLAIM_LEASE
        )
    ]
    db.session.commit()
    for media_id in claimed:
        item = db.session.get(MessageMedia, media_id)
        if item is None or item.state != MediaState.PENDING:
            continue
        url = item.source_url or ""
        db.session.rollback()  # nothing open across the download
        try:
            fetched = twilio_media.fetch_media(url, max_bytes=MAX_FETCH_BYTES)
        except twilio_media.MediaRefused as error:
            log.warning("media: %s refused: %s", media_id, error)
            _fail(media_id, "Not a Twilio media address: not fetched.", MediaFailure.NOT_TWILIO)
            continue
        except twilio_media.MediaTooLarge:
            _fail(media_id, "Larger than 5 MB: not kept.", MediaFailure.TOO_LARGE, "over 5 MB")
            continue
        except TransientGatewayError as error:
            _retry(media_id, now=now, reason=error.message)
            continue
        except GatewayError as error:
            _fail(
                media_id,
                f"Twilio refused the download: {error.message}",
                MediaFailure.UNAVAILABLE,
            )
            continue
        item = db.session.get(MessageMedia, media_id)
        try:
            keep_bytes(item=item, data=fetched.data)
        except UnkeepableMedia as error:
            item.state = MediaState.FAILED
            item.error = error.message
            item.failure, item.failure_detail = refusal_of(fetched.data)
            item.next_attempt_at = None
        except media_store.MediaStoreUnavailable as error:
            # Our store (the S3 bucket) is down or refuses us: Twilio still has the file
            # (it is deleted there only once kept here), so the fetch is tried again later.
            log.warning("media: %s not stored: %s", media_id, error.message)
            db.session.rollback()
            _retry(media_id, now=now, reason=error.message)
            continue
        except Exception:
            # A decoder's own failure on a hostile file must not bring the item back
            # for ever: it is given up on, with the reason in the log.
            log.exception("media: %s could not be read", media_id)
            db.session.rollback()
            _fail(media_id, "The file could not be read.", MediaFailure.UNREADABLE)
            continue
        _touch_message(item.message_id)
        db.session.commit()
        if item.state == MediaState.STORED:
            _delete_at_twilio(item, now=now)
    return len(ids)


def _touch_message(message_id: int) -> None:
    """A picture kept (or given up on) changes what its text shows: the threads' polls
    see a new `updated_at` and redraw it."""
    db.session.execute(
        sa.update(Message).where(Message.id == message_id).values(updated_at=utcnow())
    )


def _fail(media_id: int, reason: str, failure: MediaFailure, detail: str | None = None) -> None:
    item = db.session.get(MessageMedia, media_id)
    item.state = MediaState.FAILED
    item.error = reason
    item.failure = failure
    item.failure_detail = detail
    item.next_attempt_at = None
    item.attempts += 1
    _touch_message(item.message_id)
    db.session.commit()


def _retry(media_id: int, *, now: datetime, reason: str) -> None:
    item = db.session.get(MessageMedia, media_id)
    item.attempts += 1
    item.error = reason[:500]
    if item.attempts >= MAX_ATTEMPTS:
        item.state = MediaState.FAILED
        item.failure = MediaFailure.UNAVAILABLE
        item.next_attempt_at = None
        _touch_message(item.message_id)
    else:
        item.next_attempt_at = now + leases.backoff(
            attempts=item.attempts, first=RETRY_FIRST, most=RETRY_MAX
        )
        if item.attempts == 1:  # "Fetching" becomes "we'll try again": redraw the text
            _touch_message(item.message_id)
    db.session.commit()


def _delete_at_twilio(item: MessageMedia, *, now: datetime) -> None:
    company = db.session.get(Company, item.company_id)
    if company is None or not company.delete_media_at_twilio or not item.source_url:
        return
    try:
        twilio_media.delete_media(item.source_url)
    except GatewayError as error:
        # Our copy is kept either way; Twilio's stays until someone deletes it by hand.
        log.warning("media: could not delete %s at Twilio: %s", item.id, error)
        return
    item.deleted_at_twilio_at = now
    db.session.commit()


def keep_bytes(*, item: MessageMedia, data: bytes) -> None:
    """Judge `data` by its bytes and store it on `item` (flushes nothing; the caller
    commits). Raises UnkeepableMedia for what is neither a picture nor a file we keep."""
    kind = sniff(data)
    if kind is not None:
        item.storage_key = media_store.save(
            data, company_id=item.company_id, extension=kind.extension
        )
        item.content_type = kind.content_type
        item.size_bytes = len(data)
    else:
        image = open_upload(
            data,
            max_bytes=MAX_FETCH_BYTES,
            error=UnkeepableMedia,
            field="media",
            name="picture",
            noun="a picture or a file",
            formats=PICTURE_FORMATS,
        )
        _store_picture(item, image)
    item.state = MediaState.STORED
    item.error = None
    item.next_attempt_at = None


def _describe_text(data: bytes) -> str | None:
    """ "SVG", "a web page" or "a text file" for markup or text, else None."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \r\n\t").lower()
    if head.startswith(b"<svg") or (
        head.startswith((b"<?xml", b"<!doctype svg")) and b"<svg" in head
    ):
        return "SVG"
    if head.startswith((b"<!doctype html", b"<html")):
        return "a web page"
    try:
        text = data[:2048].decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return "a text file"
    return None


def refusal_of(data: bytes) -> tuple[MediaFailure, str | None]:
    """Why `keep_bytes` refused `data`, in words for the thread: its kind ("SVG", "PSD",
    "a text file") or its size in pixels. Reads the header only, as the refusal did."""
    described = _describe_text(data)
    if described:
        return MediaFailure.NOT_SHOWABLE, described
    try:
        # Between our pixel limit and twice it, Pillow warns (as it did in open_upload):
        # left to the warnings filter, as catch_warnings is not safe beside other threads.
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if probe.format not in PICTURE_FORMATS:
                return MediaFailure.NOT_SHOWABLE, probe.format or None
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                return MediaFailure.TOO_LARGE, f"{width} by {height} pixels"
    except Image.DecompressionBombError:
        # Pillow refuses the header before telling its size: far beyond any camera.
        return MediaFailure.TOO_LARGE, "more pixels than any phone camera takes"
    except UnidentifiedImageError:
        return MediaFailure.NOT_SHOWABLE, "an unknown kind of file"
    except (OSError, SyntaxError, ValueError):
        pass
    return MediaFailure.UNREADABLE, None


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency laid on white (JPEG has none). An RGB picture (every
    photo) is returned as it is, not copied."""
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image, *, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, optimize=True)
    return out.getvalue()


def _store_picture(item: MessageMedia, image: Image.Image, *, max_bytes: int | None = None) -> None:
    """Store `image` (which this changes: the caller's decoded picture is not used again)
    at STORED_SIDE with a thumbnail. A 12 MP photo decodes to 48 MB; it is shrunk in place
    and the thumbnail made from the shrunk copy, so it is never copied at full size
    (bench/media.py: 178 MB of memory per picture before, docs/performance.md)."""
    full = _flatten(image)
    full.thumbnail((STORED_SIDE, STORED_SIDE), Image.Resampling.LANCZOS)
    data = _jpeg(full, quality=85)
    thumb = full.copy()
    thumb.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    if max_bytes is not None:
        data, full = _shrink_under(full, max_bytes)
    item.storage_key = media_store.save(data, company_id=item.company_id, extension="jpg")
    item.thumbnail_key = media_store.save(
        _jpeg(thumb, quality=80), company_id=item.company_id, extension="jpg"
    )
    item.content_type = "image/jpeg"
    item.size_bytes = len(data)
    item.width, item.height = full.size


def _shrink_under(image: Image.Image, max_bytes: int) -> tuple[bytes, Image.Image]:
    """The largest of a few sizes and qualities that fits in `max_bytes`."""
    for side in (1600, 1280, 1024, 800, 640):
        candidate = image.copy()
        candidate.thumbnail((side, side), Image.Resampling.LANCZOS)
        for quality in (82, 72, 62):
            data = _jpeg(candidate, quality=quality)
            if len(data) <= max_bytes:
                return data, candidate
    return data, candidate  # 640 px at quality 62 is far below any carrier's limit


def set_media_privacy(*, company: Company, actor: User, delete_at_twilio: bool) -> None:
    """The company's privacy setting: delete Twilio's copy of a customer's picture once
    it is kept here (managers only)."""
    if actor.company_id != company.id or not actor.is_manager:
        raise NotAllowed("Only an owner or admin can change this.")
    company.delete_media_at_twilio = bool(delete_at_twilio)


# -- outbound photos ----------------------------------------------------------------------


def prepare_outbound_photos(*, company: Company, files: list[bytes]) -> list[MessageMedia]:
    """Check and store the photos of a reply (not yet attached to a message: the caller
    attaches them to the text it queues). Raises InvalidPhoto (field "photos")."""
    files = [data for data in files if data]
    if len(files) > MAX_OUTBOUND_PHOTOS:
        raise InvalidPhoto(f"Attach at most {MAX_OUTBOUND_PHOTOS} photos.", field="photos")
    rows = []
    for position, data in enumerate(files):
        image = open_upload(
            data,
            max_bytes=MAX_UPLOAD_BYTES,
            error=InvalidPhoto,
            field="photos",
            name="photo",
            noun="a photo",
            formats=PICTURE_FORMATS,
        )
        row = MessageMedia(
            company_id=company.id, position=position, state=MediaState.STORED, attempts=0
        )
        try:
            _store_picture(row, image, max_bytes=MMS_MAX_BYTES)
        except media_store.MediaStoreUnavailable as error:
            # The store (the S3 bucket) is down or refuses us: the reply is not sent without
            # its photos; the operator's detail goes to the log, the person gets what to do.
            # The photos stored before it go with the rollback (media_store).
            log.error("media: reply photos not stored: %s", error.message)
            raise InvalidPhoto(
                "Photos cannot be stored just now. Try again in a minute.", field="photos"
            ) from error
        rows.append(row)
    return rows


# In `Message.media_urls` of a text we send, a photo kept here is named by this prefix and
# its position; the dispatcher turns it into a signed link when it sends.
OUTBOUND_REF = "media:"


def outbound_refs(rows: list[MessageMedia]) -> list[str]:
    return [f"{OUTBOUND_REF}{row.position}" for row in rows]


def attach_outbound_photos(*, message: Message, rows: list[MessageMedia]) -> None:
    """Give the queued text its photos (flushes). A repeated submit of the same reply
    returned the text already queued, which has its photos: the new copies are dropped."""
    if not rows:
        return
    already = db.session.scalar(
        sa.select(sa.func.count(MessageMedia.id)).filter_by(message_id=message.id)
    )
    if already:
        for row in rows:
            for key in (row.storage_key, row.thumbnail_key):
                if key:
                    media_store.delete(key)
        return
    for row in rows:
        row.message_id = message.id
        db.session.add(row)
    db.session.flush()


def public_media_urls(*, message_id: int, media_urls: list[str] | tuple[str, ...]) -> list[str]:
    """What Twilio is given as MediaUrl: our photos as signed links, other URLs (a tech's
    profile photo) as they are."""
    if not any(url.startswith(OUTBOUND_REF) for url in media_urls):
        return list(media_urls)
    rows = {
        row.position: row
        for row in db.session.scalars(sa.select(MessageMedia).filter_by(message_id=message_id))
    }
    out = []
    for url in media_urls:
        if not url.startswith(OUTBOUND_REF):
            out.append(url)
            continue
        row = rows.get(int(url.removeprefix(OUTBOUND_REF) or -1))
        if row is not None and row.state == MediaState.STORED:
            out.append(signed_url(row))
    return out


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def media_token(media: MessageMedia) -> str:
    return _serializer().dumps(media.id)


def signed_url(media: MessageMedia) -> str:
    """A public link to `media` that Twilio (or the fake) fetches when it sends the MMS;
    it stops working after SIGNED_URL_TTL. Made at send time, so a retried text gets a
    fresh one."""
    return public_url_for("public.signed_media", token=media_token(media))


def media_for_token(token: str, *, max_age: timedelta = SIGNED_URL_TTL) -> MessageMedia | None:
    try:
        media_id = _serializer().loads(token, max_age=int(max_age.total_seconds()))
    except BadSignature:
        return None
    if not isinstance(media_id, int):
        return None
    return db.session.get(MessageMedia, media_id)


def media_fingerprint(message_ids: list[int]) -> str:
    """The states of these texts' media, in one query (none without ids): part of a
    thread's version, so a poll redraws a picture once it is fetched."""
    if not message_ids:
        return ""
    rows = db.session.execute(
        sa.select(MessageMedia.id, MessageMedia.state, MessageMedia.attempts)
        .where(MessageMedia.message_id.in_(message_ids))
        .order_by(MessageMedia.id)
    )
    # Attempts too: a pending item that failed once reads "we'll try again".
    return ",".join(f"{media_id}{state[0]}{min(attempts, 1)}" for media_id, state, attempts in rows)

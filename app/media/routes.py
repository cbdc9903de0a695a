"""GET /media/<id> (the picture or file) and /media/<id>/thumb (a picture's thumbnail)."""

from __future__ import annotations

from pathlib import Path

from flask import abort, request, send_file
from flask_login import current_user
from werkzeug.exceptions import RequestedRangeNotSatisfiable

from app.auth.access import any_role_required
from app.media import bp
from app.models import MediaState, MessageMedia
from app.services import media_store
from app.services.media_access import can_view
from app.tenancy import get_or_404


def _viewable(media_id: int) -> MessageMedia:
    media = get_or_404(MessageMedia, media_id)
    if media.state != MediaState.STORED or not can_view(user=current_user, media=media):
        abort(404)
    return media


def send_media(
    key: str | None, *, content_type: str, download_name: str, inline: bool, max_age: int = 3600
):
    """The stored file, never sniffed by the browser as anything else, cached privately.
    From the local folder or streamed from the private S3 bucket (MEDIA_STORE), with the
    same headers either way: ETag and Last-Modified (304 on a repeat), ranges (206, for
    audio and video players)."""
    if not key:
        abort(404)
    try:
        source = media_store.open_for_serving(key)
    except (FileNotFoundError, media_store.BadMediaKey):
        abort(404)
    except media_store.MediaStoreUnavailable:
        abort(503)
    if isinstance(source, Path):
        response = send_file(
            source,
            mimetype=content_type,
            as_attachment=not inline,
            download_name=download_name,
            max_age=max_age,
        )
    else:
        response = send_file(
            source.stream,
            mimetype=content_type,
            as_attachment=not inline,
            download_name=download_name,
            max_age=max_age,
            conditional=False,  # below, once the size is known (send_file only knows files')
        )
        # A key is never rewritten with other bytes, so the object's ETag names them.
        if source.etag:
            response.set_etag(source.etag)
        response.last_modified = source.last_modified
        if source.size is not None:
            response.content_length = source.size
        response = _conditional(response, source)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.cache_control.public = False
    response.cache_control.private = True
    return response


def _conditional(response, source: media_store.StoredObject):
    try:
        response = response.make_conditional(
            request.environ, accept_ranges=True, complete_length=source.size
        )
    except RequestedRangeNotSatisfiable:
        source.stream.close()
        raise
    if response.status_code == 304:
        source.stream.close()
    return response


def _name(media: MessageMedia) -> str:
    extension = (media.storage_key or "").rsplit(".", 1)[-1]
    return f"text-{media.message_id}-{media.position + 1}.{extension}"


@bp.get("/media/<int:media_id>")
@any_role_required
def full(media_id: int):
    media = _viewable(media_id)
    # Only our own re-encoded JPEGs open in the browser; every other file downloads.
    return send_media(
        media.storage_key,
        content_type=media.content_type,
        download_name=_name(media),
        inline=media.is_image,
    )


@bp.get("/media/<int:media_id>/thumb")
@any_role_required
def thumbnail(media_id: int):
    media = _viewable(media_id)
    if not media.is_image:
        abort(404)
    return send_media(
        media.thumbnail_key, content_type="image/jpeg", download_name="thumb.jpg", inline=True
    )

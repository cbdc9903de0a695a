"""GET /m/<token>: a photo we send by MMS, for Twilio to fetch when it sends the text.

Twilio fetches a MediaUrl without any login, so the address is a signed, expiring token
(app/services/message_media.py `signed_url`): a forged or expired one is 404, and only
pictures that went out with a text are served this way."""

from __future__ import annotations

from flask import abort

from app.media.routes import send_media
from app.models import Direction
from app.public import bp
from app.services.message_media import media_for_token


@bp.get("/m/<token>")
def signed_media(token: str):
    media = media_for_token(token)
    if media is None or media.message is None or media.message.direction != Direction.OUT:
        abort(404)
    return send_media(
        media.storage_key,
        content_type=media.content_type,
        download_name=f"photo{media.position + 1}.jpg",
        inline=True,
    )

"""Public profile photos (for MMS), addressed by an unguessable token.

Twilio fetches the On My Way photo from this URL without any login, so the address is
the user's random `photo_token` (256 bits), never the user id: knowing someone's id, or
every id, finds no photo. A token with no photo (or of nobody) is 404.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, current_app, send_file

from app.extensions import db
from app.models import User
from app.public import bp
from app.services.photos import photo_path


@bp.get("/p/<token>.jpg")
def photo(token: str):
    user = db.session.scalar(sa.select(User).filter_by(photo_token=token))
    if user is None or not user.photo_filename:
        abort(404)
    path = photo_path(current_app.config["UPLOAD_FOLDER"], user.photo_filename)
    if not path.is_file():
        abort(404)
    response = send_file(path, mimetype="image/jpeg", max_age=300)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

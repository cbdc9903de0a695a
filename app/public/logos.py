"""Company logos, public so invoice pages and PDFs can show them without a login.

A logo's file name is a random token that changes with every upload (see
app/services/company_profile.py), so it is unguessable and its content never changes:
browsers and proxies may keep it for a year.
"""

from __future__ import annotations

from flask import abort, current_app, send_from_directory

from app.public import bp
from app.services.company_profile import LOGO_FILENAME, logo_folder

ONE_YEAR = 365 * 24 * 3600


@bp.get("/logos/<filename>")
def logo(filename: str):
    if not LOGO_FILENAME.match(filename):
        abort(404)
    response = send_from_directory(
        logo_folder(current_app.config["UPLOAD_FOLDER"]),
        filename,
        mimetype="image/png",
        max_age=ONE_YEAR,
        conditional=True,
    )
    response.cache_control.public = True
    response.cache_control.immutable = True
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

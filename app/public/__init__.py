from flask import Blueprint

bp = Blueprint("public", __name__)

from app.public import documents, logos, media, payments, photos, sms_terms  # noqa: E402,F401

from flask import Blueprint

bp = Blueprint("webhooks", __name__)

from app.webhooks import sms, status, trusthub, voice  # noqa: E402,F401

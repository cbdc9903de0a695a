from flask import Blueprint

bp = Blueprint("webhooks", __name__)

from app.webhooks import sms, status, stripe, trusthub, voice  # noqa: E402,F401

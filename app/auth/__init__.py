from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import passwords, profile, push_settings, routes, thread_link  # noqa: E402,F401

from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import passwords, profile, push_settings, routes  # noqa: E402,F401

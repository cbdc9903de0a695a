from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import passwords, profile, routes, thread_link  # noqa: E402,F401

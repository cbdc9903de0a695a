from flask import Blueprint

bp = Blueprint("auth", __name__)

from app.auth import profile, routes  # noqa: E402,F401

"""Pictures and files of texts, served to the people who may see them (office roles: all
of their company's; a tech: those of conversations routed to them or of their jobs'
customers). Another company's id, or one the viewer may not see, is 404."""

from flask import Blueprint

bp = Blueprint("media", __name__)

from app.media import routes  # noqa: E402,F401

from flask import Blueprint

bp = Blueprint("office", __name__)

from app.office import (  # noqa: E402,F401
    billing,
    company,
    customer_import,
    customers,
    inbox,
    jobs,
    number,
    registration,
    settings,
    team,
    templates,
)

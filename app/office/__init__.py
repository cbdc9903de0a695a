from flask import Blueprint

bp = Blueprint("office", __name__)

from app.office import (  # noqa: E402,F401
    billing,
    calls,
    company,
    customer_import,
    customers,
    inbox,
    jobs,
    number,
    payments,
    registration,
    settings,
    team,
    templates,
)

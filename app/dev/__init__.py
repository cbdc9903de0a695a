"""Development stand-ins for what a person would see outside the app: /dev/phone (a
customer's phone, while the fake Twilio is on) and /dev/mail (an inbox, while email goes to
the development mailbox instead of SMTP, never in production)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, request, url_for

from app.mail import uses_dev_mailbox

bp = Blueprint("dev", __name__)


def phone_enabled(config: Any) -> bool:
    # Never in production, not even a demo install allowed to run the fake there: the
    # simulator reads any customer's thread and texts as any customer.
    return bool(config["TWILIO_FAKE"]) and config["ENV_NAME"] != "production"


def mailbox_enabled(config: Any) -> bool:
    return config["ENV_NAME"] != "production" and uses_dev_mailbox(config)


def dev_pages_enabled(config: Any) -> bool:
    return phone_enabled(config) or mailbox_enabled(config)


def mailbox_url() -> str | None:
    """/dev/mail when it is on, for the login and "Forgot password?" pages to point at."""
    if "dev.mail" in current_app.view_functions and mailbox_enabled(current_app.config):
        return url_for("dev.mail")
    return None


@bp.before_request
def _only_what_is_on() -> None:
    # The blueprint is registered when either page is on; each page checks its own switch.
    endpoint = request.endpoint or ""
    # The simulator, the registration review and the lookups stand in for the fake Twilio.
    needs_fake = endpoint.startswith(("dev.phone", "dev.registration", "dev.lookups"))
    if needs_fake and not phone_enabled(current_app.config):
        abort(404)
    if endpoint.startswith("dev.mail") and not mailbox_enabled(current_app.config):
        abort(404)


from app.dev import lookups, mail, registration, routes  # noqa: E402,F401

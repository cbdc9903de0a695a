"""Development stand-ins for what a person would see outside the app: /dev/phone (a
customer's phone, while the fake Twilio is on) and /dev/mail (an inbox, while email goes to
the development mailbox instead of SMTP, never in production)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, request

from app.mail import uses_dev_mailbox

bp = Blueprint("dev", __name__)


def phone_enabled(config: Any) -> bool:
    return bool(config["TWILIO_FAKE"])


def mailbox_enabled(config: Any) -> bool:
    return config["ENV_NAME"] != "production" and uses_dev_mailbox(config)


def dev_pages_enabled(config: Any) -> bool:
    return phone_enabled(config) or mailbox_enabled(config)


@bp.before_request
def _only_what_is_on() -> None:
    # The blueprint is registered when either page is on; each page checks its own switch.
    endpoint = request.endpoint or ""
    if endpoint.startswith("dev.phone") and not phone_enabled(current_app.config):
        abort(404)
    if endpoint.startswith("dev.mail") and not mailbox_enabled(current_app.config):
        abort(404)


from app.dev import mail, routes  # noqa: E402,F401

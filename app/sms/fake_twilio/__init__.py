"""The built-in fake Twilio (see docs/sms-engine.md).

`fake_twilio()` returns the fake belonging to the current Flask app, created on first use:
its REST API (`FakeTwilio.api`) is what the SDK talks to when TWILIO_FAKE is on, and it
delivers signed webhooks and status callbacks back into the same app, in-process. Every
process (web worker or `flask outbox work`) has its own fake; all that matters survives in
the database, so several processes work together.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from app.sms.fake_twilio.api import FakeTwilioAPI
from app.sms.fake_twilio.state import (
    FakeMedia,
    FakeMessage,
    FakeNumber,
    FakeTwilio,
    WebhookResult,
)

__all__ = [
    "FakeMedia",
    "FakeMessage",
    "FakeNumber",
    "FakeTwilio",
    "FakeTwilioAPI",
    "WebhookResult",
    "fake_twilio",
]

_create_lock = threading.Lock()
EXTENSION_KEY = "fake_twilio"


def fake_twilio(app: Flask | None = None) -> FakeTwilio:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    fake = app.extensions.get(EXTENSION_KEY)
    if fake is not None:
        return fake
    with _create_lock:
        fake = app.extensions.get(EXTENSION_KEY)
        if fake is None:
            config = app.config
            fake = FakeTwilio(
                account_sid=config["TWILIO_ACCOUNT_SID"],
                auth_token=config["TWILIO_AUTH_TOKEN"],
                target_app=app,
                public_base_url=lambda: app.config["PUBLIC_BASE_URL"],
                # Tests advance the fake by hand; `make run` lets it move messages along
                # (queued -> sent -> delivered) on its own, like Twilio.
                auto_advance=config.get("FAKE_TWILIO_AUTO_ADVANCE", not app.testing),
                registration_outcome=config.get("FAKE_TWILIO_REGISTRATION") or "approve",
            )
            fake.api = FakeTwilioAPI(fake)
            app.extensions[EXTENSION_KEY] = fake
    return fake

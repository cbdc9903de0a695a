"""The built-in fake Stripe (see docs/payments.md).

`fake_stripe()` returns the fake belonging to the current Flask app, created on first use:
its REST API (`FakeStripe.api`) is what the `stripe` SDK talks to when STRIPE_FAKE is on,
and it delivers signed webhook events back into the same app, in-process. Like the fake
Twilio, each process has its own; what matters for the product is in the database, and
the connected accounts are kept in FAKE_STRIPE_ACCOUNTS_FILE so they survive a restart.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from app.payments.fake_stripe.api import FakeStripeAPI, decode_form
from app.payments.fake_stripe.state import DEMO_ACCOUNT_ID, FakeStripe, StripeAPIError

__all__ = [
    "DEMO_ACCOUNT_ID",
    "FakeStripe",
    "FakeStripeAPI",
    "StripeAPIError",
    "decode_form",
    "fake_stripe",
]

_create_lock = threading.Lock()
EXTENSION_KEY = "fake_stripe"


def fake_stripe(app: Flask | None = None) -> FakeStripe:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    fake = app.extensions.get(EXTENSION_KEY)
    if fake is not None:
        return fake
    with _create_lock:
        fake = app.extensions.get(EXTENSION_KEY)
        if fake is None:
            fake = FakeStripe(
                secret_key=app.config["STRIPE_SECRET_KEY"],
                webhook_secret=app.config["STRIPE_WEBHOOK_SECRET"],
                target_app=app,
                public_base_url=lambda: app.config["PUBLIC_BASE_URL"],
                auto_deliver=app.config.get("FAKE_STRIPE_AUTO_DELIVER", not app.testing),
                # Tests keep the fake in memory; `make run` keeps connected accounts
                # across restarts (see state.py).
                accounts_file=None if app.testing else app.config.get("FAKE_STRIPE_ACCOUNTS_FILE"),
            )
            fake.api = FakeStripeAPI(fake)
            app.extensions[EXTENSION_KEY] = fake
    return fake

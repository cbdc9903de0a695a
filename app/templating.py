"""Jinja filters and globals: how times, phones and money look on every page.

The formatting itself lives in app/formats.py, which services use too: a service never
imports this module (tests/test_architecture.py).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

from flask import Flask
from flask_login import current_user
from jinja2 import pass_context
from jinja2.runtime import Context

from app.formats import DEFAULT, day_text, local_time, money
from app.models.messaging import MessageKind
from app.services.billing.totals import format_discount, format_quantity, format_tax_rate
from app.services.consent import SCRIPT as CONSENT_SCRIPT
from app.services.phones import format_other_phone, format_phone


def display_zone() -> tzinfo:
    """The current company's time zone; UTC with nobody logged in (or no request)."""
    user = current_user._get_current_object()
    if user is not None and user.is_authenticated:
        return user.company.tz
    return UTC


def _document_discount(document) -> str:
    """An estimate's or invoice's discount: "10%" or "$25.00"."""
    return format_discount(document.discount_kind, document.discount_value)


def register_templating(app: Flask) -> None:
    app.jinja_env.filters["phone"] = format_phone
    app.jinja_env.filters["other_phone"] = format_other_phone
    app.jinja_env.filters["money"] = money

    @app.context_processor
    def _display_zone() -> dict:
        # Looked up once per render, not once per `local` call: list pages show a time on
        # every row, and finding the user's company through the proxies costs ~10 us.
        return {"display_zone": display_zone()}

    @app.template_filter("local")
    @pass_context
    def _local(context: Context, value: datetime | None, fmt: str = DEFAULT) -> str:
        # Shown in the current company's time zone (stored in UTC).
        return local_time(value, context.get("display_zone") or display_zone(), fmt)

    app.jinja_env.filters["local_in"] = local_time
    app.jinja_env.filters["day"] = day_text
    # Billing amounts as people read them ("1.5", "8.25%", "10%").
    app.jinja_env.filters["quantity"] = format_quantity
    app.jinja_env.filters["tax_rate"] = format_tax_rate
    app.jinja_env.filters["discount"] = _document_discount

    from app.navigation import nav_items

    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["registration_sentence"] = _registration_sentence
    app.jinja_env.globals["thread_labels"] = MessageKind.thread_labels()
    # The words the office reads before ticking the consent box (one wording everywhere).
    app.jinja_env.globals["consent_script"] = CONSENT_SCRIPT

    @app.after_request
    def _vary_on_htmx(response):
        # One URL serves a page or its fragment: caches must key on HX-Request.
        response.vary.add("HX-Request")
        return response


def _registration_sentence(company, registration) -> str:
    from app.services.registration import blocked_sentence

    return blocked_sentence(company=company, registration=registration)

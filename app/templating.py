"""Jinja filters and globals: how times, phones and money look on every page."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask
from flask_login import current_user

from app.models.messaging import MessageKind
from app.services.phones import format_phone


def local_time(
    value: datetime | None, tz: ZoneInfo | str, fmt: str = "%a %b %-d, %-I:%M %p"
) -> str:
    if value is None:
        return ""
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return value.astimezone(zone).strftime(fmt)


def money(cents: int | None) -> str:
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, rest = divmod(abs(cents), 100)
    return f"{sign}${whole:,}.{rest:02d}"


def register_templating(app: Flask) -> None:
    app.jinja_env.filters["phone"] = format_phone
    app.jinja_env.filters["money"] = money

    @app.template_filter("local")
    def _local(value: datetime | None, fmt: str = "%a %b %-d, %-I:%M %p") -> str:
        # Shown in the current company's time zone (stored in UTC). The user is taken out
        # of its proxy once: list pages call this for every row.
        user = current_user._get_current_object()
        return local_time(value, user.company.tz if user.is_authenticated else "UTC", fmt)

    app.jinja_env.filters["local_in"] = local_time

    from app.navigation import nav_items

    app.jinja_env.globals["nav_items"] = nav_items
    app.jinja_env.globals["thread_labels"] = MessageKind.THREAD_LABELS

    @app.after_request
    def _vary_on_htmx(response):
        # One URL serves a page or its fragment: caches must key on HX-Request.
        response.vary.add("HX-Request")
        return response

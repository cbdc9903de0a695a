"""Friendly error pages. htmx requests get a short fragment they can show in place."""

from __future__ import annotations

import time

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

from app.extensions import db, htmx, limiter

MESSAGES = {
    400: ("Something in that request was not right", "Please go back and try again."),
    403: ("You don't have access to this page", "Ask your account owner if you need it."),
    404: ("We couldn't find that", "It may have been removed, or the link is mistyped."),
    405: ("That action isn't allowed here", "Please go back and try again."),
    410: ("This link is no longer valid", "Please contact the business for a new one."),
    413: ("That is too large to send", "Please choose a smaller file."),
    429: ("Too many attempts", "Please wait a minute and try again."),
    500: ("Something went wrong on our side", "We've logged it. Please try again shortly."),
}


def render_error(status: int, detail: str | None = None):
    title, hint = MESSAGES.get(status, MESSAGES[500])
    template = "errors/_error.html" if htmx else "errors/error.html"
    return render_template(template, status=status, title=title, hint=detail or hint), status


def wait_in_words(seconds: float) -> str:
    """ "a minute", "42 minutes", "about 2 hours": how long a rate limit still lasts."""
    minutes = max(1, round(seconds / 60))
    if minutes <= 1:
        return "a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours, rest = divmod(minutes, 60)
    if hours >= 24:
        days = round(hours / 24)
        return "about a day" if days == 1 else f"about {days} days"
    hours_words = "1 hour" if hours == 1 else f"{hours} hours"
    return f"{hours_words} {rest} minutes" if rest else hours_words


def _too_many_requests(error):
    # The same figure as the Retry-After header Flask-Limiter adds to this response.
    limit = limiter.current_limit
    if limit is None or not limit.breached:
        return render_error(429)
    wait = wait_in_words(limit.reset_at - time.time())
    return render_error(429, f"Please wait {wait} and try again.")


def register_error_handlers(app: Flask) -> None:
    for status in (400, 403, 404, 405, 410):
        app.register_error_handler(status, lambda e, s=status: render_error(s))
    app.register_error_handler(429, _too_many_requests)

    @app.errorhandler(413)
    def _too_large(error):
        limit = request.max_content_length
        megabytes = f"{limit / (1024 * 1024):.0f} MB" if limit else "the limit"
        return render_error(
            413, f"This page accepts up to {megabytes} at once. Please choose a smaller file."
        )

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError):
        return render_error(
            400, "Your session expired or the form was stale. Reload the page and try again."
        )

    @app.errorhandler(500)
    def _server_error(error):
        db.session.rollback()
        return render_error(500)

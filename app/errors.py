"""Friendly error pages. htmx requests get a short fragment they can show in place."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError

from app.extensions import db, htmx

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


def register_error_handlers(app: Flask) -> None:
    for status in (400, 403, 404, 405, 410, 429):
        app.register_error_handler(status, lambda e, s=status: render_error(s))

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

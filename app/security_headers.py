"""Security headers on every response, from one after-request hook.

The Content-Security-Policy allows scripts and styles from this site only: no inline
<script>, no on*= handlers, no style= attributes, no eval (htmx runs with allowEval off and
its indicator styles in app.css, see base.html). Images come from this site too: MMS
pictures are fetched from Twilio by the worker and served from /media/ (issue 17), never
loaded from the carrier's host by the browser. No page may be framed by another site.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        # The Web Push service worker (/sw.js, app/static/sw.js) and the home-screen app.
        "worker-src 'self'",
        "manifest-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)

# Pages whose URL holds a secret token (estimate and invoice links, invitations, password
# resets): the browser must not send that URL to any other site in a Referer header.
TOKEN_PATH_PREFIXES = ("/e/", "/i/", "/invite/", "/password/reset/")
# Account links show who the link is for: never stored by a cache (the estimate and invoice
# pages say their own caching).
ACCOUNT_TOKEN_PREFIXES = ("/invite/", "/password/reset/")

HSTS = "max-age=63072000"


def register_security_headers(app: Flask) -> None:
    headers = {
        "Content-Security-Policy": CONTENT_SECURITY_POLICY,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",  # frame-ancestors for browsers without CSP 2
        # Same-site pages still get the Referer (the inbox's "back here" uses it).
        "Referrer-Policy": "same-origin",
    }
    if app.config["PUBLIC_BASE_URL"].startswith("https://"):
        headers["Strict-Transport-Security"] = HSTS

    @app.after_request
    def _security_headers(response: Response) -> Response:
        if request.blueprint == "webhooks":
            return response  # Twilio reads XML; the webhook path stays as lean as it was
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if request.path.startswith(TOKEN_PATH_PREFIXES):
            response.headers["Referrer-Policy"] = "no-referrer"
            if request.path.startswith(ACCOUNT_TOKEN_PREFIXES):
                response.headers["Cache-Control"] = "no-store"
        return response

"""Redirects to a target the request supplied (`?next=`, the Referer): only to this site.

Every such redirect goes through `local_target`, so the rule lives in one place. Browsers
and werkzeug drop tabs and newlines from a Location and read a backslash as a slash, so
"/\\t/evil.example" or "/\\\\evil.example" would leave the site: anything with a control
character or a backslash is refused outright, before parsing.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import request


def _suspicious(text: str) -> bool:
    return any(ord(c) < 0x20 or c in "\\\x7f" for c in text)


def local_target(target: str | None) -> str | None:
    """`target` when it is a path on this site ("/jobs?tab=today"), else None. The path is
    checked as given and percent-decoded, since some hop may decode it once more."""
    if not target:
        return None
    for form in (target, unquote(target.partition("?")[0])):
        if _suspicious(form) or form.startswith("//") or not form.startswith("/"):
            return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def referrer_target() -> str | None:
    """The page this request came from, when it is on this site (same host)."""
    referrer = request.referrer
    if not referrer:
        return None
    if _suspicious(referrer):
        return None
    parts = urlsplit(referrer)
    if parts.netloc and (parts.netloc != request.host or parts.scheme not in ("http", "https")):
        return None
    return local_target(parts.path + (f"?{parts.query}" if parts.query else ""))

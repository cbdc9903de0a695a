"""Absolute URLs that people and Twilio reach from outside: links in texts, webhook
addresses, invitation links.

Built from `PUBLIC_BASE_URL` and the app's URL map, not from the request, so they come out
the same in a web request, in the worker and in a CLI command, and a route that moves takes
its links with it (no hand-typed `/webhooks/...` or `/e/...` paths).
"""

from __future__ import annotations

from typing import Any

from flask import current_app


def public_path_for(endpoint: str, /, **values: Any) -> str:
    """The path (and query, for values the rule does not take) of `endpoint`."""
    # Bound without a request: the host is not part of any rule here.
    adapter = current_app.url_map.bind("localhost")
    return adapter.build(endpoint, values)


def public_url_for(endpoint: str, /, **values: Any) -> str:
    """`PUBLIC_BASE_URL` + the path of `endpoint` with `values`."""
    return public_base_url() + public_path_for(endpoint, **values)


def public_base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")

"""Helpers for tests that need something outside Python (PostgreSQL, Chromium, a server)."""

from __future__ import annotations

import os
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypeVar

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI a missing dependency is a failure, never a silent skip."""
    if IN_CI:
        pytest.fail(f"CI must run this test, but: {reason}")
    pytest.skip(reason)


# The headers htmx sends with each request it makes: `client.post(url, headers=HX)` asks
# for the fragment a swap would receive instead of the full page.
HX = {"HX-Request": "true"}


Server = TypeVar("Server", bound=socketserver.BaseServer)


@contextmanager
def serving(server: Server) -> Iterator[Server]:
    """Serve `server` (a werkzeug `make_server` or any socketserver) from a daemon thread
    while the block runs, then stop it and close its socket."""
    # serve_forever looks for a shutdown request once per poll interval, 0.5 s by default:
    # every test that stopped a server used to wait half a second for it.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join(timeout=5)
        server.server_close()

"""Helpers for tests that need something outside Python (PostgreSQL, Chromium)."""

from __future__ import annotations

import os

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

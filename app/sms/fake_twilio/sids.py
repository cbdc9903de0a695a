"""Twilio-shaped SIDs for the fake's resources ("SM" + 32 hex digits, "BU...", "CA...")."""

from __future__ import annotations

import secrets


def new_sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)

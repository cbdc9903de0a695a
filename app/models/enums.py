"""Stored string values with the words people read for them beside them.

A status shows on several pages (inbox, job timeline, tech page); keeping its label next to
its value means every page says the same thing, and adding a value without a label fails at
import. The stored strings are the enum values, so the database is unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class LabelledStrEnum(StrEnum):
    """`NAME = "stored_value", "Label people read"`. Members are `str`s (compare, hash and
    store as their value); `.label` is the words."""

    label: str

    def __new__(cls, value: str, label: str):
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def label_for(cls, value: str | None) -> str:
        """The label of a stored value; an unknown value (an old row) reads as itself."""
        if value is None:
            return ""
        try:
            return cls(value).label
        except ValueError:
            return value.replace("_", " ").capitalize()

    @classmethod
    def labels(cls) -> dict[str, str]:
        """Value -> label, in declaration order (select choices)."""
        return {member.value: member.label for member in cls}

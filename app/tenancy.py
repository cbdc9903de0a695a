"""Company scoping for ids that come from a URL.

Every lookup of a row by an id the browser sent goes through `get_or_404`, so a row of
another company is indistinguishable from a row that does not exist.

Ids are PostgreSQL `integer` columns (signed 32 bits). An id beyond that range cannot name a
row, and handing it to the database is an error (PostgreSQL: "out of range for type
integer"; SQLite: an OverflowError past 2**63). So such an id is refused before any query:
in URLs by `IdConverter` (installed app-wide as the `int` converter: a 404), in forms and
query strings by `get_in_company` / `get_or_404` (a field error or a 404).
"""

from __future__ import annotations

from typing import TypeVar

from flask import abort
from flask_login import current_user
from werkzeug.routing import IntegerConverter

from app.extensions import db

T = TypeVar("T")

# The largest value of a PostgreSQL `integer` (every id column of the schema).
MAX_ID = 2**31 - 1


def is_valid_id(ident: object) -> bool:
    """True for an int a row id can be (1 .. MAX_ID)."""
    return isinstance(ident, int) and not isinstance(ident, bool) and 0 < ident <= MAX_ID


def parse_id(raw: str | None) -> int | None:
    """An id from text (a query string, a form, a callback's marker), or None for anything
    that cannot be one: "", "abc", "²" (a digit to str.isdigit, not to int), 30 digits."""
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > 10:
        return None
    ident = int(raw)
    return ident if is_valid_id(ident) else None


class IdConverter(IntegerConverter):
    """Flask's `int` converter limited to the id columns' range: `/jobs/3000000000` does not
    match any rule (404) instead of reaching the database."""

    def __init__(self, map, fixed_digits=0, min=None, max=MAX_ID, signed=False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def get_or_404(model: type[T], ident: int) -> T:
    row = get_in_company(model, ident, company_id=current_user.company_id)
    if row is None:
        abort(404)
    return row


def get_in_company(model: type[T], ident: int | None, *, company_id: int) -> T | None:
    """The row with this id if it belongs to the company; None otherwise (for an id that
    came in a form, where a miss is a field error rather than a 404)."""
    row = db.session.get(model, ident) if is_valid_id(ident) else None
    if row is None or row.company_id != company_id:  # type: ignore[attr-defined]
        return None
    return row

"""Company scoping for ids that come from a URL.

Every lookup of a row by an id the browser sent goes through `get_or_404`, so a row of
another company is indistinguishable from a row that does not exist.
"""

from __future__ import annotations

from typing import TypeVar

from flask import abort
from flask_login import current_user

from app.extensions import db

T = TypeVar("T")


def get_or_404(model: type[T], ident: int) -> T:
    row = get_in_company(model, ident, company_id=current_user.company_id)
    if row is None:
        abort(404)
    return row


def get_in_company(model: type[T], ident: int | None, *, company_id: int) -> T | None:
    """The row with this id if it belongs to the company; None otherwise (for an id that
    came in a form, where a miss is a field error rather than a 404)."""
    row = db.session.get(model, ident) if ident else None
    if row is None or row.company_id != company_id:  # type: ignore[attr-defined]
        return None
    return row

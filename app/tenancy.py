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
    row = db.session.get(model, ident)
    if row is None or row.company_id != current_user.company_id:  # type: ignore[attr-defined]
        abort(404)
    return row

"""Inserting a row that a concurrent request may be inserting too.

Webhook retries, double taps and two tabs all race to create the same row. The unique
constraint decides: the insert runs in a savepoint, and the loser reads the winner's row
instead of failing the whole request.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Insert, Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from app.extensions import db

T = TypeVar("T")


def insert_or_get(row: T, existing: Select[tuple[T]]) -> tuple[T, bool]:
    """Add `row`; if a unique constraint says it already exists, return the row `existing`
    selects instead. Returns (row, created)."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return db.session.scalars(existing).one(), False
    return row, True


def insert_once(row: object) -> bool:
    """Add `row` unless an equal one (by a unique constraint) is already stored.
    Returns whether this call stored it."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        return False
    return True


def insert_unless_present(
    connection: Connection, table: Table, values: dict[str, Any], *, unique_column: str
) -> bool:
    """INSERT ... ON CONFLICT (unique_column) DO NOTHING: one statement, no savepoint, for
    hot paths where a duplicate needs nothing read back. Returns whether a row was added.
    A prebuilt Core statement: the ORM's bulk-insert machinery cost more than the insert
    itself on the SMS webhook."""
    statement = _insert_ignoring_duplicates(connection.dialect.name, table, unique_column)
    return connection.execute(statement, values).rowcount == 1


@cache
def _insert_ignoring_duplicates(dialect: str, table: Table, unique_column: str) -> Insert:
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect]
    return insert(table).on_conflict_do_nothing(index_elements=[unique_column])

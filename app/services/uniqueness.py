"""Inserting a row that a concurrent request may be inserting too.

Webhook retries, double taps and two tabs all race to create the same row. The unique
constraint decides: the insert runs in a savepoint, and the loser reads the winner's row
instead of failing the whole request; or, on the SMS webhook's hot path, the insert says
ON CONFLICT DO NOTHING and needs no savepoint at all (`insert_unless_present`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Dialect, Engine, Select, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DisconnectionError, IntegrityError

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
    engine: Engine, table: Table, values: dict[str, Any], *, unique_column: str
) -> bool:
    """INSERT ... ON CONFLICT (unique_column) DO NOTHING, committed when this returns.
    Returns whether a row was added. When the database dropped the connection (a restart,
    a failover), the pool starts afresh and the insert is tried once more.

    For the SMS webhook, the busiest request the app serves: one statement in autocommit
    (atomic on its own; BEGIN and COMMIT would be two more round trips), handed straight
    to the driver. SQLAlchemy compiles it and supplies each column's conversion once per
    process; per call there is only the driver's execute. Through a SQLAlchemy Connection
    the same insert cost gunicorn 0.9 ms more CPU per request (bench/webhooks.py)."""
    insert = _driver_insert(engine.dialect, table, unique_column, tuple(values))
    parameters = insert.parameters(values)
    try:
        return _execute_autocommitted(engine, insert.sql, parameters) == 1
    except DisconnectionError:
        # A restart or failover drops every pooled connection, not only this one: start
        # the pool afresh (as SQLAlchemy does when a disconnect reaches a Connection).
        engine.dispose()
        return _execute_autocommitted(engine, insert.sql, parameters) == 1


def _execute_autocommitted(engine: Engine, sql: str, parameters: Any) -> int:
    """Run one statement on a pooled driver connection in autocommit; its row count."""
    connection = engine.raw_connection()
    try:
        engine.dialect.set_isolation_level(connection.dbapi_connection, "AUTOCOMMIT")
        try:
            cursor = connection.cursor()
            cursor.execute(sql, parameters)
            return cursor.rowcount
        finally:
            engine.dialect.reset_isolation_level(connection.dbapi_connection)
    except engine.dialect.loaded_dbapi.Error as error:
        if engine.dialect.is_disconnect(error, connection.dbapi_connection, None):
            connection.invalidate(error)
            raise DisconnectionError(str(error)) from error
        raise
    finally:
        connection.close()


@dataclass(frozen=True)
class _DriverInsert:
    sql: str
    names: tuple[str, ...]  # the bind parameters, in order when the driver is positional
    positional: bool
    processors: dict[str, Callable[[Any], Any]]

    def parameters(self, values: dict[str, Any]) -> dict[str, Any] | tuple[Any, ...]:
        converted = {name: values[name] for name in self.names}
        for name, processor in self.processors.items():
            converted[name] = processor(converted[name])
        return tuple(converted.values()) if self.positional else converted


@cache
def _driver_insert(
    dialect: Dialect, table: Table, unique_column: str, columns: tuple[str, ...]
) -> _DriverInsert:
    insert = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[dialect.name]
    statement = insert(table).on_conflict_do_nothing(index_elements=[unique_column])
    compiled = statement.compile(dialect=dialect, column_keys=list(columns))
    names = tuple(compiled.positiontup or compiled.binds)
    processors = {}
    for name in names:
        processor = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    return _DriverInsert(compiled.string, names, compiled.positional, processors)

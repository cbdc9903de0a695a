"""Column types and SQL pieces shared by the models and the queries."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, hands back aware UTC.

    SQLite keeps no time zone, so without this a value read back would compare unequal to
    the aware value written. Naive input is refused: every time in the app is aware.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


# A list kept in the row (a customer's tags, other phones): JSON, JSONB on PostgreSQL so it
# can be indexed and queried by item (`@>`). Assign a new list to change one: the column does
# not see a list changed in place.
JSONList = sa.JSON().with_variant(JSONB(), "postgresql")


LIKE_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` anywhere, its `%`, `_` and `\\` taken literally
    (use with `escape=LIKE_ESCAPE`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def ilike_contains(column: sa.ColumnElement[str], text: str) -> sa.ColumnElement[bool]:
    """`column` contains `text`, case-blind, with LIKE's wildcards in `text` escaped."""
    return column.ilike(contains_pattern(text), escape=LIKE_ESCAPE)


def utcnow() -> datetime:
    return datetime.now(UTC)


def render_migration_item(type_: str, obj: object, autogen_context) -> str | bool:
    """Alembic hook: write UTCDateTime as a plain `sa.DateTime()` in migrations, so the
    migration files never import application code."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False

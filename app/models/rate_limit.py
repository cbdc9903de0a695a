"""Rate-limit counters kept in the application's database, shared by every process.

Flask-Limiter's default storage (`memory://`) counts per process: with several gunicorn
workers a client gets the limit once per worker. `RATELIMIT_STORAGE_URI=database://` keeps
the counters in this table instead (fixed windows: one row per limit and client, reset when
its window has passed), so every web process of an install shares them without another
service to run. Redis (`redis://...`, which needs the `redis` package) is the faster choice
for a large install; see docs/production.md.
"""

from __future__ import annotations

import itertools
import time
from datetime import datetime, timedelta

import sqlalchemy as sa
import sqlalchemy.orm as so
from limits.storage import Storage
from sqlalchemy.dialects import postgresql, sqlite

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

# Every this many increments a process also deletes counters whose window has passed.
SWEEP_EVERY = 500


class RateLimitCounter(db.Model):
    __tablename__ = "rate_limit_counters"

    key: so.Mapped[str] = so.mapped_column(sa.String(255), primary_key=True)
    count: so.Mapped[int] = so.mapped_column(default=0)
    expires_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), index=True)


class DatabaseStorage(Storage):
    """A `limits` storage over `rate_limit_counters`, registered as `database://`.

    Each call runs in its own short transaction on a connection of its own, so a count is
    kept even when the request that made it rolls back, and never waits for the request's
    transaction."""

    STORAGE_SCHEME = ["database"]

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options):
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self._increments = itertools.count(1)

    @property
    def base_exceptions(self) -> type[Exception]:
        return sa.exc.SQLAlchemyError

    @staticmethod
    def _engine() -> sa.Engine:
        return db.engine

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = utcnow()
        table = RateLimitCounter.__table__
        dialect = postgresql if self._engine().dialect.name == "postgresql" else sqlite
        values = {"key": key, "count": amount, "expires_at": now + timedelta(seconds=expiry)}
        insert = dialect.insert(table).values(**values)
        expired = table.c.expires_at <= now
        stmt = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                # A window that has passed starts again from this hit.
                "count": sa.case((expired, insert.excluded.count), else_=table.c.count + amount),
                "expires_at": sa.case(
                    (expired, insert.excluded.expires_at), else_=table.c.expires_at
                ),
            },
        ).returning(table.c.count)
        with self._engine().begin() as conn:
            count = conn.execute(stmt).scalar_one()
            if next(self._increments) % SWEEP_EVERY == 0:
                conn.execute(sa.delete(table).where(table.c.expires_at <= now))
        return count

    def _row(self, key: str):
        table = RateLimitCounter.__table__
        with self._engine().connect() as conn:
            return conn.execute(
                sa.select(table.c.count, table.c.expires_at).where(
                    table.c.key == key, table.c.expires_at > utcnow()
                )
            ).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.count if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        if row is None:
            return time.time()
        return row.expires_at.timestamp()

    def check(self) -> bool:
        try:
            with self._engine().connect() as conn:
                conn.execute(sa.select(1))
        except sa.exc.SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        with self._engine().begin() as conn:
            return conn.execute(sa.delete(RateLimitCounter.__table__)).rowcount

    def clear(self, key: str) -> None:
        table = RateLimitCounter.__table__
        with self._engine().begin() as conn:
            conn.execute(sa.delete(table).where(table.c.key == key))

"""Rows a periodic task works through (a picture or a voicemail to fetch from Twilio):
each is claimed with a lease before the slow part, and retried with a doubling wait.

Used by app/services/message_media.py and app/services/voicemail.py. The rows have a
`state` and a `next_attempt_at`; a row is due in its waiting state once that time passed.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from app.extensions import db


def claim(model: type[Any], row_id: int, *, state: str, now: datetime, lease: timedelta) -> bool:
    """Take one due row: its next attempt moves `lease` ahead, so no other worker takes it
    meanwhile, and a worker that dies gives it back when the lease ends. Conditional: on
    SQLite (no SKIP LOCKED) two workers may have read the same id, and the second one's
    update then finds none (False). Does not commit."""
    result = db.session.execute(
        sa.update(model)
        .where(model.id == row_id, model.state == state, model.next_attempt_at <= now)
        .values(next_attempt_at=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)


def backoff(*, attempts: int, first: timedelta, most: timedelta) -> timedelta:
    """The wait after the `attempts`-th failed try: `first`, then doubling, at most `most`."""
    return min(first * 2 ** (attempts - 1), most)

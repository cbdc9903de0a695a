"""What Twilio Lookup said about a phone number's line (issue 19: landlines get no texts).

One row per number, whoever asked: a line's type belongs to the number, not to a company,
and each Lookup is billed, so a number is looked up at most once per `FRESH_FOR`
(app/services/line_types.py).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.types import UTCDateTime


class LineTypeLookup(db.Model):
    __tablename__ = "line_type_lookups"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    # E.164, as it is stored everywhere else.
    phone: so.Mapped[str] = so.mapped_column(sa.String(20), unique=True)
    # Twilio's word: mobile, landline, fixedVoip, nonFixedVoip, tollFree, personal, premium,
    # sharedCost, uan, voicemail, pager, unknown. None: Twilio had no answer for the line
    # (its `error_code` says why) or the number is not valid.
    line_type: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    carrier_name: so.Mapped[str | None] = so.mapped_column(sa.String(120))
    # Twilio's `valid`: False for a number no carrier can hold (Lookup's 404 counts too).
    valid: so.Mapped[bool] = so.mapped_column(default=True)
    error_code: so.Mapped[int | None] = so.mapped_column()
    looked_up_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime())

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from app.models.user import User


class SenderIdentity:
    """Who an automated text says it is from (rule 2 of the seed)."""

    TECH = "tech"  # the tech's name and profile photo
    COMPANY = "company"  # the company name only
    ALL = (TECH, COMPANY)


def day_bounds_in(tz: tzinfo, day: date) -> tuple[datetime, datetime]:
    """[start, end) of the calendar day `day` in `tz`, as aware UTC datetimes.

    Built from local midnights and returned in UTC, so that `end - start` is the real length
    of the day (23 or 25 hours on DST days; Python subtracts wall-clock times when both
    share a tzinfo).
    """
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


class Company(db.Model):
    __tablename__ = "companies"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    # The business phone calls to the custom number are forwarded to (E.164).
    business_phone: so.Mapped[str | None] = so.mapped_column(sa.String(20))
    time_zone: so.Mapped[str] = so.mapped_column(sa.String(64), default="America/Chicago")
    address: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    email: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    website: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    logo_filename: so.Mapped[str | None] = so.mapped_column(sa.String(255))
    sender_identity: so.Mapped[str] = so.mapped_column(
        sa.String(16), default=SenderIdentity.TECH, server_default=SenderIdentity.TECH
    )
    # The Job finished text carries the link of the job's invoice when one has been sent.
    finished_text_invoice_link: so.Mapped[bool] = so.mapped_column(
        default=False, server_default=sa.false()
    )
    # Rule 4: inbound texts outside an in-progress job go to the Point of Contact.
    poc_user_id: so.Mapped[int | None] = so.mapped_column(
        sa.ForeignKey("users.id", use_alter=True, ondelete="SET NULL")
    )
    # A text routed to a tech and unread this many minutes is shown to the POC chain too.
    escalation_minutes: so.Mapped[int | None] = so.mapped_column()
    # Quiet hours: texts nobody is waiting for (reminders, follow-ups) go out only between
    # these minutes of the day, in the customer's time zone (app/services/quiet_hours.py).
    texting_window_start: so.Mapped[int] = so.mapped_column(default=8 * 60, server_default="480")
    texting_window_end: so.Mapped[int] = so.mapped_column(default=20 * 60, server_default="1200")
    # Privacy: once a customer's picture is kept here, delete Twilio's copy of it.
    delete_media_at_twilio: so.Mapped[bool] = so.mapped_column(
        default=True, server_default=sa.true()
    )
    created_at: so.Mapped[datetime] = so.mapped_column(UTCDateTime(), default=utcnow)

    poc_user: so.Mapped[User | None] = so.relationship(foreign_keys=[poc_user_id])

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def today(self, now: datetime | None = None) -> date:
        """The calendar day it is at the company (at `now`, default the present)."""
        return (now or utcnow()).astimezone(self.tz).date()

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """[start, end) of `day` at the company, as aware UTC datetimes (DST-safe)."""
        return day_bounds_in(self.tz, day)

    def __repr__(self) -> str:
        return f"<Company {self.id} {self.name!r}>"

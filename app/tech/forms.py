"""Forms of the tech page. Each also works as a plain HTML form POST (no JS)."""

from __future__ import annotations

import secrets

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import AnyOf, DataRequired, Length, NumberRange, Optional, ValidationError

from app.forms import ReplyPhotos
from app.models import JobStatus

ETA_CHOICES = [("15", "15 min"), ("30", "30 min"), ("45", "45 min"), ("60", "1 hour")]
CUSTOM_ETA = "custom"
# Twilio refuses bodies longer than 1600 characters.
MAX_REPLY_LENGTH = 1600
STALE_BOX = "This reply box is out of date. Copy your text, reload the page and send again."
TECH_STATUSES = (JobStatus.ON_MY_WAY, JobStatus.STARTED, JobStatus.FINISHED)


class StatusForm(FlaskForm):
    """On My Way (with an ETA), Start, or Finished (confirmed)."""

    status = HiddenField(validators=[AnyOf(TECH_STATUSES, message="Unknown button.")])
    # Radio buttons in the template (ETA_CHOICES and "Other"); checked in validate_eta.
    eta = StringField("How far away are you?")
    eta_custom = IntegerField(
        "Minutes",
        validators=[
            Optional(),
            NumberRange(min=1, max=24 * 60, message="Type minutes between 1 and 1440."),
        ],
    )
    # Finished, and Start without On My Way, only ask; the confirm step's "yes" does it.
    confirm = HiddenField()
    # "job": open the job page afterwards (the On My Way sheet of My day), even for htmx.
    then = HiddenField(validators=[Optional(), AnyOf(("job",), message="Unknown page.")])

    def validate_eta(self, field) -> None:
        if self.status.data != JobStatus.ON_MY_WAY:
            return
        choice = field.data or ""
        if choice in dict(ETA_CHOICES):
            return
        if choice in ("", CUSTOM_ETA) and self.eta_custom.data:
            return
        if choice == CUSTOM_ETA:
            raise ValidationError("Type how many minutes away you are.")
        if choice:
            raise ValidationError("Pick one of the times.")
        raise ValidationError("Pick how far away you are, so the customer knows when.")

    @property
    def eta_minutes(self) -> int | None:
        if self.status.data != JobStatus.ON_MY_WAY:
            return None
        if self.eta.data in dict(ETA_CHOICES):
            return int(self.eta.data)
        return self.eta_custom.data

    @property
    def confirmed(self) -> bool:
        return self.confirm.data == "yes"


def new_reply_key() -> str:
    return secrets.token_urlsafe(12)


class ReplyForm(ReplyPhotos, FlaskForm):
    body = TextAreaField(
        "Reply",
        validators=[
            Length(
                max=MAX_REPLY_LENGTH,
                message=f"A text can be at most {MAX_REPLY_LENGTH} characters.",
            ),
        ],
    )
    # One key per reply box: a retry of the same reply (double tap, network drop after the
    # server got it) queues nothing new. A fresh box gets a fresh key.
    key = HiddenField(
        validators=[
            DataRequired(message=STALE_BOX),
            Length(min=8, max=40, message=STALE_BOX),
        ]
    )

    def validate_body(self, field) -> None:
        if not (field.data or "").strip() and not self.has_photos():
            raise ValidationError("Type a reply first.")

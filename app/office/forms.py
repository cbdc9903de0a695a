"""Office forms for jobs and customers.

Times are typed in the company's time zone (a date and two clock times, as people think
of a visit) and converted to UTC here, before any service sees them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from app.models import Customer, User
from app.services.errors import DomainError

# Service error fields that the forms call by another name.
FIELD_ALIASES = {"scheduled_start": "start_time", "scheduled_end": "end_time"}


def show_domain_error(form: FlaskForm, error: DomainError) -> None:
    """Put a service's refusal next to the field it is about (or above the form)."""
    name = FIELD_ALIASES.get(error.field or "", error.field)
    field = getattr(form, name, None) if name else None
    if field is not None and hasattr(field, "errors"):
        # WTForms keeps errors as a tuple until validation ran on the field.
        field.errors = [*field.errors, error.message]
    else:
        form.form_errors.append(error.message)


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ScheduleForm(FlaskForm):
    """When the visit is: one local day, a start and an end time."""

    # InputRequired, not DataRequired: "13:6o" should say "not a valid time", not "enter one".
    date = DateField("Date", validators=[InputRequired("Pick the day of the visit.")])
    start_time = TimeField("Start", validators=[InputRequired("Enter a start time.")])
    end_time = TimeField("End", validators=[InputRequired("Enter an end time.")])

    def validate_end_time(self, field: TimeField) -> None:
        if self.start_time.data and field.data and field.data <= self.start_time.data:
            raise ValidationError("The end must be after the start.")

    def window(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return (
            local_to_utc(self.date.data, self.start_time.data, tz),
            local_to_utc(self.date.data, self.end_time.data, tz),
        )

    def fill_window(self, start: datetime, end: datetime, tz: ZoneInfo) -> None:
        local_start, local_end = start.astimezone(tz), end.astimezone(tz)
        self.date.data = local_start.date()
        self.start_time.data = local_start.time().replace(second=0, microsecond=0)
        self.end_time.data = local_end.time().replace(second=0, microsecond=0)

    def fill_default_window(self, now: datetime, tz: ZoneInfo) -> None:
        # Next whole hour, two hours long: the most common booking, easy to adjust.
        local = (now.astimezone(tz) + timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
        if local.hour >= 22 or local.hour < 7:
            day = local.date() + timedelta(days=1 if local.hour >= 22 else 0)
            local = datetime.combine(day, time(9), tzinfo=tz)
        self.fill_window(local, local + timedelta(hours=2), tz)


class JobDetailsForm(ScheduleForm):
    description = StringField(
        "What's the job?",
        validators=[DataRequired("Describe the work."), Length(max=255)],
        render_kw={"placeholder": "e.g. Replace kitchen faucet"},
    )
    address = StringField(
        "Address",
        validators=[Optional(), Length(max=255)],
        description="Leave empty to use the customer's address.",
    )
    tech_ids = MultiCheckboxField("Technicians", coerce=int, validators=[Optional()])
    notes = TextAreaField(
        "Notes for the team",
        validators=[Optional(), Length(max=5000)],
        description="Gate codes, pets, parts to bring. Not sent to the customer.",
    )

    def set_tech_choices(self, users: list[User]) -> None:
        self.tech_ids.choices = [
            (u.id, u.name if u.is_tech else f"{u.name} ({u.role_label})") for u in users
        ]

    def chosen_techs(self, users: list[User]) -> list[User]:
        chosen = set(self.tech_ids.data or [])
        return [u for u in users if u.id in chosen]


class JobCreateForm(JobDetailsForm):
    customer_id = SelectField("Customer", coerce=int, validators=[DataRequired("Pick a customer.")])

    def set_customer_choices(self, customers: list[Customer]) -> None:
        self.customer_id.choices = [(0, "Choose a customer…")] + [(c.id, c.name) for c in customers]


class AssignTechForm(FlaskForm):
    tech_id = SelectField("Add a technician", coerce=int, validators=[DataRequired()])


class CustomerForm(FlaskForm):
    name = StringField(
        "Name", validators=[DataRequired("Enter the customer's name."), Length(max=120)]
    )
    mobile_phone = TelField(
        "Mobile phone",
        validators=[DataRequired("Enter a mobile number: job texts go to it.")],
        description="A mobile number that can receive texts, e.g. (512) 555-0100.",
        render_kw={"autocomplete": "tel", "inputmode": "tel"},
    )
    email = EmailField(
        "Email",
        validators=[Optional(), Email("That doesn't look like an email address."), Length(max=255)],
    )
    address = StringField("Address", validators=[Optional(), Length(max=255)])
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])

"""Office forms for jobs and customers, and the customer picker's field.

Times are typed in the company's time zone (a date and two clock times, as people think
of a visit) and converted to UTC here, before any service sees them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Field,
    HiddenField,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.utils import unset_value
from wtforms.validators import (
    DataRequired,
    Email,
    InputRequired,
    Length,
    Optional,
    StopValidation,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, Input, ListWidget

from app.forms import show_domain_error  # noqa: F401  (importable from here too)
from app.models import Company, ConsentSource, Customer, User
from app.services.customers import search_customers
from app.tenancy import get_in_company


def local_to_utc(day: date, at: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


# --- The customer picker (office/_customer_picker.html) ----------------------------------


class PickedCustomerInput(Input):
    # Not a HiddenInput: Flask-WTF's hidden_tag() renders every HiddenInput field, and the
    # picker's template places this one itself.
    input_type = "hidden"


class CustomerPickerField(Field):
    """The customer a form is for: a customer id of `company` in a hidden input, filled by
    the picker. Without JavaScript the picker's own buttons post the whole form instead:
    `<name>-find` (list the matches for the typed `<name>-q`), `<name>-pick` (one of those
    matches) and `<name>-change`; `action` says which, and PicksCustomer.validate() then
    re-renders the form rather than saving it, so nothing typed elsewhere is lost."""

    widget = PickedCustomerInput()

    def __init__(self, label=None, validators=None, **kwargs) -> None:
        super().__init__(label, validators, **kwargs)
        self.company: Company | None = None
        self.query_text = ""
        self.action: str | None = None
        self._loaded: tuple[int | None, Customer | None] | None = None

    def process(self, formdata, data=unset_value, extra_filters=None) -> None:
        super().process(formdata, data, extra_filters)
        if formdata is None:
            return
        self.query_text = " ".join(formdata.get(f"{self.name}-q", "").split())[:100]
        picked = _int_or_none(formdata.get(f"{self.name}-pick"))
        if picked:
            self.data, self.action = picked, "pick"
        elif f"{self.name}-change" in formdata:
            self.data, self.action = None, "change"
        elif f"{self.name}-find" in formdata:
            self.action = "find"

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = _int_or_none(valuelist[0] if valuelist else None)

    def _value(self) -> str:
        return str(self.customer.id) if self.customer else ""

    @property
    def customer(self) -> Customer | None:
        """The chosen customer if it is one of the company's (looked up once per id)."""
        if self._loaded is None or self._loaded[0] != self.data:
            assert self.company is not None, "PicksCustomer sets the company"
            found = get_in_company(Customer, self.data, company_id=self.company.id)
            self._loaded = (self.data, found)
        return self._loaded[1]

    def preselect(self, customer: Customer) -> None:
        self.data = customer.id
        self._loaded = (customer.id, customer)

    @property
    def shows_matches(self) -> bool:
        """List matches in the page (no JavaScript): after Find, or after a submit with text
        typed but no customer picked (Enter in the box submits the form)."""
        if self.customer is not None:
            return False
        return self.action == "find" or bool(self.errors and self.query_text)

    def matches(self) -> list[Customer]:
        assert self.company is not None
        return search_customers(company=self.company, q=self.query_text)

    def pre_validate(self, form) -> None:
        if not self.data:
            raise StopValidation("Pick a customer.")
        if self.customer is None:
            raise StopValidation("That customer was not found.")


class PicksCustomer:
    """A form for one customer of `company`, chosen with the customer picker. The
    picker's no-JavaScript buttons (Find, a match, Change) only re-render the form:
    validate() is False for them without marking any field wrong."""

    customer_id = CustomerPickerField("Customer")

    def __init__(self, *args, company: Company, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.customer_id.company = company

    def validate(self, extra_validators=None) -> bool:
        if self.customer_id.action:
            return False
        return super().validate(extra_validators)  # type: ignore[misc]


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
    notify_customer = BooleanField(
        "Notify the customer",
        default=True,
        description="Text them the booking, or what changed (one text for changes made "
        "within 2 minutes).",
    )
    # Says the box was on the page: a post without it (an older page, a script) notifies.
    notify_shown = HiddenField(default="1")
    notes = TextAreaField(
        "Notes for the team",
        validators=[Optional(), Length(max=5000)],
        description="Gate codes, pets, parts to bring. Not sent to the customer.",
    )

    @property
    def wants_notify(self) -> bool:
        return bool(self.notify_customer.data) or self.notify_shown.data != "1"

    def set_tech_choices(self, users: list[User]) -> None:
        self.tech_ids.choices = [
            (u.id, u.name if u.is_tech else f"{u.name} ({u.role_label})") for u in users
        ]

    def chosen_techs(self, users: list[User]) -> list[User]:
        chosen = set(self.tech_ids.data or [])
        return [u for u in users if u.id in chosen]


class TextConsentFields:
    """The consent script's checkbox (office/_consent_fields.html shows the script)."""

    text_consent = BooleanField("I read the script and the customer said yes")
    consent_source = SelectField(
        "How they agreed",
        choices=[
            SelectChoice(value, ConsentSource.LABELS[value])
            for value in ConsentSource.OFFICE_CHOICES
        ],
        default=ConsentSource.VERBAL,
    )


class JobCreateForm(PicksCustomer, TextConsentFields, JobDetailsForm):
    pass


class AssignTechForm(FlaskForm):
    tech_id = SelectField("Add a technician", coerce=int, validators=[DataRequired()])


class CustomerForm(TextConsentFields, FlaskForm):
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
    company_name = StringField("Company name", validators=[Optional(), Length(max=120)])
    # Lists typed comma-separated; app.services.customers checks them (field errors).
    other_phones = StringField(
        "Other phones",
        validators=[Optional(), Length(max=500)],
        description="Home, work: separate numbers with commas. These are never texted.",
        render_kw={"autocomplete": "off", "inputmode": "tel"},
    )
    address = StringField("Address", validators=[Optional(), Length(max=255)])
    tags = StringField(
        "Tags",
        validators=[Optional(), Length(max=1000)],
        description=(
            "Separate with commas, e.g. VIP, Maintenance plan "
            "(up to 20, each at most 40 characters)."
        ),
        render_kw={"autocomplete": "off"},
    )
    notes = TextAreaField("Notes", validators=[Optional(), Length(max=5000)])

"""Office forms for estimates and invoices.

Money, quantities, tax rates and discounts are typed as people write them ("1,150.50",
"1.5", "8.25", "10%"). Their fields turn the text into integer units (`field.parsed()`)
with the parse_* rules of app/services/billing/totals.py; a refusal is a `DomainError`
that names the field, shown like any service's refusal.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from app.models import PaymentMethod
from app.office.forms import PicksCustomer
from app.services.billing.totals import (
    parse_discount,
    parse_money,
    parse_quantity,
    parse_tax_rate,
)


class MoneyField(StringField):
    """Dollars and cents as typed; `parsed()` is integer cents."""

    def __init__(self, label: str, *args, error_label: str = "Amount", **kwargs) -> None:
        super().__init__(label, *args, **kwargs)
        self.error_label = error_label

    def parsed(self) -> int:
        return parse_money(self.data, field=self.name, label=self.error_label)


class QuantityField(StringField):
    """A quantity as typed ("1.5"); `parsed()` is thousandths."""

    def parsed(self) -> int:
        return parse_quantity(self.data, field=self.name)


class TaxRateField(StringField):
    """A percent as typed ("8.875"); `parsed()` is thousandths of a percent."""

    def parsed(self) -> int:
        return parse_tax_rate(self.data, field=self.name)


class DiscountField(StringField):
    """ "10%" or "25.00"; `parsed()` is (DiscountKind, basis points or cents)."""

    def parsed(self) -> tuple[str, int]:
        return parse_discount(self.data, field=self.name)


class NewDocumentForm(PicksCustomer, FlaskForm):
    # Choices are the chosen customer's jobs (app/office/billing.py); the route checks the
    # job itself, to say which customer's jobs may be chosen.
    job_id = SelectField("Job (optional)", coerce=int, default=0, validate_choice=False)
    title = StringField(
        "Title",
        validators=[Optional(), Length(max=120)],
        description="What the work is, e.g. “Water heater replacement”.",
    )


class _DetailsForm(FlaskForm):
    title = StringField("Title", validators=[Optional(), Length(max=120)])
    tax_rate = TaxRateField(
        "Tax rate (%)", validators=[Optional()], description="On taxable items, e.g. 8.25."
    )
    discount = DiscountField(
        "Discount",
        validators=[Optional(), Length(max=20)],
        description="An amount like 25 or a percent like 10%. Taken off before tax.",
    )
    notes = TextAreaField("Message to the customer", validators=[Optional(), Length(max=5000)])
    terms = TextAreaField("Terms", validators=[Optional(), Length(max=10000)])
    internal_notes = TextAreaField(
        "Internal notes",
        validators=[Optional(), Length(max=5000)],
        description="Only your team sees these.",
    )


class EstimateDetailsForm(_DetailsForm):
    valid_until = DateField("Valid until", validators=[Optional()])


class InvoiceDetailsForm(_DetailsForm):
    due_on = DateField("Due date", validators=[Optional()])
    payment_instructions = TextAreaField(
        "Payment instructions",
        validators=[Optional(), Length(max=5000)],
        description="How to pay: checks to…, Zelle to…, card by phone…",
    )


class LineItemForm(FlaskForm):
    description = StringField("Description", validators=[DataRequired(), Length(max=500)])
    quantity = QuantityField("Qty", default="1", validators=[DataRequired()])
    unit_price = MoneyField("Unit price", validators=[DataRequired()], error_label="Unit price")
    taxable = BooleanField("Taxable", default=True)


class OptionForm(FlaskForm):
    title = StringField("Option name", validators=[Optional(), Length(max=120)])


class SendForm(FlaskForm):
    send_key = HiddenField()


class PaymentForm(FlaskForm):
    amount = MoneyField("Amount", validators=[DataRequired()])
    method = SelectField(
        "Method",
        choices=[
            SelectChoice(value, PaymentMethod.LABELS[value]) for value in PaymentMethod.MANUAL
        ],
        default=PaymentMethod.CHECK,
    )
    received_on = DateField("Received on", validators=[InputRequired()])
    note = StringField(
        "Note", validators=[Optional(), Length(max=255)], description="e.g. check number"
    )


class VoidForm(FlaskForm):
    reason = StringField("Reason", validators=[Optional(), Length(max=500)])


class ConvertJobForm(FlaskForm):
    day = DateField("Date", validators=[InputRequired()])
    start_time = TimeField("Start", validators=[InputRequired()])
    end_time = TimeField("End", validators=[InputRequired()])


class BillingSettingsForm(FlaskForm):
    payment_instructions = TextAreaField(
        "Payment instructions",
        validators=[Optional(), Length(max=5000)],
        description="Printed on every new invoice.",
    )
    estimate_terms = TextAreaField("Estimate terms", validators=[Optional(), Length(max=10000)])
    invoice_terms = TextAreaField("Invoice terms", validators=[Optional(), Length(max=10000)])
    default_tax_rate = TaxRateField("Default tax rate (%)", validators=[Optional()])
    invoice_due_days = StringField("Invoices due after (days)", default="14")
    estimate_valid_days = StringField("Estimates valid for (days)", default="30")

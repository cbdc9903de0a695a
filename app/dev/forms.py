"""Forms of the phone simulator."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional


class PickPhoneForm(FlaskForm):
    """Any number typed by hand (GET, so no CSRF token)."""

    class Meta:
        csrf = False

    number = StringField("Or type any number", validators=[Optional(), Length(max=32)])


class PhoneTextForm(FlaskForm):
    phone = HiddenField(validators=[DataRequired()])
    body = StringField("Text message", validators=[Optional(), Length(max=1600)])
    photo = BooleanField("Attach a photo")
    # Any picture or file the phone sends (MMS), besides the sample photo.
    attachment = FileField("Or send a picture or file from this phone")


class PhoneCallForm(FlaskForm):
    phone = HiddenField(validators=[DataRequired()])
    # What happens at the business phone (the fake Twilio's switch for the <Dial>).
    outcome = SelectField(
        "When the business phone rings",
        choices=[
            SelectChoice("no-answer", "Nobody answers"),
            SelectChoice("answer", "Someone answers"),
            SelectChoice("busy", "The line is busy"),
            SelectChoice("failed", "The call can't get through"),
        ],
        default="no-answer",
    )
    voicemail = TextAreaField(
        "After the beep the caller says",
        validators=[Optional(), Length(max=1000)],
        description="Leave empty to hang up without a message.",
    )
    press_1 = BooleanField("Press 1 at the after-hours menu (on-call phone)")
    silence = BooleanField("Record silence instead of a tone")

"""Forms of the phone simulator."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, StringField
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

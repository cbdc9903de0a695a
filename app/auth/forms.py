from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from app.forms import show_domain_error  # noqa: F401  (importable from here too)
from app.services.accounts import MIN_PASSWORD_LENGTH
from app.services.company_profile import time_zone_choices

PASSWORD_HELP = f"At least {MIN_PASSWORD_LENGTH} characters."


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired()])
    remember = BooleanField("Keep me logged in on this device")


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[
            DataRequired(message="Enter your email address."),
            Email(message="Enter a valid email address."),
            Length(max=255),
        ],
        description="The address you log in with.",
        render_kw={"autocomplete": "email"},
    )


def _new_password_fields(label: str):
    password = PasswordField(
        label,
        validators=[
            DataRequired(message="Choose a password."),
            Length(min=MIN_PASSWORD_LENGTH, max=200, message=PASSWORD_HELP),
        ],
        description=PASSWORD_HELP,
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the new password",
        validators=[
            DataRequired(message="Type the password again."),
            EqualTo("password", message="The two passwords don't match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class ResetPasswordForm(FlaskForm):
    password, confirm = _new_password_fields("New password")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password",
        validators=[DataRequired(message="Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    password, confirm = _new_password_fields("New password")


class SignupForm(FlaskForm):
    company_name = StringField(
        "Company name",
        validators=[DataRequired(message="Enter your company's name."), Length(max=120)],
        render_kw={"autocomplete": "organization"},
    )
    name = StringField(
        "Your name",
        validators=[DataRequired(message="Enter your name."), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    email = EmailField(
        "Email",
        validators=[
            DataRequired(message="Enter your email address."),
            Email(message="Enter a valid email address."),
            Length(max=255),
        ],
        description="You log in with this.",
        render_kw={"autocomplete": "email"},
    )
    password = PasswordField(
        "Password",
        validators=[
            DataRequired(message="Choose a password."),
            Length(min=MIN_PASSWORD_LENGTH, max=200, message=PASSWORD_HELP),
        ],
        description=PASSWORD_HELP,
        render_kw={"autocomplete": "new-password"},
    )
    business_phone = TelField(
        "Business phone (optional)",
        validators=[Optional(), Length(max=40)],
        description="Calls to your custom texting number are forwarded here.",
        render_kw={"autocomplete": "tel"},
    )
    time_zone = SelectField("Time zone", default="America/Chicago")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.time_zone.choices = list(time_zone_choices())


class AcceptInvitationForm(FlaskForm):
    name = StringField(
        "Your name",
        validators=[DataRequired(message="Enter your name."), Length(max=120)],
        render_kw={"autocomplete": "name"},
    )
    password = PasswordField(
        "Choose a password",
        validators=[
            DataRequired(message="Choose a password."),
            Length(min=MIN_PASSWORD_LENGTH, max=200, message=PASSWORD_HELP),
        ],
        description=PASSWORD_HELP,
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat the password",
        validators=[
            DataRequired(message="Type the password again."),
            EqualTo("password", message="The two passwords don't match."),
        ],
        render_kw={"autocomplete": "new-password"},
    )

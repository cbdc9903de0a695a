"""Office pages: the company profile (owner/admin)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, SelectField, StringField, TelField
from wtforms.validators import DataRequired, Email, Length, Optional

from app.actions import service_call
from app.auth.access import manager_required
from app.office import bp
from app.request_limits import accepts_upload
from app.services.company_profile import (
    MAX_LOGO_BYTES,
    delete_logo_file,
    remove_company_logo,
    store_company_logo,
    time_zone_choices,
    update_company_profile,
)
from app.services.message_media import set_media_privacy
from app.services.phones import format_phone


class CompanyProfileForm(FlaskForm):
    name = StringField(
        "Company name",
        validators=[DataRequired(message="Enter the company name."), Length(max=120)],
    )
    business_phone = TelField(
        "Business phone",
        validators=[Optional(), Length(max=40)],
        description="Calls to your custom texting number are forwarded to this phone.",
    )
    time_zone = SelectField("Time zone", description="Job times and texts use this time zone.")
    address = StringField("Address", validators=[Optional(), Length(max=255)])
    email = EmailField(
        "Email",
        validators=[Optional(), Email(message="Enter a valid email address."), Length(max=255)],
        description="Shown to customers on estimates and invoices.",
    )
    website = StringField(
        "Website", validators=[Optional(), Length(max=255)], description="Like example.com"
    )
    logo = FileField(
        "Upload a logo",
        description="JPEG, PNG or WebP, up to 2 MB. Shown on estimates and invoices.",
        render_kw={"accept": "image/png,image/jpeg,image/webp"},
    )
    remove_logo = BooleanField("Remove the current logo")
    delete_media_at_twilio = BooleanField(
        "Delete customers' pictures at Twilio once they are kept here",
        description="Pictures customers text you are copied into ProSMS; with this on, "
        "Twilio's copy is then deleted, so they are stored in one place only.",
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.time_zone.choices = list(time_zone_choices())


@bp.route("/settings/company", methods=["GET", "POST"])
@accepts_upload(MAX_LOGO_BYTES)
@manager_required
def company_profile():
    company = current_user.company
    form = CompanyProfileForm(obj=company)
    if not form.is_submitted():
        form.business_phone.data = format_phone(company.business_phone)
    if form.validate_on_submit():
        upload_folder = current_app.config["UPLOAD_FOLDER"]
        old_logo = None
        with service_call(form) as call:
            update_company_profile(
                company=company,
                name=form.name.data,
                time_zone=form.time_zone.data,
                business_phone=form.business_phone.data,
                address=form.address.data,
                email=form.email.data,
                website=form.website.data,
            )
            set_media_privacy(
                company=company,
                actor=current_user,
                delete_at_twilio=form.delete_media_at_twilio.data,
            )
            upload = form.logo.data
            if upload and getattr(upload, "filename", ""):
                old_logo = store_company_logo(
                    company=company, data=upload.read(), upload_folder=upload_folder
                )
            elif form.remove_logo.data:
                old_logo = remove_company_logo(company=company)
        if call.ok:
            # Only now is nothing pointing at the old file any more.
            delete_logo_file(upload_folder, old_logo)
            flash("Company profile saved.", "success")
            return redirect(url_for("office.company_profile"))
    return render_template(
        "office/company.html", form=form, company=company
    ), 400 if form.errors else 200

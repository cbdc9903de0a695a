"""/me: any user edits their name, mobile phone and profile photo.

Owners and admins can also set a teammate's photo here (/me?user_id=<id>), e.g. for a
tech who never logs in from a computer; only the photo, not the person's name or phone.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TelField
from wtforms.validators import Length, Optional

from app.actions import service_call
from app.auth import bp
from app.auth.access import any_role_required
from app.auth.forms import ChangePasswordForm
from app.auth.push_settings import push_settings
from app.extensions import db
from app.models import User, utcnow
from app.request_limits import accepts_upload
from app.services.line_types import user_mobile_warning
from app.services.photos import MAX_UPLOAD_BYTES, store_profile_photo
from app.services.profiles import can_edit_photo, remove_profile_photo, update_profile
from app.services.routing import set_forwarding
from app.services.sessions import open_session_count
from app.tenancy import get_or_404


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[Length(max=120)])
    mobile_phone = TelField(
        "Mobile phone",
        validators=[Optional(), Length(max=30)],
        description="Your own mobile, for copies of texts routed to you (if you turn that on).",
    )


class ForwardingForm(FlaskForm):
    forward_texts = BooleanField(
        "Text me a copy of each customer text routed to me",
        description="Each copy comes with a link to the conversation. Answer the customer "
        "from that link: a reply to the copy itself comes from your own number and can't "
        "reach them.",
    )


class PhotoForm(FlaskForm):
    photo = FileField(
        "Profile photo",
        description=f"JPEG, PNG or WebP, up to {MAX_UPLOAD_BYTES // (1024 * 1024)} MB. "
        "It is cropped to a square.",
    )


def _subject() -> User:
    """Whose profile this is: mine, or (for an owner/admin) a teammate's."""
    user_id = request.args.get("user_id", type=int)
    if user_id is None or user_id == current_user.id:
        return current_user
    user = get_or_404(User, user_id)
    if not can_edit_photo(actor=current_user, user=user):
        abort(403)
    return user


def render_profile(
    user: User,
    form: ProfileForm,
    photo_form: PhotoForm,
    status: int = 200,
    password_form: ChangePasswordForm | None = None,
    forwarding_form: ForwardingForm | None = None,
):
    own = user.id == current_user.id
    return (
        render_template(
            "auth/profile.html",
            title="Your profile" if own else f"{user.name}'s photo",
            user=user,
            own=own,
            form=form,
            photo_form=photo_form,
            password_form=password_form or ChangePasswordForm(formdata=None),
            forwarding_form=forwarding_form
            or ForwardingForm(formdata=None, forward_texts=user.forward_texts),
            open_sessions=open_session_count(user) if own else 0,
            push=push_settings(user) if own else None,
            # From the stored Lookup answer (saving the number asked Twilio).
            line_warning=user_mobile_warning(phone=user.mobile_phone, now=utcnow(), look=False)
            if own
            else None,
        ),
        status,
    )


@bp.route("/me", methods=["GET", "POST"])
@any_role_required
def profile():
    user = _subject()
    if request.method == "GET" or user.id != current_user.id:
        if request.method == "POST":
            abort(403)  # someone else's name and phone are not editable here
        form = ProfileForm(name=user.name, mobile_phone=user.mobile_phone)
        return render_profile(user, form, PhotoForm())
    form = ProfileForm()
    if not form.validate_on_submit():
        return render_profile(user, form, PhotoForm(), 422)
    with service_call(form) as call:
        update_profile(user=user, name=form.name.data, mobile_phone=form.mobile_phone.data)
    if not call.ok:
        return render_profile(user, form, PhotoForm(), 422)
    # Twilio Lookup (2 s at most, once per number per 90 days), after the save committed,
    # while the person is here to fix a landline; the page shows the kept answer's warning.
    user_mobile_warning(phone=user.mobile_phone, now=utcnow())
    db.session.commit()
    flash("Profile saved.", "success")
    return redirect(url_for("auth.profile"))


@bp.post("/me/forwarding")
@any_role_required
def profile_forwarding():
    """Each user switches the copies of their routed texts to their own mobile on or off
    (owners and admins can also do it for anyone, on the Point of Contact page)."""
    form = ForwardingForm()
    if form.validate_on_submit():
        with service_call(form) as call:
            set_forwarding(user=current_user, enabled=form.forward_texts.data, actor=current_user)
        if call.ok:
            state = "on" if current_user.forward_texts else "off"
            flash(f"Copies of your texts to your mobile: {state}.", "success")
            return redirect(url_for("auth.profile", _anchor="forwarding-title"))
    profile_form = ProfileForm(name=current_user.name, mobile_phone=current_user.mobile_phone)
    return render_profile(current_user, profile_form, PhotoForm(), 422, forwarding_form=form)


def _back(user: User):
    if user.id == current_user.id:
        return redirect(url_for("auth.profile"))
    return redirect(url_for("auth.profile", user_id=user.id))


@bp.post("/me/photo")
@accepts_upload(MAX_UPLOAD_BYTES)
@any_role_required
def profile_photo():
    user = _subject()
    photo_form = PhotoForm()
    if not photo_form.validate_on_submit():
        return render_profile(
            user, ProfileForm(name=user.name, mobile_phone=user.mobile_phone), photo_form, 422
        )
    upload = photo_form.photo.data
    data = upload.read(MAX_UPLOAD_BYTES + 1) if upload else b""
    with service_call(photo_form) as call:
        store_profile_photo(user=user, data=data, upload_folder=current_app.config["UPLOAD_FOLDER"])
    if not call.ok:
        return render_profile(
            user, ProfileForm(name=user.name, mobile_phone=user.mobile_phone), photo_form, 422
        )
    flash("Photo saved.", "success")
    return _back(user)


@bp.post("/me/photo/remove")
@any_role_required
def profile_photo_remove():
    user = _subject()
    remove_profile_photo(user=user, upload_folder=current_app.config["UPLOAD_FOLDER"])
    db.session.commit()
    flash("Photo removed.", "success")
    return _back(user)

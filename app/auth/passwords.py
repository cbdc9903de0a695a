"""Forgot password (a single-use emailed link), resetting it, changing it on /me, and
logging out everywhere."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from app.actions import service_call
from app.auth import bp
from app.auth.access import any_role_required
from app.auth.forms import ChangePasswordForm, ForgotPasswordForm, ResetPasswordForm
from app.auth.profile import PhotoForm, ProfileForm, render_profile
from app.auth.sessions import log_out
from app.dev import mailbox_url
from app.errors import render_error
from app.extensions import db, limiter
from app.mail import send_email
from app.models import PasswordReset, User
from app.services.passwords import (
    RESET_LIFETIME,
    ResetLinkUnusable,
    change_password,
    find_password_reset,
    request_password_reset,
    reset_password,
)
from app.services.push import forget_devices
from app.services.sessions import end_all_sessions

# The same words whether or not the address has an account.
RESET_SENT = (
    "If {email} belongs to a ProSMS account, we've emailed it a link to choose a new "
    "password. The link works once, for {minutes} minutes."
)


def _reset_limit() -> str:
    return current_app.config["PASSWORD_RESET_RATE_LIMIT"]


def send_reset_email(*, reset: PasswordReset, raw_token: str, sent_by: User | None) -> None:
    """Email the link (after the commit that stored it)."""
    user = reset.user
    # The link is opened in the person's own browser, so it uses the public address.
    link = current_app.config["PUBLIC_BASE_URL"] + url_for(
        "auth.reset_password_page", token=raw_token
    )
    minutes = int(RESET_LIFETIME.total_seconds() // 60)
    why = (
        f"{sent_by.name} sent you this link to choose a new password for ProSMS."
        if sent_by
        else "Someone (hopefully you) asked to reset the password of your ProSMS account."
    )
    send_email(
        to=user.email,
        subject="Choose a new ProSMS password",
        body=(
            f"Hi {user.first_name},\n\n{why}\n\nChoose a new password here (the link works "
            f"once, for {minutes} minutes):\n{link}\n\nIf you didn't ask for it, ignore this "
            "email: your password stays the same.\n"
        ),
    )


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit(_reset_limit, methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        email = form.email.data.strip()
        issued = request_password_reset(email=email)
        db.session.commit()
        if issued is not None:
            send_reset_email(reset=issued[0], raw_token=issued[1], sent_by=None)
        minutes = int(RESET_LIFETIME.total_seconds() // 60)
        flash(RESET_SENT.format(email=email, minutes=minutes), "info")
        return redirect(url_for("auth.login"))
    return render_template(
        "auth/forgot_password.html", form=form, dev_mailbox_url=mailbox_url()
    ), 400 if form.errors else 200


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
def reset_password_page(token: str):
    try:
        reset = find_password_reset(token)
    except ResetLinkUnusable as error:
        return render_error(410, error.message)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        with service_call(form) as call:
            user = reset_password(reset=reset, new_password=form.password.data)
            # Whoever was logged in on this browser is logged out; the person logs in anew.
            log_out()
        if isinstance(call.error, ResetLinkUnusable):
            return render_error(410, call.message)
        if call.ok:
            flash(
                f"Your password is changed, {user.first_name}, and every session was "
                "logged out. Log in with the new password.",
                "success",
            )
            return redirect(url_for("auth.login"))
    return render_template(
        "auth/reset_password.html", form=form, user=reset.user
    ), 400 if form.errors else 200


@bp.post("/me/password")
@any_role_required
def change_my_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        with service_call(form) as call:
            ended = change_password(
                user=current_user,
                current_password=form.current_password.data,
                new_password=form.password.data,
                keep_session_token=current_user.session_token,
            )
        if call.ok:
            others = (
                f" and {ended} other session{'s' if ended != 1 else ''} logged out" if ended else ""
            )
            flash(f"Password changed{others}.", "success")
            return redirect(url_for("auth.profile"))
    profile_form = ProfileForm(name=current_user.name, mobile_phone=current_user.mobile_phone)
    return render_profile(current_user, profile_form, PhotoForm(), 422, password_form=form)


@bp.post("/me/sessions/end")
@any_role_required
def log_out_everywhere():
    end_all_sessions(user=current_user)
    forget_devices(user=current_user)  # a lost phone stops showing notifications too
    log_out()
    db.session.commit()
    flash("You are logged out everywhere, on every device.", "info")
    return redirect(url_for("auth.login"))

"""Sign-up, login/logout and accepting an invitation."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.actions import service_call
from app.auth import bp
from app.auth.forms import AcceptInvitationForm, LoginForm, SignupForm
from app.auth.sessions import log_in, log_out
from app.dev import mailbox_url
from app.errors import render_error
from app.extensions import db, limiter
from app.models import Role, User
from app.redirects import local_target
from app.services.accounts import (
    InvitationUnusable,
    accept_invitation,
    check_invitation_usable,
    find_invitation,
    sign_up,
)
from app.services.passwords import authenticate


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


def home_for(user: User) -> str:
    return url_for("tech.index") if user.is_tech else url_for("office.jobs")


def _safe_next(default: str) -> str:
    return local_target(request.args.get("next")) or default


@bp.get("/")
def home():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(email=form.email.data, password=form.password.data)
        if user is None:
            form.password.errors.append("That email and password don't match.")
        elif not user.active:
            form.email.errors.append("This account has been deactivated. Ask your account owner.")
        else:
            log_in(user, remember=form.remember.data)
            db.session.commit()
            return redirect(_safe_next(home_for(user)))
    return render_template("auth/login.html", form=form, dev_mailbox_url=mailbox_url())


@bp.route("/signup", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def signup():
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    form = SignupForm()
    if request.method == "GET":
        # A fresh form starts at the browser's own zone when it is in the list (account.js).
        form.time_zone.render_kw = {"data-guess-time-zone": ""}
    if form.validate_on_submit():
        with service_call(form) as call:
            owner = sign_up(
                company_name=form.company_name.data,
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
                time_zone=form.time_zone.data,
                business_phone=form.business_phone.data,
            )
            log_in(owner)
        if call.ok:
            flash(
                f"Welcome to ProSMS, {owner.first_name}! Start by choosing your custom number.",
                "success",
            )
            return redirect(url_for("office.settings"))
    return render_template("auth/signup.html", form=form), 400 if form.errors else 200


@bp.post("/logout")
def logout():
    log_out()
    db.session.commit()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    invitation = find_invitation(token)
    if invitation is None:
        abort(404)
    try:
        check_invitation_usable(invitation)
    except InvitationUnusable as error:
        return render_error(410, error.message)
    form = AcceptInvitationForm()
    if request.method == "GET" and invitation.name:
        form.name.data = invitation.name
    if form.validate_on_submit():
        with service_call(form) as call:
            user = accept_invitation(
                invitation=invitation, name=form.name.data, password=form.password.data
            )
            # Whoever was logged in on this browser, the person now is the new user.
            log_out()
            log_in(user)
        if isinstance(call.error, InvitationUnusable):
            return render_error(410, call.message)
        if call.ok:
            flash(f"Welcome to {user.company.name}, {user.first_name}!", "success")
            return redirect(home_for(user))
    return render_template(
        "auth/accept_invite.html",
        form=form,
        invitation=invitation,
        role_label=Role.LABELS.get(invitation.role, invitation.role),
    ), 400 if form.errors else 200

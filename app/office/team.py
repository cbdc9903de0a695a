"""Office pages: the team (who is on it, invitations, roles, deactivation).

Everyone in the office may look; only an owner or admin may change anything. Each member
row is one fragment (`_team_member.html`, id `user-<id>`) that its own forms replace.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, flash, make_response, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from app.actions import service_call
from app.auth.access import manager_required, office_required
from app.auth.passwords import send_reset_email
from app.extensions import htmx
from app.models import Invitation, Role, User, utcnow
from app.office import bp
from app.services.accounts import (
    active_owner_count,
    change_role,
    deactivate_user,
    invite_user,
    manageable_roles,
    management_refusal,
    pending_invitations,
    reactivate_user,
    revoke_invitation,
    team_members,
)
from app.services.line_types import team_line_warnings
from app.services.passwords import send_reset_to_member
from app.tenancy import get_or_404


class InviteForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[
            DataRequired(message="Enter the email address of the person to invite."),
            Email(message="Enter a valid email address."),
            Length(max=255),
        ],
        description="They will log in with this address.",
    )
    name = StringField("Name (optional)", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", default=Role.TECH)


class RoleForm(FlaskForm):
    role = SelectField("Role")


def _role_choices(actor: User) -> list[tuple[str, str]]:
    return [(role, Role.LABELS[role]) for role in manageable_roles(actor)]


@dataclass(frozen=True)
class MemberControls:
    """What the current user may do to one team member (mirrors the service's rules)."""

    can_change_role: bool
    can_deactivate: bool
    can_reactivate: bool
    note: str | None
    can_send_reset: bool = False


def _controls(actor: User, user: User, owners: int) -> MemberControls:
    refusal = management_refusal(actor=actor, user=user)
    if refusal is not None:
        note = None if actor.role not in Role.MANAGERS else refusal
        return MemberControls(False, False, False, note)
    only_owner = user.role == Role.OWNER and user.active and owners <= 1
    return MemberControls(
        can_change_role=user.active and not only_owner,
        can_deactivate=user.active and user.id != actor.id and not only_owner,
        can_reactivate=not user.active,
        note="The only owner: make someone else an owner first." if only_owner else None,
        can_send_reset=user.active and user.id != actor.id,
    )


def _member_context(user: User, error: str | None = None, notice: str | None = None) -> dict:
    return {
        "member": user,
        "line_warnings": team_line_warnings(users=[user], now=utcnow()),
        "row_notice": notice,
        "controls": _controls(current_user, user, active_owner_count(current_user.company_id)),
        "role_choices": _role_choices(current_user),
        "error": error,
    }


def _invite_link(raw_token: str) -> str:
    # The link is for another person's browser, so it uses the public address.
    return current_app.config["PUBLIC_BASE_URL"] + url_for("auth.accept_invite", token=raw_token)


def _invitations_context(
    form: InviteForm | None = None,
    new_invitation: Invitation | None = None,
    new_link: str | None = None,
) -> dict:
    if form is None:
        form = InviteForm(formdata=None)
        form.role.choices = _role_choices(current_user)
    return {
        "invite_form": form,
        "invitations": pending_invitations(current_user.company),
        "new_invitation": new_invitation,
        "new_link": new_link,
        "role_labels": Role.LABELS,
    }


def _team_page(status: int = 200, **invitations_context):
    owners = active_owner_count(current_user.company_id)
    members = [
        (user, _controls(current_user, user, owners)) for user in team_members(current_user.company)
    ]
    return render_template(
        "office/team.html",
        members=members,
        line_warnings=team_line_warnings(users=[user for user, _ in members], now=utcnow()),
        role_choices=_role_choices(current_user),
        **_invitations_context(**invitations_context),
    ), status


@bp.get("/team")
@office_required
def team():
    return _team_page()


@bp.post("/team/invitations")
@manager_required
def team_invite():
    form = InviteForm()
    form.role.choices = _role_choices(current_user)
    invitation = new_link = None
    if form.validate_on_submit():
        with service_call(form) as call:
            invitation, raw_token = invite_user(
                company=current_user.company,
                inviter=current_user,
                email=form.email.data,
                role=form.role.data,
                name=form.name.data,
            )
        if call.ok:
            new_link = _invite_link(raw_token)
            form = None  # a fresh, empty form for the next invitation
    status = 400 if form is not None and form.errors else 200
    # The link is shown once, in this response: it is never stored, so no redirect.
    if htmx:
        body = render_template(
            "office/_invitations.html", **_invitations_context(form, invitation, new_link)
        )
    else:
        body, _ = _team_page(form=form, new_invitation=invitation, new_link=new_link)
    response = make_response(body, status)
    # The page holds a one-time secret: keep it out of every cache.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/team/invitations/<int:invitation_id>/revoke")
@manager_required
def team_revoke_invitation(invitation_id: int):
    invitation = get_or_404(Invitation, invitation_id)
    with service_call() as call:
        revoke_invitation(actor=current_user, invitation=invitation)
    if call.ok:
        message, category = f"The invitation for {invitation.email} was withdrawn.", "info"
    else:
        message, category = call.message, "error"
    status = call.status_code
    if htmx:
        context = _invitations_context()
        return render_template(
            "office/_invitations.html", notice=(category, message), **context
        ), status
    flash(message, category)
    return redirect(url_for("office.team"))


def _member_action(user: User, action, success: str, after_commit=None, **kwargs):
    """Run one service on a team member; answer with the row (htmx) or the page.
    `after_commit` gets the service's result once it is committed (e.g. to email it)."""
    with service_call(flash_error=not htmx) as call:
        result = action(actor=current_user, user=user, **kwargs)
    if call.ok and after_commit is not None:
        after_commit(result)
    message = success.format(name=user.name, role=user.role_label)
    if htmx:
        # The row says what happened when nothing else on it shows it (an email went out).
        notice = message if after_commit is not None and call.ok else None
        return render_template(
            "office/_team_member.html", **_member_context(user, call.message, notice)
        ), call.status_code
    if call.ok:
        flash(message, "success")
    return redirect(url_for("office.team"))


@bp.post("/team/<int:user_id>/role")
@manager_required
def team_change_role(user_id: int):
    user = get_or_404(User, user_id)
    form = RoleForm()
    form.role.choices = [(role, Role.LABELS[role]) for role in Role.ALL]
    if not form.validate_on_submit():
        # Only a stale or hand-made request gets here; the select offers valid roles.
        if htmx:
            return render_template(
                "office/_team_member.html", **_member_context(user, "Choose a role.")
            ), 400
        flash("Choose a role.", "error")
        return redirect(url_for("office.team"))
    return _member_action(user, change_role, "{name} is now {role}.", role=form.role.data)


@bp.post("/team/<int:user_id>/deactivate")
@manager_required
def team_deactivate(user_id: int):
    return _member_action(
        get_or_404(User, user_id),
        deactivate_user,
        "{name} is deactivated and was logged out everywhere.",
    )


@bp.post("/team/<int:user_id>/reactivate")
@manager_required
def team_reactivate(user_id: int):
    return _member_action(get_or_404(User, user_id), reactivate_user, "{name} can log in again.")


@bp.post("/team/<int:user_id>/password-reset")
@manager_required
def team_send_password_reset(user_id: int):
    def email_it(issued) -> None:
        reset, raw_token = issued
        send_reset_email(reset=reset, raw_token=raw_token, sent_by=current_user)

    return _member_action(
        get_or_404(User, user_id),
        send_reset_to_member,
        "We emailed {name} a link to choose a new password (it works once, for 30 minutes).",
        after_commit=email_it,
    )

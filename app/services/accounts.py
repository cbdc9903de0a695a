"""Companies and their users: sign-up, invitations, roles and deactivation.

Who may manage whom is decided here, once (`manageable_roles`, `check_can_manage`), so
the team page shows exactly the controls the service will accept.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Company, Invitation, MessagingRegistration, Role, User, utcnow
from app.services.company_profile import check_time_zone
from app.services.errors import Conflict, DomainError, NotAllowed
from app.services.phones import normalize_phone

MIN_PASSWORD_LENGTH = 8
INVITATION_LIFETIME = timedelta(days=7)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            f"Use at least {MIN_PASSWORD_LENGTH} characters for the password.", field="password"
        )


# Said when an address is taken, without saying it belongs to someone's account: sign-up
# and invitations must not tell a stranger which addresses have accounts.
EMAIL_UNAVAILABLE = (
    "This email address can't be used for a new account. If you already have one, "
    "log in or reset your password."
)


def email_taken(email: str) -> bool:
    return (
        db.session.scalar(
            sa.select(User.id).where(sa.func.lower(User.email) == email.strip().lower())
        )
        is not None
    )


def create_user(
    *,
    company: Company,
    name: str,
    email: str,
    password: str,
    role: str,
    mobile_phone: str | None = None,
) -> User:
    if role not in Role.ALL:
        raise DomainError(f"Unknown role “{role}”.", field="role")
    check_password_strength(password)
    if email_taken(email):
        raise DomainError(EMAIL_UNAVAILABLE, field="email")
    user = User(
        company_id=company.id,
        name=name.strip(),
        email=email.strip().lower(),
        role=role,
        mobile_phone=normalize_phone(mobile_phone, field="mobile_phone") if mobile_phone else None,
    )
    user.set_password(password)
    try:
        # Two sign-ups with one email at the same moment both pass `email_taken`; the
        # unique index decides, and the loser gets the same message instead of a 500.
        with db.session.begin_nested():
            db.session.add(user)
    except IntegrityError:
        raise DomainError(EMAIL_UNAVAILABLE, field="email") from None
    return user


def sign_up(
    *,
    company_name: str,
    name: str,
    email: str,
    password: str,
    time_zone: str = "America/Chicago",
    business_phone: str | None = None,
) -> User:
    """Create a company and its owner, the first user (the lowest user id of the company)."""
    if not company_name.strip():
        raise DomainError("Enter your company's name.", field="company_name")
    check_time_zone(time_zone)
    company = Company(
        name=company_name.strip(),
        time_zone=time_zone,
        business_phone=(
            normalize_phone(business_phone, field="business_phone") if business_phone else None
        ),
    )
    db.session.add(company)
    # A new company may not text until its registration is approved (or attached).
    db.session.add(MessagingRegistration(company=company))
    db.session.flush()
    return create_user(company=company, name=name, email=email, password=password, role=Role.OWNER)


# --- Who may manage whom ---------------------------------------------------------------


def manageable_roles(actor: User) -> tuple[str, ...]:
    """The roles `actor` may give (by invitation or role change). Only owners make owners."""
    if actor.role == Role.OWNER:
        return Role.ALL
    if actor.role == Role.ADMIN:
        return (Role.ADMIN, Role.OFFICE, Role.TECH)
    return ()


def management_refusal(*, actor: User, user: User) -> str | None:
    """Why `actor` may not change `user` at all, or None when they may."""
    if actor.role not in Role.MANAGERS:
        return "Only an owner or admin can manage the team."
    if actor.company_id != user.company_id:
        return "That person is not on your team."
    if user.role == Role.OWNER and actor.role != Role.OWNER:
        return "Only an owner can change another owner."
    return None


def check_can_manage(*, actor: User, user: User) -> None:
    refusal = management_refusal(actor=actor, user=user)
    if refusal:
        raise NotAllowed(refusal)


def _check_role_allowed(*, actor: User, role: str) -> None:
    if role not in Role.ALL:
        raise DomainError(f"Unknown role “{role}”.", field="role")
    if role not in manageable_roles(actor):
        raise NotAllowed("Only an owner can make someone an owner.", field="role")


def active_owner_count(company_id: int) -> int:
    return (
        db.session.scalar(
            sa.select(sa.func.count(User.id)).where(
                User.company_id == company_id, User.role == Role.OWNER, User.active.is_(True)
            )
        )
        or 0
    )


def _check_not_last_owner(user: User, action: str) -> None:
    if user.role != Role.OWNER or not user.active:
        return
    # Lock the owners' rows (PostgreSQL): two owners demoting each other at the same moment
    # are serialised, and the second one sees that only one owner is left.
    owners = db.session.scalars(
        sa.select(User.id)
        .where(User.company_id == user.company_id, User.role == Role.OWNER, User.active.is_(True))
        .with_for_update()
    ).all()
    if len(owners) <= 1:
        raise Conflict(
            f"{user.name} is the only active owner: make someone else an owner before you {action}."
        )


def team_members(company: Company) -> list[User]:
    """Active people first, then by role (owners first) and name."""
    order = sa.case({role: i for i, role in enumerate(Role.ALL)}, value=User.role, else_=9)
    return list(
        db.session.scalars(
            sa.select(User)
            .where(User.company_id == company.id)
            .order_by(User.active.desc(), order, sa.func.lower(User.name), User.id)
        )
    )


def change_role(*, actor: User, user: User, role: str) -> User:
    check_can_manage(actor=actor, user=user)
    _check_role_allowed(actor=actor, role=role)
    if user.role == role:
        return user
    if role != Role.OWNER:
        _check_not_last_owner(user, "change their role")
    user.role = role
    db.session.flush()
    return user


def deactivate_user(*, actor: User, user: User) -> User:
    """Stop `user` logging in and end every session they have open right now."""
    if actor.id == user.id:
        raise NotAllowed("You can't deactivate yourself.")
    check_can_manage(actor=actor, user=user)
    if not user.active:
        return user
    _check_not_last_owner(user, "deactivate them")
    user.active = False
    # Sessions carry the version (see app/auth/sessions.py): bumping it ends them all.
    user.session_version += 1
    db.session.flush()
    return user


def reactivate_user(*, actor: User, user: User) -> User:
    check_can_manage(actor=actor, user=user)
    user.active = True
    db.session.flush()
    return user


# --- Invitations -------------------------------------------------------------------------


class InvitationUnusable(DomainError):
    """A link that was used, revoked or has expired: the page is gone for good."""

    status_code = 410


def hash_token(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def invitation_state(invitation: Invitation, now: datetime | None = None) -> str:
    """One of "pending", "accepted", "revoked", "expired"."""
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= (now or utcnow()):
        return "expired"
    return "pending"


def pending_invitations(company: Company) -> list[Invitation]:
    return list(
        db.session.scalars(
            sa.select(Invitation)
            .where(
                Invitation.company_id == company.id,
                Invitation.accepted_at.is_(None),
                Invitation.revoked_at.is_(None),
                Invitation.expires_at > utcnow(),
            )
            .order_by(Invitation.created_at.desc(), Invitation.id.desc())
        )
    )


def invite_user(
    *, company: Company, inviter: User, email: str, role: str, name: str | None = None
) -> tuple[Invitation, str]:
    """Create a one-time invitation link. Returns the invitation and the raw token, which
    is not stored (only its SHA-256 is), so it can be shown exactly once."""
    if inviter.company_id != company.id or inviter.role not in Role.MANAGERS:
        raise NotAllowed("Only an owner or admin can invite people.")
    _check_role_allowed(actor=inviter, role=role)
    address = email.strip().lower()
    if not address:
        raise DomainError("Enter the email address of the person to invite.", field="email")
    if email_taken(address):
        teammate = db.session.scalar(
            sa.select(User).where(
                sa.func.lower(User.email) == address, User.company_id == company.id
            )
        )
        if teammate is not None:  # the team page shows them anyway
            raise DomainError(f"{teammate.name} is already on your team.", field="email")
        raise DomainError(
            "This address can't be invited. Ask the person for another email address.",
            field="email",
        )
    now = utcnow()
    # A new link for the same person replaces any earlier one still open.
    for earlier in db.session.scalars(
        sa.select(Invitation).where(
            Invitation.company_id == company.id,
            sa.func.lower(Invitation.email) == address,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    ):
        earlier.revoked_at = now
    raw_token = secrets.token_urlsafe(32)
    invitation = Invitation(
        company_id=company.id,
        email=address,
        name=(name or "").strip() or None,
        role=role,
        token_hash=hash_token(raw_token),
        invited_by_id=inviter.id,
        created_at=now,
        expires_at=now + INVITATION_LIFETIME,
    )
    db.session.add(invitation)
    db.session.flush()
    return invitation, raw_token


def find_invitation(raw_token: str) -> Invitation | None:
    if not raw_token:
        return None
    return db.session.scalar(
        sa.select(Invitation).where(Invitation.token_hash == hash_token(raw_token))
    )


def check_invitation_usable(invitation: Invitation) -> None:
    state = invitation_state(invitation)
    if state == "accepted":
        raise InvitationUnusable(
            "This invitation has already been used. Log in, or ask for a new invitation."
        )
    if state == "revoked":
        raise InvitationUnusable("This invitation was withdrawn. Ask for a new invitation.")
    if state == "expired":
        raise InvitationUnusable("This invitation has expired. Ask for a new invitation.")


def accept_invitation(*, invitation: Invitation, name: str, password: str) -> User:
    """Create the invited user with the invited role; the link cannot be used again."""
    check_invitation_usable(invitation)
    if not name.strip():
        raise DomainError("Enter your name.", field="name")
    check_password_strength(password)
    now = utcnow()
    # Claim the invitation with one conditional UPDATE, so two simultaneous submissions
    # of the same link cannot both succeed.
    claimed = db.session.execute(
        sa.update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.refresh(invitation)
    if claimed != 1:
        check_invitation_usable(invitation)
        raise InvitationUnusable("This invitation can no longer be used.")
    return create_user(
        company=invitation.company,
        name=name,
        email=invitation.email,
        password=password,
        role=invitation.role,
    )


def revoke_invitation(*, actor: User, invitation: Invitation) -> Invitation:
    if actor.role not in Role.MANAGERS or actor.company_id != invitation.company_id:
        raise NotAllowed("Only an owner or admin can withdraw invitations.")
    if invitation.accepted_at is not None:
        raise Conflict("This invitation has already been accepted.")
    if invitation.revoked_at is None:
        invitation.revoked_at = utcnow()
        db.session.flush()
    return invitation

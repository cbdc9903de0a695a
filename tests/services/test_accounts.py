"""Accounts: sign-up, invitations, role changes, deactivation and their guard rails."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Invitation, Role, User, utcnow
from app.services.accounts import (
    InvitationUnusable,
    accept_invitation,
    change_role,
    deactivate_user,
    find_invitation,
    invitation_state,
    invite_user,
    manageable_roles,
    pending_invitations,
    reactivate_user,
    revoke_invitation,
    sign_up,
    team_members,
)
from app.services.errors import Conflict, DomainError, NotAllowed
from app.services.sessions import find_session, start_session
from tests.fixtures.factories import PASSWORD

# --- Sign-up -------------------------------------------------------------------------------


def test_sign_up_creates_the_company_and_its_owner():
    owner = sign_up(
        company_name="  Acme Plumbing ",
        name="Ada Owner",
        email="Ada@Example.TEST",
        password=PASSWORD,
        time_zone="America/Denver",
        business_phone="(512) 555-0100",
    )
    company = owner.company
    assert company.name == "Acme Plumbing"
    assert company.time_zone == "America/Denver"
    assert company.business_phone == "+15125550100"
    assert owner.role == Role.OWNER
    assert owner.email == "ada@example.test"
    assert owner.check_password(PASSWORD)
    assert owner.password_hash != PASSWORD


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"business_phone": "12"}, "business_phone"),
        ({"time_zone": "Mars/Olympus_Mons"}, "time_zone"),
        ({"password": "short"}, "password"),
        ({"company_name": "  "}, "company_name"),
    ],
)
def test_sign_up_refuses_bad_input_naming_the_field(fields, field):
    data = {
        "company_name": "Acme",
        "name": "Ada",
        "email": "ada@example.test",
        "password": PASSWORD,
        **fields,
    }
    with pytest.raises(DomainError) as refused:
        sign_up(**data)
    assert refused.value.field == field


def test_sign_up_refuses_an_email_already_in_use(make):
    taken = make.company().owner.email
    with pytest.raises(DomainError) as refused:
        sign_up(company_name="Other", name="X", email=taken.upper(), password=PASSWORD)
    assert refused.value.field == "email"


# --- Invitations ---------------------------------------------------------------------------


def test_invitation_stores_only_a_hash_and_expires_in_seven_days(make):
    company = make.company()
    invitation, token = invite_user(
        company=company, inviter=company.owner, email=" New@Example.test ", role=Role.TECH
    )
    assert len(token) >= 43  # 32 random bytes, base64url
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    stored = db.session.execute(sa.select(Invitation.__table__)).mappings().one()
    assert token not in {str(value) for value in stored.values()}
    assert invitation.email == "new@example.test"
    lifetime = invitation.expires_at - invitation.created_at
    assert lifetime == timedelta(days=7)
    assert find_invitation(token) is invitation
    assert find_invitation(token + "x") is None
    assert pending_invitations(company) == [invitation]


def test_two_invitations_get_different_tokens(make):
    company = make.company()
    _, first = invite_user(company=company, inviter=company.owner, email="a@x.test", role="tech")
    _, second = invite_user(company=company, inviter=company.owner, email="b@x.test", role="tech")
    assert first != second


def test_accepting_creates_the_user_with_the_invited_role_once(make):
    company = make.company()
    invitation, token = invite_user(
        company=company, inviter=company.owner, email="office@x.test", role=Role.OFFICE
    )
    user = accept_invitation(invitation=invitation, name=" Olive ", password=PASSWORD)
    assert (user.company_id, user.role, user.email, user.name) == (
        company.id,
        Role.OFFICE,
        "office@x.test",
        "Olive",
    )
    assert invitation_state(invitation) == "accepted"
    assert pending_invitations(company) == []
    with pytest.raises(InvitationUnusable, match="already been used"):
        accept_invitation(invitation=find_invitation(token), name="Again", password=PASSWORD)
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 2


def test_an_expired_invitation_is_refused(make):
    company = make.company()
    invitation, _ = invite_user(
        company=company, inviter=company.owner, email="t@x.test", role="tech"
    )
    invitation.expires_at = utcnow() - timedelta(seconds=1)
    assert invitation_state(invitation) == "expired"
    with pytest.raises(InvitationUnusable, match="expired"):
        accept_invitation(invitation=invitation, name="Tom", password=PASSWORD)
    assert pending_invitations(company) == []


def test_a_revoked_invitation_is_refused(make):
    company = make.company()
    invitation, _ = invite_user(
        company=company, inviter=company.owner, email="t@x.test", role="tech"
    )
    revoke_invitation(actor=company.owner, invitation=invitation)
    with pytest.raises(InvitationUnusable, match="withdrawn"):
        accept_invitation(invitation=invitation, name="Tom", password=PASSWORD)


def test_an_accepted_invitation_cannot_be_revoked(make):
    company = make.company()
    invitation, _ = invite_user(
        company=company, inviter=company.owner, email="t@x.test", role="tech"
    )
    accept_invitation(invitation=invitation, name="Tom", password=PASSWORD)
    with pytest.raises(Conflict):
        revoke_invitation(actor=company.owner, invitation=invitation)


def test_accepting_checks_the_password_and_name(make):
    company = make.company()
    invitation, _ = invite_user(
        company=company, inviter=company.owner, email="t@x.test", role="tech"
    )
    with pytest.raises(DomainError) as refused:
        accept_invitation(invitation=invitation, name="Tom", password="short")
    assert refused.value.field == "password"
    with pytest.raises(DomainError) as refused:
        accept_invitation(invitation=invitation, name="  ", password=PASSWORD)
    assert refused.value.field == "name"
    assert invitation_state(invitation) == "pending"


def test_a_new_invitation_for_the_same_email_replaces_the_old_link(make):
    company = make.company()
    first, _ = invite_user(company=company, inviter=company.owner, email="t@x.test", role="tech")
    second, _ = invite_user(company=company, inviter=company.owner, email="T@x.test", role="office")
    assert invitation_state(first) == "revoked"
    assert pending_invitations(company) == [second]


def test_invitation_guard_rails(make):
    company = make.company()
    admin = make.user(company, Role.ADMIN)
    office = make.user(company, Role.OFFICE)
    other = make.company()
    with pytest.raises(NotAllowed):
        invite_user(company=company, inviter=office, email="a@x.test", role=Role.TECH)
    with pytest.raises(NotAllowed):
        invite_user(company=company, inviter=admin, email="a@x.test", role=Role.OWNER)
    with pytest.raises(NotAllowed):
        invite_user(company=other, inviter=company.owner, email="a@x.test", role=Role.TECH)
    with pytest.raises(DomainError) as refused:
        invite_user(company=company, inviter=admin, email="a@x.test", role="superuser")
    assert refused.value.field == "role"
    with pytest.raises(DomainError) as refused:
        invite_user(company=company, inviter=admin, email=office.email, role=Role.TECH)
    assert refused.value.field == "email"
    # An owner may invite another owner; an admin may invite an admin.
    invite_user(company=company, inviter=company.owner, email="o2@x.test", role=Role.OWNER)
    invite_user(company=company, inviter=admin, email="a2@x.test", role=Role.ADMIN)
    invitation, _ = invite_user(company=company, inviter=admin, email="t@x.test", role=Role.TECH)
    with pytest.raises(NotAllowed):
        revoke_invitation(actor=office, invitation=invitation)
    with pytest.raises(NotAllowed):
        revoke_invitation(actor=other.owner, invitation=invitation)


def test_accepting_when_the_email_was_taken_meanwhile_is_refused(make):
    company = make.company()
    invitation, _ = invite_user(
        company=company, inviter=company.owner, email="t@x.test", role="tech"
    )
    sign_up(company_name="Elsewhere", name="T", email="t@x.test", password=PASSWORD)
    with pytest.raises(DomainError, match="can't be used for a new account"):
        accept_invitation(invitation=invitation, name="Tom", password=PASSWORD)


# --- Roles -----------------------------------------------------------------------------------


def test_manageable_roles():
    assert manageable_roles(User(role=Role.OWNER)) == Role.ALL
    assert Role.OWNER not in manageable_roles(User(role=Role.ADMIN))
    assert manageable_roles(User(role=Role.OFFICE)) == ()
    assert manageable_roles(User(role=Role.TECH)) == ()


def test_owner_changes_roles(make):
    company = make.company()
    tech = make.user(company, Role.TECH)
    change_role(actor=company.owner, user=tech, role=Role.OFFICE)
    assert tech.role == Role.OFFICE
    change_role(actor=company.owner, user=tech, role=Role.OWNER)
    assert tech.role == Role.OWNER


def test_only_managers_change_roles(make):
    company = make.company()
    office = make.user(company, Role.OFFICE)
    tech = make.user(company, Role.TECH)
    with pytest.raises(NotAllowed):
        change_role(actor=office, user=tech, role=Role.OFFICE)
    with pytest.raises(NotAllowed):
        change_role(actor=tech, user=tech, role=Role.OWNER)
    assert tech.role == Role.TECH


def test_an_admin_cannot_make_an_owner_or_change_one(make):
    company = make.company()
    admin = make.user(company, Role.ADMIN)
    tech = make.user(company, Role.TECH)
    with pytest.raises(NotAllowed, match="Only an owner"):
        change_role(actor=admin, user=tech, role=Role.OWNER)
    with pytest.raises(NotAllowed, match="Only an owner"):
        change_role(actor=admin, user=company.owner, role=Role.TECH)
    with pytest.raises(NotAllowed):
        deactivate_user(actor=admin, user=company.owner)
    assert company.owner.role == Role.OWNER and company.owner.active
    # But an admin manages other admins and everyone below.
    other_admin = make.user(company, Role.ADMIN)
    change_role(actor=admin, user=other_admin, role=Role.OFFICE)
    assert other_admin.role == Role.OFFICE


def test_the_last_active_owner_cannot_be_demoted(make):
    company = make.company()
    owner = company.owner
    with pytest.raises(Conflict, match="only active owner"):
        change_role(actor=owner, user=owner, role=Role.ADMIN)
    assert owner.role == Role.OWNER
    # With a second owner the first may step down.
    second = make.user(company, Role.OWNER)
    change_role(actor=owner, user=owner, role=Role.ADMIN)
    assert owner.role == Role.ADMIN
    # A deactivated owner does not count as the remaining owner.
    third = make.user(company, Role.OWNER)
    deactivate_user(actor=second, user=third)
    with pytest.raises(Conflict):
        change_role(actor=second, user=second, role=Role.OFFICE)


def test_managing_a_user_of_another_company_is_refused(make):
    company, other = make.company(), make.company()
    stranger = make.user(other, Role.TECH)
    with pytest.raises(NotAllowed):
        change_role(actor=company.owner, user=stranger, role=Role.OFFICE)
    with pytest.raises(NotAllowed):
        deactivate_user(actor=company.owner, user=stranger)
    with pytest.raises(NotAllowed):
        reactivate_user(actor=company.owner, user=stranger)
    assert stranger.role == Role.TECH and stranger.active


# --- Deactivation ---------------------------------------------------------------------------


def test_deactivating_ends_every_session_and_reactivating_restores_login(make):
    company = make.company()
    tech = make.user(company, Role.TECH)
    token = start_session(user=tech, remember=True)
    assert find_session(token) is not None
    deactivate_user(actor=company.owner, user=tech)
    assert not tech.active
    assert find_session(token) is None
    # Deactivating twice changes nothing more.
    version = tech.session_version
    deactivate_user(actor=company.owner, user=tech)
    assert tech.session_version == version
    reactivate_user(actor=company.owner, user=tech)
    assert tech.active
    # Reactivation does not revive the sessions that were ended.
    assert find_session(token) is None


def test_nobody_deactivates_themselves(make):
    company = make.company()
    admin = make.user(company, Role.ADMIN)
    with pytest.raises(NotAllowed, match="yourself"):
        deactivate_user(actor=admin, user=admin)
    with pytest.raises(NotAllowed, match="yourself"):
        deactivate_user(actor=company.owner, user=company.owner)
    assert admin.active and company.owner.active


def test_office_and_tech_cannot_deactivate(make):
    company = make.company()
    office = make.user(company, Role.OFFICE)
    tech = make.user(company, Role.TECH)
    with pytest.raises(NotAllowed):
        deactivate_user(actor=office, user=tech)
    with pytest.raises(NotAllowed):
        reactivate_user(actor=tech, user=office)


def test_an_admin_cannot_reactivate_an_owner(make):
    company = make.company()
    second_owner = make.user(company, Role.OWNER)
    admin = make.user(company, Role.ADMIN)
    deactivate_user(actor=company.owner, user=second_owner)
    with pytest.raises(NotAllowed):
        reactivate_user(actor=admin, user=second_owner)
    assert not second_owner.active


def test_team_members_lists_active_people_first_by_role(make):
    company = make.company()
    tech = make.user(company, Role.TECH, name="Aaron Tech")
    office = make.user(company, Role.OFFICE, name="Zed Office")
    gone = make.user(company, Role.ADMIN, name="Gone Admin")
    make.user(make.company(), Role.TECH)  # another company's: never listed
    deactivate_user(actor=company.owner, user=gone)
    assert team_members(company) == [company.owner, office, tech, gone]


def test_a_simultaneous_duplicate_email_is_a_domain_error(make, monkeypatch):
    company = make.company()
    # Both requests checked the email before either inserted: the unique index decides.
    monkeypatch.setattr("app.services.accounts.email_taken", lambda email: False)
    with pytest.raises(DomainError) as refused:
        sign_up(company_name="Twin", name="T", email=company.owner.email, password=PASSWORD)
    assert refused.value.field == "email"
    # The session is still usable: the savepoint took only the failed insert back.
    assert team_members(company) == [company.owner]


@pytest.mark.postgres
def test_two_owners_demoting_each_other_at_once_leave_one_owner(app, make):
    company = make.company()
    second = make.user(company, Role.OWNER)
    db.session.commit()
    first_id, second_id = company.owner.id, second.id
    first_done_but_open = threading.Event()
    commit_first = threading.Event()
    results: dict[str, str] = {}

    def demote(name: str, actor_id: int, user_id: int, hold: bool) -> None:
        with app.app_context():
            try:
                actor, user = db.session.get(User, actor_id), db.session.get(User, user_id)
                change_role(actor=actor, user=user, role=Role.ADMIN)
                if hold:
                    first_done_but_open.set()
                    commit_first.wait(10)
                db.session.commit()
                results[name] = "demoted"
            except Conflict:
                db.session.rollback()
                results[name] = "refused"
            finally:
                db.session.remove()

    first = threading.Thread(target=demote, args=("first", first_id, second_id, True))
    first.start()
    assert first_done_but_open.wait(10)
    other = threading.Thread(target=demote, args=("second", second_id, first_id, False))
    other.start()
    other.join(0.5)
    assert other.is_alive(), "the second demotion should wait for the first transaction"
    commit_first.set()
    first.join(10)
    other.join(10)
    assert results == {"first": "demoted", "second": "refused"}
    db.session.expire_all()
    owners = db.session.scalars(sa.select(User).filter_by(role=Role.OWNER, active=True)).all()
    assert [owner.id for owner in owners] == [first_id]

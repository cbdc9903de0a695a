"""The team page: invitations end to end, role changes, deactivation, access."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
import sqlalchemy as sa
from flask import url_for

from app.extensions import db
from app.models import Invitation, Role, User, utcnow
from tests.fixtures.factories import PASSWORD
from tests.support import HX as HTMX


def _invite_link(html: str) -> str:
    found = re.search(r'id="invite-link" type="text" readonly value="([^"]+)"', html)
    assert found, "no invitation link in the page"
    return found.group(1)


def _path(link: str) -> str:
    return "/" + link.split("://", 1)[1].split("/", 1)[1]


@pytest.fixture
def team(make):
    company = make.company()
    people = {
        "owner": company.owner,
        "admin": make.user(company, Role.ADMIN, name="Adam Admin"),
        "office": make.user(company, Role.OFFICE, name="Olive Office", mobile_phone="5125550177"),
        "tech": make.user(company, Role.TECH, name="Tina Tech"),
    }
    db.session.commit()
    return company, people


# --- Looking -------------------------------------------------------------------------------


def test_office_users_see_the_team_but_no_controls(client, team, log_in, make):
    _, people = team
    stranger = make.user(make.company(), Role.TECH, name="Stranger Danger")
    db.session.commit()
    log_in(client, people["office"])
    response = client.get("/team")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for person in people.values():
        assert f'id="user-{person.id}"' in html
        assert person.email in html
    assert stranger.name not in html
    assert "(512) 555-0177" in html
    assert "Only an owner or admin can invite people" in html
    assert 'action="/team/invitations"' not in html
    assert "/deactivate" not in html and "/role" not in html


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/team/invitations"),
        ("post", "/team/{tech}/role"),
        ("post", "/team/{tech}/deactivate"),
        ("post", "/team/{tech}/reactivate"),
        ("get", "/settings"),
        ("get", "/settings/company"),
        ("post", "/settings/company"),
    ],
)
def test_office_users_cannot_change_the_team_or_settings(client, team, log_in, method, url):
    _, people = team
    log_in(client, people["office"])
    response = getattr(client, method)(url.format(tech=people["tech"].id), data={"role": "owner"})
    assert response.status_code == 403
    db.session.expire_all()
    assert db.session.get(User, people["tech"].id).role == Role.TECH


@pytest.mark.parametrize("url", ["/team", "/settings", "/settings/company", "/jobs", "/customers"])
def test_techs_get_403_on_office_pages(client, team, log_in, app, url):
    if url == "/customers" and "office.customers" not in app.view_functions:
        pytest.skip("the customers pages are not registered")
    _, people = team
    log_in(client, people["tech"])
    assert client.get(url).status_code == 403


def test_managers_see_controls_matching_the_rules(client, team, log_in):
    _, people = team
    log_in(client, people["admin"])
    html = client.get("/team").get_data(as_text=True)
    owner_row = re.search(rf'<tr id="user-{people["owner"].id}".*?</tr>', html, re.S).group(0)
    tech_row = re.search(rf'<tr id="user-{people["tech"].id}".*?</tr>', html, re.S).group(0)
    admin_row = re.search(rf'<tr id="user-{people["admin"].id}".*?</tr>', html, re.S).group(0)
    # An admin cannot touch the owner, cannot offer "owner", cannot deactivate themselves.
    assert "<select" not in owner_row and "Deactivate" not in owner_row
    assert "Only an owner can change another owner." in owner_row
    assert "<select" in tech_row and 'value="owner"' not in tech_row and "Deactivate" in tech_row
    assert "Deactivate" not in admin_row
    assert 'value="owner"' not in html.split('id="invitations"')[1]


def test_the_only_owner_has_no_demote_or_deactivate_controls(client, team, log_in):
    _, people = team
    log_in(client, people["owner"])
    html = client.get("/team").get_data(as_text=True)
    owner_row = re.search(rf'<tr id="user-{people["owner"].id}".*?</tr>', html, re.S).group(0)
    assert "<select" not in owner_row and "Deactivate" not in owner_row
    assert "The only owner" in owner_row
    tech_row = re.search(rf'<tr id="user-{people["tech"].id}".*?</tr>', html, re.S).group(0)
    assert 'value="owner"' in tech_row  # an owner can make owners


# --- Invitations end to end ----------------------------------------------------------------


def test_invite_flow_end_to_end(app, client, team, log_in):
    company, people = team
    log_in(client, people["admin"])
    page = client.get("/team").get_data(as_text=True)
    assert "ProSMS doesn't email invitations" in page

    response = client.post(
        "/team/invitations",
        data={"email": "New.Tech@Example.com", "name": "Nina", "role": "tech"},
    )
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    link = _invite_link(html)
    assert link.startswith(app.config["PUBLIC_BASE_URL"] + "/invite/")
    assert "shown only once" in html
    invitation = db.session.scalar(sa.select(Invitation))
    assert link.rsplit("/", 1)[1] not in invitation.token_hash
    # The link is not shown again on the next visit; the invitation is listed as pending.
    again = client.get("/team").get_data(as_text=True)
    assert link not in again
    assert f'id="invitation-{invitation.id}"' in again

    newcomer = app.test_client()
    form = newcomer.get(_path(link))
    assert form.status_code == 200
    form_html = form.get_data(as_text=True)
    assert f"Join {company.name}" in form_html
    assert "Technician" in form_html and "new.tech@example.com" in form_html
    assert 'value="Nina"' in form_html

    mismatch = newcomer.post(
        _path(link), data={"name": "Nina T", "password": PASSWORD, "confirm": "other-password"}
    )
    assert mismatch.status_code == 400
    assert "The two passwords don&#39;t match." in mismatch.get_data(as_text=True)

    joined = newcomer.post(
        _path(link), data={"name": "Nina T", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert joined.status_code == 302
    with app.test_request_context():
        assert joined.headers["Location"] == url_for("tech.index")
    user = db.session.scalar(sa.select(User).filter_by(email="new.tech@example.com"))
    assert (user.company_id, user.role, user.name) == (company.id, Role.TECH, "Nina T")
    assert user.check_password(PASSWORD)
    db.session.refresh(invitation)
    assert invitation.accepted_at is not None
    with newcomer.session_transaction() as session:
        assert session["_user_id"] == user.get_id()

    # One time only: the same link, even from another browser, is refused.
    second = app.test_client()
    for method in ("get", "post"):
        used = getattr(second, method)(
            _path(link), data={"name": "Eve", "password": PASSWORD, "confirm": PASSWORD}
        )
        assert used.status_code == 410
        assert "already been used" in used.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(User.id)).filter_by(name="Eve")) == 0


def test_an_expired_link_is_refused(app, client, team, log_in):
    _, people = team
    log_in(client, people["owner"])
    link = _invite_link(
        client.post(
            "/team/invitations", data={"email": "late@example.com", "role": "office"}
        ).get_data(as_text=True)
    )
    invitation = db.session.scalar(sa.select(Invitation))
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = app.test_client().post(
        _path(link), data={"name": "Late", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response.status_code == 410
    assert "expired" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(User).filter_by(email="late@example.com")) is None
    # Nor is it listed as pending any more.
    assert "late@example.com" not in client.get("/team").get_data(as_text=True)


def test_an_unknown_token_is_404(client):
    assert client.get("/invite/not-a-real-token").status_code == 404
    assert client.post("/invite/not-a-real-token", data={"name": "x"}).status_code == 404


def test_revoking_an_invitation_with_htmx(app, client, team, log_in):
    _, people = team
    log_in(client, people["owner"])
    response = client.post(
        "/team/invitations",
        data={"email": "maybe@example.com", "role": "tech"},
        headers=HTMX,
    )
    assert response.status_code == 200
    fragment = response.get_data(as_text=True)
    assert fragment.startswith('<section id="invitations"')
    assert "<html" not in fragment
    link = _invite_link(fragment)
    invitation = db.session.scalar(sa.select(Invitation))

    revoked = client.post(f"/team/invitations/{invitation.id}/revoke", headers=HTMX)
    assert revoked.status_code == 200
    html = revoked.get_data(as_text=True)
    assert html.startswith('<section id="invitations"')
    assert "The invitation for maybe@example.com was withdrawn." in html
    assert f'id="invitation-{invitation.id}"' not in html

    response = app.test_client().get(_path(link))
    assert response.status_code == 410
    assert "withdrawn" in response.get_data(as_text=True)


def test_revoking_without_javascript_redirects_back(client, team, log_in):
    _, people = team
    log_in(client, people["owner"])
    client.post("/team/invitations", data={"email": "maybe@example.com", "role": "tech"})
    invitation = db.session.scalar(sa.select(Invitation))
    response = client.post(f"/team/invitations/{invitation.id}/revoke")
    assert response.status_code == 302 and response.headers["Location"] == "/team"
    assert "was withdrawn" in client.get("/team").get_data(as_text=True)


def test_an_accepted_invitation_cannot_be_revoked(client, team, log_in):
    _, people = team
    log_in(client, people["owner"])
    client.post("/team/invitations", data={"email": "joined@example.com", "role": "tech"})
    invitation = db.session.scalar(sa.select(Invitation))
    invitation.accepted_at = utcnow()
    db.session.commit()

    refused = client.post(f"/team/invitations/{invitation.id}/revoke", headers=HTMX)
    assert refused.status_code == 409
    html = refused.get_data(as_text=True)
    assert html.startswith('<section id="invitations"')
    assert "This invitation has already been accepted." in html

    plain = client.post(f"/team/invitations/{invitation.id}/revoke")
    assert plain.status_code == 302 and plain.headers["Location"] == "/team"
    assert "This invitation has already been accepted." in client.get("/team").get_data(
        as_text=True
    )
    db.session.expire_all()
    assert db.session.get(Invitation, invitation.id).revoked_at is None


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "bad", "role": "tech"}, "email", "Enter a valid email address."),
        ({"email": "", "role": "tech"}, "email", "Enter the email address"),
        ({"email": "x@example.com", "role": "boss"}, "role", "Not a valid choice"),
        ({"email": "{taken}", "role": "tech"}, "email", "is already on your team"),
    ],
)
def test_invite_errors_name_the_field(client, team, log_in, data, field, message):
    _, people = team
    log_in(client, people["owner"])
    data = {**data, "email": data["email"].format(taken=people["tech"].email)}
    for headers in ({}, HTMX):
        response = client.post("/team/invitations", data=data, headers=headers)
        assert response.status_code == 400
        html = response.get_data(as_text=True)
        error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
        assert error and message in error.group(1), html
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0


def test_inviting_another_companys_address_does_not_say_it_has_an_account(
    client, team, log_in, make
):
    """The refusal must not confirm that an address belongs to an account elsewhere."""
    _, people = team
    elsewhere = make.company("Elsewhere HVAC").owner
    db.session.commit()
    log_in(client, people["owner"])
    response = client.post("/team/invitations", data={"email": elsewhere.email, "role": "tech"})
    assert response.status_code == 400
    html = unescape(response.get_data(as_text=True))
    assert "This address can't be invited." in html
    assert "account" not in re.search(r'<p class="error" id="email-error">([^<]*)</p>', html)[1]
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0


def test_an_admin_cannot_invite_an_owner(client, team, log_in):
    _, people = team
    log_in(client, people["admin"])
    response = client.post("/team/invitations", data={"email": "o@example.com", "role": "owner"})
    assert response.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count(Invitation.id))) == 0


def test_accepting_while_logged_in_as_someone_else_switches_user(client, team, log_in):
    _, people = team
    log_in(client, people["owner"])
    link = _invite_link(
        client.post(
            "/team/invitations", data={"email": "clerk@example.com", "role": "office"}
        ).get_data(as_text=True)
    )
    response = client.post(
        _path(link), data={"name": "Clerk", "password": PASSWORD, "confirm": PASSWORD}
    )
    assert response.headers["Location"] == "/jobs"
    clerk = db.session.scalar(sa.select(User).filter_by(email="clerk@example.com"))
    with client.session_transaction() as session:
        assert session["_user_id"] == clerk.get_id()


# --- Roles and deactivation ----------------------------------------------------------------


def test_change_role_with_htmx_returns_the_row(client, team, log_in):
    _, people = team
    tech = people["tech"]
    log_in(client, people["owner"])
    response = client.post(f"/team/{tech.id}/role", data={"role": "office"}, headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.startswith(f'<tr id="user-{tech.id}"')
    assert '<option value="office" selected>' in html
    db.session.expire_all()
    assert db.session.get(User, tech.id).role == Role.OFFICE


def test_change_role_without_javascript(client, team, log_in):
    _, people = team
    tech = people["tech"]
    log_in(client, people["owner"])
    response = client.post(f"/team/{tech.id}/role", data={"role": "admin"})
    assert response.status_code == 302 and response.headers["Location"] == "/team"
    assert "Tina Tech is now Admin." in client.get("/team").get_data(as_text=True)


def test_guard_rails_show_in_the_row(client, team, log_in):
    _, people = team
    log_in(client, people["admin"])
    # An admin making someone owner.
    response = client.post(f"/team/{people['tech'].id}/role", data={"role": "owner"}, headers=HTMX)
    assert response.status_code == 403
    assert "Only an owner can make someone an owner." in response.get_data(as_text=True)
    # An admin changing the owner.
    response = client.post(f"/team/{people['owner'].id}/role", data={"role": "tech"}, headers=HTMX)
    assert response.status_code == 403
    assert "Only an owner can change another owner." in response.get_data(as_text=True)
    # Deactivating yourself.
    response = client.post(f"/team/{people['admin'].id}/deactivate", headers=HTMX)
    assert response.status_code == 403
    assert "You can&#39;t deactivate yourself." in response.get_data(as_text=True)
    # A role that does not exist.
    response = client.post(f"/team/{people['tech'].id}/role", data={"role": "god"}, headers=HTMX)
    assert response.status_code == 400
    db.session.expire_all()
    assert db.session.get(User, people["tech"].id).role == Role.TECH
    assert db.session.get(User, people["owner"].id).role == Role.OWNER
    assert db.session.get(User, people["admin"].id).active


def test_the_last_owner_cannot_step_down(client, team, log_in):
    _, people = team
    owner = people["owner"]
    log_in(client, owner)
    response = client.post(f"/team/{owner.id}/role", data={"role": "admin"}, headers=HTMX)
    assert response.status_code == 409
    assert "only active owner" in response.get_data(as_text=True)
    response = client.post(f"/team/{owner.id}/role", data={"role": "admin"})
    assert response.status_code == 302
    assert "only active owner" in client.get("/team").get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(User, owner.id).role == Role.OWNER


def test_deactivate_and_reactivate_with_htmx(app, client, team, log_in):
    _, people = team
    tech = people["tech"]
    log_in(client, people["owner"])
    response = client.post(f"/team/{tech.id}/deactivate", headers=HTMX)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert html.startswith(f'<tr id="user-{tech.id}" class="is-inactive"')
    assert "Deactivated" in html and "Reactivate" in html
    login = app.test_client().post("/login", data={"email": tech.email, "password": PASSWORD})
    assert "deactivated" in login.get_data(as_text=True)

    response = client.post(f"/team/{tech.id}/reactivate", headers=HTMX)
    assert response.status_code == 200
    assert "Deactivate" in response.get_data(as_text=True)
    login = app.test_client().post("/login", data={"email": tech.email, "password": PASSWORD})
    assert login.status_code == 302


def test_team_ids_of_another_company_are_404(client, team, log_in, make):
    _, people = team
    other = make.company()
    stranger = make.user(other, Role.TECH)
    db.session.commit()
    log_in(client, people["owner"])
    for action in ("role", "deactivate", "reactivate"):
        assert (
            client.post(f"/team/{stranger.id}/{action}", data={"role": "office"}).status_code == 404
        )
    db.session.expire_all()
    assert db.session.get(User, stranger.id).active


def test_the_point_of_contact_is_marked(client, team, log_in):
    company, people = team
    company.poc_user_id = people["office"].id
    db.session.commit()
    log_in(client, people["owner"])
    html = client.get("/team").get_data(as_text=True)
    row = re.search(rf'<tr id="user-{people["office"].id}".*?</tr>', html, re.S).group(0)
    assert "Point of Contact" in row
    assert "go to the original owner or admin until you choose a new Point of Contact" in row
    other = re.search(rf'<tr id="user-{people["tech"].id}".*?</tr>', html, re.S).group(0)
    assert "Point of Contact" not in other

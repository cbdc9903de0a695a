"""/me (name, mobile, photo) and the public photo URL that On My Way sends as MMS."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from app.extensions import db
from app.models import Role
from tests.fixtures.notifications import image_bytes


@pytest.fixture
def tech(make, log_in, client):
    company = make.company()
    user = make.user(company, role=Role.TECH, name="Sam Lee")
    db.session.commit()
    log_in(client, user)
    return user


def upload(client, data: bytes, name: str = "me.png", url: str = "/me/photo"):
    return client.post(
        url,
        data={"photo": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_tech_uploads_a_photo_that_is_reencoded(tech, client, fmt):
    response = upload(client, image_bytes(fmt, (900, 600)), f"me.{fmt.lower()}")
    assert response.status_code == 302
    db.session.refresh(tech)
    assert tech.photo_filename
    served = client.get(f"/p/{tech.photo_token}.jpg")
    assert served.status_code == 200
    assert served.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(served.data)) as image:
        assert image.format == "JPEG"
        assert image.size == (480, 480)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "empty.png", "Choose a photo to upload."),
        (b"%PDF-1.4 not an image", "cv.pdf", "That file is not a photo we can read."),
        (b"GIF89a" + image_bytes("GIF")[6:], "anim.gif", "Upload a JPEG, PNG or WebP photo."),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "x.svg", "not a photo we can read"),
    ],
)
def test_anything_else_is_refused_with_a_clear_error(tech, client, data, name, message):
    response = upload(client, data, name)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    db.session.refresh(tech)
    assert tech.photo_filename is None


def test_too_big_is_refused(tech, client):
    big = image_bytes("PNG", (64, 64)) + b"\0" * (5 * 1024 * 1024)
    response = upload(client, big)
    assert response.status_code == 422
    assert "5 MB or smaller" in response.get_data(as_text=True)


def test_the_photo_url_needs_no_login_and_is_not_the_user_id(tech, client, app):
    upload(client, image_bytes("PNG"))
    db.session.refresh(tech)
    anonymous = app.test_client()
    assert anonymous.get(f"/p/{tech.photo_token}.jpg").status_code == 200
    assert str(tech.id) != tech.photo_token and len(tech.photo_token) >= 40
    assert anonymous.get(f"/p/{tech.id}.jpg").status_code == 404
    assert anonymous.get(f"/p/{tech.photo_token[:-1]}x.jpg").status_code == 404


def test_a_removed_photo_is_gone(tech, client, app):
    upload(client, image_bytes("PNG"))
    db.session.refresh(tech)
    token = tech.photo_token
    assert client.post("/me/photo/remove").status_code == 302
    assert app.test_client().get(f"/p/{token}.jpg").status_code == 404


def test_name_and_mobile_are_saved_and_checked(tech, client):
    response = client.post("/me", data={"name": "Samuel Lee", "mobile_phone": "(512) 555-0142"})
    assert response.status_code == 302
    db.session.refresh(tech)
    assert (tech.name, tech.mobile_phone) == ("Samuel Lee", "+15125550142")
    bad = client.post("/me", data={"name": "Samuel Lee", "mobile_phone": "12"})
    assert bad.status_code == 422
    assert "is not a valid phone number" in bad.get_data(as_text=True)
    empty = client.post("/me", data={"name": "  ", "mobile_phone": ""})
    assert empty.status_code == 422
    assert "Enter your name." in empty.get_data(as_text=True)


def test_an_admin_sets_a_techs_photo_but_a_tech_cannot_set_anothers(make, log_in, client):
    company = make.company()
    admin = make.user(company, role=Role.ADMIN)
    sam = make.user(company, role=Role.TECH)
    kim = make.user(company, role=Role.TECH)
    other_company_tech = make.user(make.company(), role=Role.TECH)
    db.session.commit()
    log_in(client, admin)
    assert client.get(f"/me?user_id={sam.id}").status_code == 200
    assert upload(client, image_bytes("PNG"), url=f"/me/photo?user_id={sam.id}").status_code == 302
    db.session.refresh(sam)
    assert sam.photo_filename
    assert client.post(f"/me?user_id={sam.id}", data={"name": "Hacked"}).status_code == 403
    assert client.get(f"/me?user_id={other_company_tech.id}").status_code == 404
    client.post("/logout")
    log_in(client, kim)
    assert upload(client, image_bytes("PNG"), url=f"/me/photo?user_id={sam.id}").status_code == 403


def test_profile_needs_a_login(client):
    response = client.get("/me")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_tech_reads_the_profile_in_the_tech_layout(tech, client):
    html = client.get("/me").get_data(as_text=True)

    assert 'class="tech-bar"' in html and "/static/tech.css" in html
    assert '<a class="tech-back" href="/tech">' in html  # the way back to My day
    assert '<body class="tech"' in html and 'class="mainnav"' not in html
    assert "/static/texts.css" in html and "Your profile" in html


@pytest.mark.parametrize("role", [Role.OWNER, Role.ADMIN, Role.OFFICE])
def test_office_roles_read_the_profile_in_the_office_layout(make, log_in, client, role):
    company = make.company()
    log_in(client, make.user(company, role=role))

    html = client.get("/me").get_data(as_text=True)

    assert 'class="mainnav"' in html and "/static/texts.css" in html
    assert 'class="tech-bar"' not in html and "/static/tech.css" not in html

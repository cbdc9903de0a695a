"""The company profile page, the public logo route and the settings hub."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from markupsafe import escape
from PIL import Image

from app.extensions import db
from app.models import Role
from app.office import settings as settings_module
from app.services.company_profile import LOGO_FILENAME, logo_folder

PROFILE = {
    "name": "Acme Plumbing & Sons",
    "business_phone": "(512) 555-0123",
    "time_zone": "America/Los_Angeles",
    "address": "1 Main St, Austin, TX",
    "email": "Office@Acme.example.com",
    "website": "acme.example.com",
}


def _image(fmt: str = "PNG", size=(300, 120), color=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    mode = "RGBA" if fmt == "PNG" else "RGB"
    Image.new(mode, size, color).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def owner(make, client, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    return company.owner


def _post(client, **changes):
    data = {**PROFILE, **changes}
    return client.post("/settings/company", data=data, content_type="multipart/form-data")


def test_profile_page_shows_the_current_values(client, owner):
    html = client.get("/settings/company").get_data(as_text=True)
    assert "Company profile" in html
    assert f'value="{owner.company.name}"' in html
    assert 'value="(512) 555-0000"' in html  # shown formatted, stored as E.164
    assert 'enctype="multipart/form-data"' in html
    options = re.findall(r'<option[^>]*value="([^"]+)"', html)
    assert options[0] == "America/New_York" and "Asia/Tokyo" in options


def test_saving_the_profile_normalises_the_phone(client, owner):
    response = _post(client)
    assert response.status_code == 302
    assert response.headers["Location"] == "/settings/company"
    company = owner.company
    db.session.refresh(company)
    assert company.name == "Acme Plumbing & Sons"
    assert company.business_phone == "+15125550123"
    assert company.time_zone == "America/Los_Angeles"
    assert company.email == "office@acme.example.com"
    assert company.website == "https://acme.example.com"
    assert company.address == "1 Main St, Austin, TX"
    assert "Company profile saved." in client.get("/settings/company").get_data(as_text=True)


def test_business_phone_may_be_cleared(client, owner):
    assert _post(client, business_phone="").status_code == 302
    db.session.refresh(owner.company)
    assert owner.company.business_phone is None


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("business_phone", "555-12", "is not a valid phone number"),
        ("business_phone", "call me", "is not a phone number"),
        ("name", "", "Enter the company name."),
        ("time_zone", "Moon/Crater", "Not a valid choice"),
        ("email", "nope", "Enter a valid email address."),
        ("website", "not a site", "is not a web address"),
    ],
)
def test_bad_input_is_a_form_error_naming_the_field(client, owner, field, value, message):
    before = (owner.company.name, owner.company.business_phone)
    response = _post(client, **{field: value})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', html)
    assert error, html
    assert message in error.group(1)
    db.session.refresh(owner.company)
    assert (owner.company.name, owner.company.business_phone) == before
    # Nothing typed is lost.
    if field != "name":
        assert "Acme Plumbing &amp; Sons" in html


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_logo_upload_is_reencoded_to_png_under_a_random_name(app, client, owner, fmt):
    response = client.post(
        "/settings/company",
        data={**PROFILE, "logo": (io.BytesIO(_image(fmt, size=(1600, 400))), f"logo.{fmt}")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    company = owner.company
    db.session.refresh(company)
    filename = company.logo_filename
    assert LOGO_FILENAME.match(filename)
    assert str(company.id) != filename.split(".")[0]
    stored = logo_folder(app.config["UPLOAD_FOLDER"]) / filename
    with Image.open(stored) as image:
        assert image.format == "PNG"
        assert image.size == (800, 200)  # fitted into 800x800, proportions kept

    # Public: no login needed, cached for a long time, never sniffed as anything else.
    public = app.test_client().get(f"/logos/{filename}")
    assert public.status_code == 200
    assert public.mimetype == "image/png"
    assert public.data == stored.read_bytes()
    cache = public.headers["Cache-Control"]
    assert "public" in cache and "max-age=31536000" in cache and "immutable" in cache
    assert public.headers["X-Content-Type-Options"] == "nosniff"
    page = client.get("/settings/company").get_data(as_text=True)
    assert f'src="/logos/{filename}"' in page


def test_replacing_and_removing_the_logo_deletes_the_old_file(app, client, owner):
    folder = logo_folder(app.config["UPLOAD_FOLDER"])
    client.post(
        "/settings/company",
        data={**PROFILE, "logo": (io.BytesIO(_image()), "a.png")},
        content_type="multipart/form-data",
    )
    db.session.refresh(owner.company)
    first = owner.company.logo_filename
    client.post(
        "/settings/company",
        data={**PROFILE, "logo": (io.BytesIO(_image(color=(0, 0, 255))), "b.png")},
        content_type="multipart/form-data",
    )
    db.session.refresh(owner.company)
    second = owner.company.logo_filename
    assert second != first
    assert not (folder / first).exists() and (folder / second).exists()
    assert app.test_client().get(f"/logos/{first}").status_code == 404

    client.post(
        "/settings/company",
        data={**PROFILE, "remove_logo": "y"},
        content_type="multipart/form-data",
    )
    db.session.refresh(owner.company)
    assert owner.company.logo_filename is None
    assert not (folder / second).exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_image()[:60], "not an image we can read"),  # a truncated PNG
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not an image we can read"),
        (b"\x89PNG\r\n\x1a\n" + b"0" * (2 * 1024 * 1024), "2 MB or smaller"),
    ],
)
def test_bad_logo_is_a_form_error(app, client, owner, payload, message):
    response = client.post(
        "/settings/company",
        data={**PROFILE, "logo": (io.BytesIO(payload), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    error = re.search(
        r'<p class="error" id="logo-error">([^<]*)</p>', response.get_data(as_text=True)
    )
    assert error and message in error.group(1)
    db.session.refresh(owner.company)
    assert owner.company.logo_filename is None
    # The other changes were not half-saved either.
    assert owner.company.name != PROFILE["name"]


def test_gif_logo_is_refused(client, owner):
    gif = io.BytesIO()
    Image.new("RGB", (10, 10)).save(gif, "GIF")
    response = client.post(
        "/settings/company",
        data={**PROFILE, "logo": (io.BytesIO(gif.getvalue()), "logo.gif")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 400
    assert "JPEG, PNG or WebP" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "name",
    ["..%2F..%2Fsecret.png", "1.png", "x" * 43 + ".jpg", "%2Fetc%2Fpasswd", "nothere" * 6 + ".png"],
)
def test_logo_route_refuses_unsafe_or_unknown_names(client, name, app):
    secret = Path(app.config["UPLOAD_FOLDER"]) / "secret.png"
    secret.write_bytes(b"secret")
    response = client.get(f"/logos/{name}")
    assert response.status_code == 404
    assert response.data != b"secret"


@pytest.mark.parametrize("role", [Role.OFFICE, Role.TECH])
def test_only_managers_open_the_company_profile(client, make, log_in, role):
    company = make.company()
    user = make.user(company, role)
    db.session.commit()
    log_in(client, user)
    assert client.get("/settings/company").status_code == 403
    assert _post(client).status_code == 403
    db.session.refresh(company)
    assert company.name != PROFILE["name"]


def test_an_admin_edits_the_company_profile(client, make, log_in):
    company = make.company()
    admin = make.user(company, Role.ADMIN)
    db.session.commit()
    log_in(client, admin)
    assert _post(client).status_code == 302
    db.session.refresh(company)
    assert company.name == PROFILE["name"]


# --- Settings hub ----------------------------------------------------------------------------


def test_settings_hub_links_every_registered_page(app, client, owner):
    html = client.get("/settings").get_data(as_text=True)
    shown = 0
    for card in settings_module.SETTINGS_CARDS:
        if card.endpoint in app.view_functions:
            with app.test_request_context():
                from flask import url_for

                href = url_for(card.endpoint)
            assert f'href="{href}"' in html, card.title
            assert escape(card.title) in html
            shown += 1
        else:
            assert escape(card.title) not in html
    assert shown >= 2  # company profile and team are built here
    assert 'href="/settings/company"' in html and 'href="/team"' in html


def test_settings_hub_hides_cards_whose_page_does_not_exist(client, owner, monkeypatch):
    missing = settings_module.SettingsCard("Billing plans", "office.no_such_page", "Not built.")
    monkeypatch.setattr(
        settings_module, "SETTINGS_CARDS", (*settings_module.SETTINGS_CARDS, missing)
    )
    response = client.get("/settings")
    assert response.status_code == 200
    assert "Billing plans" not in response.get_data(as_text=True)


def test_settings_cards_summarise_profile_and_team(client, owner, make):
    make.user(owner.company, Role.TECH)
    db.session.commit()
    html = client.get("/settings").get_data(as_text=True)
    assert "2 active people" in html
    assert "No business phone" not in html
    client.post("/team/invitations", data={"email": "new@example.com", "role": "tech"})
    owner.company.business_phone = None
    db.session.commit()
    html = client.get("/settings").get_data(as_text=True)
    assert "2 active people, 1 open invitation" in html
    assert "No business phone: calls to your number can&#39;t be forwarded." in html


def test_the_custom_number_is_refused_as_the_business_phone(client, owner, make):
    """Calls to the custom number ring the business phone: it would ring itself (a loop)."""
    make.number(owner.company, e164="+15126660100")
    owner.company.business_phone = "+15125550000"
    db.session.commit()
    response = _post(client, business_phone="(512) 666-0100")
    assert response.status_code == 400
    assert "That is your custom number" in response.get_data(as_text=True)
    db.session.refresh(owner.company)
    assert owner.company.business_phone == "+15125550000"


def test_the_media_privacy_setting_is_on_by_default_and_editable(client, owner):
    html = client.get("/settings/company").get_data(as_text=True)
    assert '<input checked id="delete_media_at_twilio" name="delete_media_at_twilio"' in html
    assert _post(client).status_code == 302  # the box left unticked
    db.session.refresh(owner.company)
    assert owner.company.delete_media_at_twilio is False
    assert _post(client, delete_media_at_twilio="y").status_code == 302
    db.session.refresh(owner.company)
    assert owner.company.delete_media_at_twilio is True

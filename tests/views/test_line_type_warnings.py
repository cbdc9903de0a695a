"""Warnings when a mobile typed on a form is a landline by Twilio Lookup (issue 19): the
customer form and page, a user's profile and the team page. The lookup happens once, while
the person who typed the number is there (2 s at most); pages show the kept answer."""

from __future__ import annotations

from html import unescape

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Customer, Role
from app.services.routing import account_owner
from tests.support import HX

LANDLINE = "+15125550101"
PRETTY = "(512) 555-0101"


def customer_form(**overrides):
    data = {
        "name": "Avery Johnson",
        "mobile_phone": PRETTY,
        "email": "",
        "address": "",
        "notes": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def office(make, client, log_in, fake):
    company = make.company(name="Drip Plumbing")
    db.session.commit()
    log_in(client, company.owner)
    return company


# -- customers -----------------------------------------------------------------------------------


def test_a_customer_mobile_lookup_calls_a_landline_is_kept_with_a_warning(office, client, fake):
    fake.lookups.set_line_type(LANDLINE, "landline")
    response = client.post("/customers/new", data=customer_form(), follow_redirects=True)
    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 200
    assert (
        f"{PRETTY} is a landline (checked with the carrier): texts to it won't arrive. "
        "Use the customer's mobile if they have one."
    ) in html
    assert html.count("is a landline") == 1  # on the page, not flashed as well
    customer = db.session.scalars(sa.select(Customer)).one()
    assert customer.mobile_phone == LANDLINE  # a warning, not a refusal
    assert fake.lookups.count(LANDLINE) == 1

    # The page and a second save use the kept answer: no second (billed) lookup.
    assert 'id="line-type-warning"' in client.get(f"/customers/{customer.id}").get_data(True)
    client.post(f"/customers/{customer.id}/edit", data=customer_form(notes="Gate code 12"))
    assert fake.lookups.count(LANDLINE) == 1


def test_coming_from_a_new_job_the_warning_is_flashed(office, client, fake):
    fake.lookups.set_line_type(LANDLINE, "landline")
    response = client.post("/customers/new?then=job", data=customer_form(), follow_redirects=True)
    assert "is a landline (checked with the carrier)" in unescape(response.get_data(as_text=True))


def test_a_customer_mobile_lookup_calls_a_mobile_has_no_warning(office, client, fake):
    response = client.post("/customers/new", data=customer_form(), follow_redirects=True)
    html = unescape(response.get_data(as_text=True))
    assert "line-type-warning" not in html and "landline" not in html
    assert fake.lookups.count(LANDLINE) == 1


@pytest.mark.parametrize("fault", ["slow", "5xx"])
def test_when_lookup_is_slow_or_down_the_customer_is_saved_as_before(office, client, fake, fault):
    fake.lookups.set_line_type(LANDLINE, "landline")
    if fault == "slow":
        fake.lookups.set_latency(2.0)  # the form waits 2 s at most
    else:
        fake.fail_next(1, status=500, path_contains="/PhoneNumbers/")
    response = client.post("/customers/new", data=customer_form(), follow_redirects=True)
    assert response.status_code == 200
    assert "landline" not in unescape(response.get_data(as_text=True))  # the number type can't tell
    assert db.session.scalars(sa.select(Customer)).one().mobile_phone == LANDLINE
    # A toll-free number still gets the number type's warning.
    response = client.post(
        "/customers/new",
        data=customer_form(name="Toll Free Inc", mobile_phone="(800) 555-1234"),
        follow_redirects=True,
    )
    assert "looks like a toll-free number" in unescape(response.get_data(as_text=True))


def test_with_twilio_lookup_off_nothing_is_looked_up(office, client, fake, app):
    fake.lookups.set_line_type(LANDLINE, "landline")
    app.config["TWILIO_LOOKUP"] = False
    try:
        response = client.post("/customers/new", data=customer_form(), follow_redirects=True)
    finally:
        app.config["TWILIO_LOOKUP"] = True
    assert "landline" not in unescape(response.get_data(as_text=True))
    assert fake.lookups.count() == 0


# -- a user's own mobile, and the team page ---------------------------------------------------


@pytest.fixture
def tech(make, fake):
    company = make.company(name="Drip Plumbing")
    user = make.user(company, role=Role.TECH, name="Sam Lee")
    db.session.commit()
    return user


def test_a_tech_saving_a_landline_mobile_is_warned_forwards_wont_arrive(tech, client, log_in, fake):
    fake.lookups.set_line_type(LANDLINE, "landline")
    log_in(client, tech)
    response = client.post(
        "/me", data={"name": "Sam Lee", "mobile_phone": PRETTY}, follow_redirects=True
    )
    html = unescape(response.get_data(as_text=True))
    assert "Profile saved." in html
    assert (
        f"Your mobile {PRETTY} is a landline (checked with the carrier): forwarded customer "
        "texts and other texts to it won't arrive. Enter a mobile number."
    ) in html
    db.session.refresh(tech)
    assert tech.mobile_phone == LANDLINE
    client.get("/me")
    assert fake.lookups.count(LANDLINE) == 1


def test_a_mobile_profile_number_has_no_warning(tech, client, log_in, fake):
    log_in(client, tech)
    html = client.post(
        "/me", data={"name": "Sam Lee", "mobile_phone": PRETTY}, follow_redirects=True
    ).get_data(as_text=True)
    assert "line-type-warning" not in html


def test_the_team_page_shows_which_mobiles_are_landlines(tech, client, log_in, fake, make, app):
    fake.lookups.set_line_type(LANDLINE, "landline")
    log_in(client, tech)
    client.post("/me", data={"name": "Sam Lee", "mobile_phone": PRETTY})
    owner = account_owner(tech.company)
    other = make.user(tech.company, role=Role.TECH, name="Kim Ortiz", mobile_phone="+15125550102")
    db.session.commit()
    manager = app.test_client()
    log_in(manager, owner)
    page = manager.get("/team")
    assert page.status_code == 200, page.status_code
    html = unescape(page.get_data(as_text=True))
    assert f'id="line-warning-{tech.id}">Landline: forwarded texts won\'t arrive.' in html
    assert f"line-warning-{other.id}" not in html  # never looked up: the page asks nobody
    assert fake.lookups.count() == 1

    # The member's row as its own forms redraw it keeps the warning.
    row = manager.post(f"/team/{tech.id}/role", data={"role": "office"}, headers=HX)
    assert f'id="line-warning-{tech.id}"' in row.get_data(as_text=True)


# -- /dev/lookups: the fake Twilio's Lookup, by hand -----------------------------------------


def test_the_dev_page_sets_a_line_type_and_lists_this_companys_lookups(office, client, fake, make):
    stranger = make.company(name="Other Co")
    make.customer(stranger, name="Not Ours", phone="+15125550177")
    db.session.commit()
    client.post("/customers/new", data=customer_form())  # looked up: a mobile
    fake.lookups.set_line_type("+15125550177", "landline")
    from app.sms import gateway

    gateway.lookup_line_type("+15125550177")  # another company's number

    response = client.post(
        "/dev/lookups/line-type", data={"phone": PRETTY, "line_type": "landline"}
    )
    assert response.status_code == 302
    html = unescape(client.get("/dev/lookups").get_data(as_text=True))
    assert "Lookup now answers Landline for (512) 555-0101." in html
    assert "(512) 555-0101: Landline" in html  # the switch
    assert "number type" in html  # the first lookup, a mobile by the rules
    assert "555-0177" not in html  # another company's numbers are not shown

    # The kept answer was forgotten: the next save asks again and hears "landline".
    customer = db.session.scalars(sa.select(Customer).filter_by(company_id=office.id)).one()
    response = client.post(
        f"/customers/{customer.id}/edit", data=customer_form(), follow_redirects=True
    )
    assert "is a landline" in unescape(response.get_data(as_text=True))
    assert fake.lookups.count(LANDLINE) == 2


def test_the_dev_page_refuses_a_bad_number_and_can_fail_the_next_lookup(office, client, fake):
    response = client.post(
        "/dev/lookups/line-type",
        data={"phone": "12", "line_type": "landline"},
        follow_redirects=True,
    )
    assert "is not a valid phone number" in unescape(response.get_data(as_text=True))
    client.post("/dev/lookups/fail")
    response = client.post("/customers/new", data=customer_form(), follow_redirects=True)
    assert response.status_code == 200  # saved all the same
    assert fake.lookups.answered[-1].status == 503


def test_the_dev_page_is_gone_without_the_fake(office, client, app):
    app.config["TWILIO_FAKE"] = False
    try:
        assert client.get("/dev/lookups").status_code == 404
    finally:
        app.config["TWILIO_FAKE"] = True

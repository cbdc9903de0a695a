"""The customer picker shared by the booking, estimate and invoice forms: its search
endpoint, the field's validation, the preselected chip and the no-JavaScript path."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Estimate, Invoice, Job, Role
from tests.support import HX

SCRIPT = "<script>alert(1)</script>"

# The three forms, with what else each needs to be valid.
FORMS = {
    "/jobs/new": {
        "description": "Water heater flush",
        "address": "",
        "date": "2026-07-01",
        "start_time": "09:00",
        "end_time": "11:30",
        "notes": "Side gate",
    },
    "/estimates/new": {"job_id": "0", "title": "Side gate"},
    "/invoices/new": {"job_id": "0", "title": "Side gate"},
}
CREATED = {"/jobs/new": Job, "/estimates/new": Estimate, "/invoices/new": Invoice}


@pytest.fixture
def office_company(make, client, log_in):
    company = make.company(name="Drip Plumbing", time_zone="America/Chicago")
    db.session.commit()
    log_in(client, company.owner)
    return company


def found(html: str) -> list[str]:
    """The names the picker lists, in order."""
    return re.findall(r'role="option"[^>]*>\s*<span class="picker-name">([^<]*)</span>', html)


def search(client, q: str, **params) -> str:
    response = client.get("/customers/search", query_string={"q": q, **params}, headers=HX)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def field_error(html: str) -> str | None:
    match = re.search(r'<p class="error" id="customer_id-error">([^<]*)</p>', html)
    return match.group(1) if match else None


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count(model.id)))


# --- The search endpoint -----------------------------------------------------------------


def test_search_needs_an_office_login(make, client, log_in):
    assert client.get("/customers/search?q=a").status_code == 302
    company = make.company()
    tech = make.user(company, role=Role.TECH)
    db.session.commit()
    log_in(client, tech)
    assert client.get("/customers/search?q=a").status_code == 403


def test_search_finds_only_the_companys_customers(make, client, office_company):
    ours = make.customer(office_company, name="Avery Johnson", phone="+15125550101")
    theirs = make.customer(make.company(), name="Avery Johnson", phone="+15125550102")
    db.session.commit()
    for q in ("avery", "Avery Johnson", "555", "(512) 555-01", ""):
        html = search(client, q)
        assert f'value="{ours.id}"' in html, q
        assert f'value="{theirs.id}"' not in html, q


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ames", ["Adam Ames"]),
        ("ADAM", ["Adam Ames"]),
        ("bella brown", ["bella Brown"]),
        ("brown bella", ["bella Brown"]),  # every word, in any order
        ("512 555 0102", ["bella Brown"]),
        ("(512) 555-0101", ["Adam Ames"]),
        ("5550101", ["Adam Ames"]),
        ("+1 512-555-01", ["bella Brown", "Adam Ames"]),
        ("barton", ["Adam Ames"]),
        ("1201 barton springs", ["Adam Ames"]),
        ("oak ave", ["bella Brown"]),
        ("bella@", ["bella Brown"]),
        ("adam oak", []),
        ("nobody", []),
        ("%", []),
        ("_", []),
    ],
)
def test_search_matches_name_phone_address_or_email(make, client, office_company, query, expected):
    make.customer(
        office_company, name="Adam Ames", phone="+15125550101", address="1201 Barton Springs Rd"
    )
    make.customer(
        office_company,
        name="bella Brown",
        phone="+15125550102",
        address="77 Oak Ave",
        email="bella@example.test",
    )
    db.session.commit()
    assert found(search(client, query)) == expected


def test_search_lists_exact_then_prefix_then_word_prefix_then_newest(make, client, office_company):
    for name in ("Mary Annson", "Ann Lee", "Annabel Fox", "Joanne Ruiz", "ann", "Zed Ann"):
        make.customer(office_company, name=name)
    db.session.commit()
    assert found(search(client, "ann")) == [
        "ann",  # the name typed
        "Annabel Fox",  # names starting with it, newest first
        "Ann Lee",
        "Zed Ann",  # a word starting with it, newest first
        "Mary Annson",
        "Joanne Ruiz",  # anywhere else
    ]


def test_search_shows_at_most_ten_and_says_so(make, client, office_company):
    for n in range(12):
        make.customer(office_company, name=f"Smith {n:02d}", phone=f"+1512555{n:04d}")
    db.session.commit()
    html = search(client, "smith")
    assert found(html) == [f"Smith {n:02d}" for n in range(11, 1, -1)]
    assert "Type more of the name, phone or address" in html
    assert "Type more" not in search(client, "smith 03")


def test_empty_search_lists_the_newest_customers(make, client, office_company):
    for n in range(12):
        make.customer(office_company, name=f"Customer {n:02d}")
    db.session.commit()
    html = search(client, "")
    assert found(html) == [f"Customer {n:02d}" for n in range(11, 1, -1)]
    assert "Newest customers" in html
    assert search(client, "   ") == html


def test_search_without_a_match_offers_to_add_the_customer(make, client, office_company):
    make.customer(office_company, name="Adam Ames")
    db.session.commit()
    html = search(client, "Zoe Quinn", then="estimate", field="customer_id")
    assert found(html) == []
    assert "No customer matches “Zoe Quinn”." in html
    assert 'href="/customers/new?then=estimate&amp;q=Zoe+Quinn"' in html
    # What was typed comes along: as the name, or as the number if it looks like one.
    form = client.get("/customers/new?then=estimate&q=Zoe+Quinn").get_data(as_text=True)
    assert re.search(r'name="name"[^>]*value="Zoe Quinn"', form)
    form = client.get("/customers/new?q=(512) 555-0199").get_data(as_text=True)
    assert re.search(r'name="mobile_phone"[^>]*value="\(512\) 555-0199"', form)
    assert not re.search(r'name="name"[^>]*value="\(', form)


def test_search_returns_the_fragment_the_picker_swaps(make, client, office_company):
    customer = make.customer(office_company, name="Adam Ames", address="1201 Barton Springs Rd")
    db.session.commit()
    html = search(client, "ada", field="customer_id")
    assert html.lstrip().startswith('<div id="customer_id-results"')
    assert "<html" not in html
    assert re.search(
        rf'<button type="submit" role="option" aria-selected="false" class="picker-option"\s+'
        rf'id="customer_id-option-{customer.id}" name="customer_id-pick" value="{customer.id}"',
        html,
    )
    assert "(512) 555-" in html and "1201 Barton Springs Rd" in html
    assert 'data-status="1 customer found."' in html
    # Ids are built from `field`: anything but a plain name falls back to customer_id.
    assert 'id="customer_id-results"' in search(client, "ada", field='x" onmouseover="1')


def test_search_shows_names_as_text(make, client, office_company):
    make.customer(office_company, name=SCRIPT, address=SCRIPT)
    db.session.commit()
    for q in ("script", ""):
        html = search(client, q)
        assert SCRIPT not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    html = search(client, SCRIPT + " nobody")
    assert SCRIPT not in html and "&lt;script&gt;" in html


# --- The forms ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", FORMS)
def test_forms_no_longer_list_every_customer(make, client, office_company, path):
    for n in range(5):
        make.customer(office_company, name=f"Listed {n}")
    db.session.commit()
    html = client.get(path).get_data(as_text=True)
    assert "Listed" not in html
    assert 'role="combobox"' in html
    assert 'hx-trigger="input changed delay:250ms, focus, find"' in html
    assert '<input type="hidden" name="customer_id" id="customer_id" value=""' in html
    then = path.split("/")[1].removesuffix("s")
    assert f'href="/customers/new?then={then}"' in html
    assert "picker.js" in html and "picker.css" in html


@pytest.mark.parametrize("path", FORMS)
def test_each_form_saves_for_the_picked_customer(make, client, office_company, path):
    customer = make.customer(office_company, name="Adam Ames")
    db.session.commit()
    response = client.post(path, data={"customer_id": str(customer.id), **FORMS[path]})
    assert response.status_code in (302, 303), response.get_data(as_text=True)[:2000]
    assert db.session.scalars(sa.select(CREATED[path])).one().customer_id == customer.id


@pytest.mark.parametrize("path", FORMS)
@pytest.mark.parametrize(
    ("customer_id", "message"),
    [
        ("", "Pick a customer."),
        ("0", "Pick a customer."),
        ("abc", "Pick a customer."),
        ("stranger", "That customer was not found."),
    ],
)
def test_each_form_refuses_a_missing_or_another_companys_customer(
    make, client, office_company, path, customer_id, message
):
    make.customer(office_company, name="Adam Ames")
    stranger = make.customer(make.company(), name="Adam Ames")
    db.session.commit()
    if customer_id == "stranger":
        customer_id = str(stranger.id)
    data = {"customer_id": customer_id, "customer_id-q": "ada", **FORMS[path]}
    response = client.post(path, data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html) == message
    assert "Side gate" in html  # nothing typed is lost
    assert 'name="customer_id-q" value="ada"' in html
    assert f'id="customer_id" value="{stranger.id}"' not in html
    assert count(CREATED[path]) == 0


@pytest.mark.parametrize("path", FORMS)
def test_a_preselected_customer_shows_as_the_chip(make, client, office_company, path):
    customer = make.customer(office_company, name="Adam Ames", address="1201 Barton Springs Rd")
    db.session.commit()
    html = client.get(f"{path}?customer_id={customer.id}").get_data(as_text=True)
    assert f'name="customer_id" id="customer_id" value="{customer.id}"' in html
    chip = html[html.index("data-picker-chip") : html.index("data-picker-search")]
    assert "hidden" not in chip.split(">")[0]
    assert '<span class="picker-name">Adam Ames</span>' in chip
    assert "1201 Barton Springs Rd" in chip
    assert "data-picker-search hidden" in html


@pytest.mark.parametrize("path", FORMS)
def test_a_preselected_customer_of_another_company_is_404(make, client, office_company, path):
    stranger = make.customer(make.company())
    db.session.commit()
    assert client.get(f"{path}?customer_id={stranger.id}").status_code == 404


def test_a_job_of_another_company_is_404_on_the_billing_forms(make, client, office_company):
    job = make.job(make.company())
    db.session.commit()
    assert client.get(f"/estimates/new?job_id={job.id}").status_code == 404


@pytest.mark.parametrize("path", FORMS)
def test_the_chip_stays_after_another_fields_error(make, client, office_company, path):
    customer = make.customer(office_company, name="Adam Ames")
    db.session.commit()
    bad = {"description": ""} if path == "/jobs/new" else {"title": "x" * 200}
    data = {"customer_id": str(customer.id), **FORMS[path], **bad}
    html = client.post(path, data=data).get_data(as_text=True)
    assert field_error(html) is None
    assert f'name="customer_id" id="customer_id" value="{customer.id}"' in html
    assert '<span class="picker-name">Adam Ames</span>' in html


# --- Without JavaScript ------------------------------------------------------------------


@pytest.mark.parametrize("path", FORMS)
def test_without_javascript_find_pick_and_change_re_render_the_form(
    make, client, office_company, path
):
    adam = make.customer(office_company, name="Adam Ames")
    make.customer(office_company, name="Bella Brown")
    db.session.commit()
    typed = {**FORMS[path], "customer_id": ""}

    # Find: the matches are listed in the form, nothing is saved, nothing is wrong yet.
    response = client.post(path, data={**typed, "customer_id-q": "ada", "customer_id-find": "1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert found(html) == ["Adam Ames"]
    assert field_error(html) is None and 'class="error"' not in html
    assert "Side gate" in html

    # A match: the form comes back with the chip.
    response = client.post(path, data={**typed, "customer_id-pick": str(adam.id)})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'name="customer_id" id="customer_id" value="{adam.id}"' in html
    assert "data-picker-search hidden" in html and "Side gate" in html

    # Change: back to the search box.
    response = client.post(path, data={**typed, "customer_id": adam.id, "customer_id-change": "1"})
    html = response.get_data(as_text=True)
    assert '<input type="hidden" name="customer_id" id="customer_id" value=""' in html
    assert "data-picker-chip hidden" in html
    assert count(CREATED[path]) == 0


def test_without_javascript_submitting_typed_text_lists_its_matches(make, client, office_company):
    make.customer(office_company, name="Adam Ames")
    db.session.commit()
    # Enter in the box submits the whole form: say what is missing and offer the matches.
    data = {**FORMS["/jobs/new"], "customer_id": "", "customer_id-q": "ames"}
    html = client.post("/jobs/new", data=data).get_data(as_text=True)
    assert field_error(html) == "Pick a customer."
    assert found(html) == ["Adam Ames"]


def test_enter_in_another_field_submits_the_form_not_find(make, client, office_company):
    make.customer(office_company)
    db.session.commit()
    html = client.get("/jobs/new").get_data(as_text=True)
    buttons = re.findall(r"<button[^>]*>", html[html.index('class="card job-form"') :])
    # The browser presses the form's first submit button on Enter: a plain one.
    assert 'name="' not in buttons[0] and 'type="submit"' in buttons[0]


def test_forms_without_customers_point_to_adding_one(make, client, office_company):
    for path, then in (("/jobs/new", "job"), ("/estimates/new", "estimate")):
        html = client.get(path).get_data(as_text=True)
        assert "You have no customers yet" in html
        assert f'href="/customers/new?then={then}"' in html
        assert 'role="combobox"' not in html


@pytest.mark.parametrize(("then", "path"), [("job", "/jobs/new"), ("invoice", "/invoices/new")])
def test_a_new_customer_goes_back_to_the_form_picked(client, office_company, then, path):
    data = {"name": "Zoe Quinn", "mobile_phone": "(512) 555-0199", "address": "", "email": ""}
    response = client.post(f"/customers/new?then={then}", data=data)
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith(f"{path}?customer_id=")
    assert '<span class="picker-name">Zoe Quinn</span>' in client.get(location).get_data(
        as_text=True
    )

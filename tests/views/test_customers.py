"""Office customers: list with live search, create, edit, one customer's page."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Customer, OptOut, Role
from tests.support import HX


@pytest.fixture
def office_company(make, client, log_in):
    company = make.company(name="Drip Plumbing")
    db.session.commit()
    log_in(client, company.owner)
    return company


def names_listed(html: str) -> list[str]:
    return re.findall(r'<a href="/customers/\d+">([^<]*)</a>', html)


def field_error(html: str, field_id: str) -> str | None:
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', html)
    return match.group(1) if match else None


def form_data(**overrides):
    data = {
        "name": "Avery Johnson",
        "mobile_phone": "(512) 555-0101",
        "email": "avery@example.com",
        "address": "1201 Barton Springs Rd",
        "notes": "Prefers mornings",
    }
    data.update(overrides)
    return data


# --- Access ------------------------------------------------------------------------------


def test_customers_need_an_office_role(make, client, log_in):
    assert client.get("/customers").status_code == 302
    company = make.company()
    tech = make.user(company, role=Role.TECH)
    customer = make.customer(company)
    db.session.commit()
    log_in(client, tech)
    for path in ("/customers", "/customers/new", f"/customers/{customer.id}"):
        assert client.get(path).status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/customers/{id}"),
        ("get", "/customers/{id}/edit"),
        ("post", "/customers/{id}/edit"),
        ("get", "/jobs/new?customer_id={id}"),
    ],
)
def test_another_companys_customer_is_404(make, client, office_company, method, path):
    theirs = make.customer(make.company(), name="Their Customer")
    db.session.commit()
    response = getattr(client, method)(path.format(id=theirs.id), data=form_data())
    assert response.status_code == 404
    db.session.expire_all()
    assert db.session.get(Customer, theirs.id).name == "Their Customer"


# --- List and search ---------------------------------------------------------------------


def test_list_is_sorted_by_name_and_scoped_to_the_company(make, client, office_company):
    make.customer(office_company, name="bella Brown", phone="+15125550102")
    make.customer(office_company, name="Adam Ames", phone="+15125550101")
    make.customer(make.company(), name="Someone Else")
    db.session.commit()
    html = client.get("/customers").get_data(as_text=True)
    assert names_listed(html) == ["Adam Ames", "bella Brown"]
    assert 'href="tel:+15125550101"' in html
    assert "(512) 555-0101" in html


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("adam", ["Adam Ames"]),
        ("555-0102", ["bella Brown"]),
        ("(512) 555 01", ["Adam Ames", "bella Brown"]),
        ("bella@", ["bella Brown"]),
        ("elm st", ["bella Brown"]),
        ("brown elm", ["bella Brown"]),
        ("nobody", []),
        ("%", []),
    ],
)
def test_search_by_name_phone_email_or_address(make, client, office_company, query, expected):
    make.customer(office_company, name="Adam Ames", phone="+15125550101")
    make.customer(
        office_company,
        name="bella Brown",
        phone="+15125550102",
        email="bella@example.test",
        address="12 Elm St",
    )
    db.session.commit()
    html = client.get("/customers", query_string={"q": query}).get_data(as_text=True)
    assert names_listed(html) == expected


def test_live_search_returns_the_list_fragment(make, client, office_company):
    make.customer(office_company, name="Adam Ames")
    db.session.commit()
    response = client.get("/customers?q=ada", headers={**HX, "HX-Target": "customer-list"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="customer-list"')
    assert "<html" not in html
    page = client.get("/customers").get_data(as_text=True)
    assert 'hx-trigger="input changed delay:300ms, search"' in page
    assert 'hx-push-url="true"' in page
    assert '<form class="toolbar" method="get" action="/customers"' in page


def test_list_paginates_with_real_links(make, client, office_company):
    for n in range(27):
        make.customer(office_company, name=f"Customer {n:02d}", phone=f"+1512555{n:04d}")
    db.session.commit()
    first = client.get("/customers").get_data(as_text=True)
    assert len(names_listed(first)) == 25
    assert 'href="/customers?page=2"' in first
    second = client.get("/customers?page=2").get_data(as_text=True)
    assert names_listed(second) == ["Customer 25", "Customer 26"]


# --- Create and edit ---------------------------------------------------------------------


def test_create_normalizes_the_phone_and_opens_the_customer(client, office_company):
    response = client.post("/customers/new", data=form_data())
    assert response.status_code == 302
    customer = db.session.scalars(sa.select(Customer)).one()
    assert response.headers["Location"] == f"/customers/{customer.id}"
    assert customer.mobile_phone == "+15125550101"
    assert customer.company_id == office_company.id
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Avery Johnson added." in page
    assert 'href="tel:+15125550101"' in page and "(512) 555-0101" in page
    assert "Prefers mornings" in page


def test_create_then_book_goes_back_to_the_new_job_form(client, office_company):
    response = client.post("/customers/new?then=job", data=form_data())
    customer = db.session.scalars(sa.select(Customer)).one()
    assert response.headers["Location"] == f"/jobs/new?customer_id={customer.id}"


@pytest.mark.parametrize(
    ("phone", "message"),
    [
        ("555", "“555” is not a valid phone number."),
        ("call me", "“call me” is not a phone number."),
        ("", "Enter a mobile number: job texts go to it."),
        (
            "+44 7911 123456",
            "+44 7911 123456 is not a US number: texts go to US mobile numbers only.",
        ),
        (
            "+44 20 7183 8750",
            "+44 20 7183 8750 is a UK number: texts go to US mobile numbers only.",
        ),
        (
            "+1 416 555 0123",
            "+1 416-555-0123 is a Canadian number: texts go to US mobile numbers only.",
        ),
        (
            "+52 55 1234 5678",
            "+52 55 1234 5678 is a Mexican number: texts go to US mobile numbers only.",
        ),
        (
            "(900) 555-1234",
            "(900) 555-1234 cannot receive texts (not a mobile number). Enter a mobile number.",
        ),
    ],
)
def test_a_bad_number_is_an_error_on_the_mobile_field(client, office_company, phone, message):
    response = client.post("/customers/new", data=form_data(mobile_phone=phone))
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_error(html, "mobile_phone") == message
    assert 'value="Avery Johnson"' in html  # nothing typed is lost
    assert db.session.scalar(sa.select(sa.func.count(Customer.id))) == 0


def test_a_toll_free_number_is_kept_with_a_warning(client, office_company):
    response = client.post(
        "/customers/new", data=form_data(mobile_phone="(800) 555-1234"), follow_redirects=True
    )
    assert response.status_code == 200
    assert "looks like a toll-free number: texts reach it only if it is text-enabled" in (
        response.get_data(as_text=True)
    )
    assert db.session.scalars(sa.select(Customer)).one().mobile_phone == "+18005551234"


def test_a_us_mobile_gets_no_warning(client, office_company):
    response = client.post("/customers/new", data=form_data(), follow_redirects=True)
    assert "text-enabled" not in response.get_data(as_text=True)


def test_a_duplicate_number_names_the_other_customer(make, client, office_company):
    make.customer(office_company, name="Bea First", phone="+15125550101")
    db.session.commit()
    response = client.post("/customers/new", data=form_data(mobile_phone="512-555-0101"))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "mobile_phone") == (
        "Bea First already has this mobile number."
    )


def test_the_same_number_in_another_company_is_fine(make, client, office_company):
    make.customer(make.company(), phone="+15125550101")
    db.session.commit()
    assert client.post("/customers/new", data=form_data()).status_code == 302


def test_a_bad_email_is_an_error_on_the_email_field(client, office_company):
    response = client.post("/customers/new", data=form_data(email="not-an-email"))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "email")


def test_edit_prefills_the_formatted_phone_and_saves(make, client, office_company):
    customer = make.customer(office_company, name="Old Name", phone="+15125550101")
    db.session.commit()
    form = client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert 'value="Old Name"' in form
    assert 'value="(512) 555-0101"' in form

    response = client.post(
        f"/customers/{customer.id}/edit",
        data=form_data(name="New Name", mobile_phone="+1 512 555 0199", email=""),
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Customer, customer.id)
    assert (saved.name, saved.mobile_phone, saved.email) == ("New Name", "+15125550199", None)


def test_edit_keeping_the_own_number_is_not_a_duplicate(make, client, office_company):
    customer = make.customer(office_company, phone="+15125550101")
    db.session.commit()
    response = client.post(f"/customers/{customer.id}/edit", data=form_data())
    assert response.status_code == 302


def test_edit_to_anothers_number_is_refused(make, client, office_company):
    make.customer(office_company, name="Bea First", phone="+15125550101")
    customer = make.customer(office_company, name="Cal Second", phone="+15125550102")
    db.session.commit()
    response = client.post(f"/customers/{customer.id}/edit", data=form_data(name="Cal Second"))
    assert response.status_code == 422
    assert "Bea First already has this mobile number." in response.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Customer, customer.id).mobile_phone == "+15125550102"


# --- The customer page -------------------------------------------------------------------


def test_customer_page_lists_jobs_and_offers_a_new_job(make, client, office_company):
    tech = make.user(office_company, role=Role.TECH, name="Tina Tech")
    customer = make.customer(office_company, name="Avery Johnson", email="a@example.test")
    job = make.job(office_company, customer=customer, techs=[tech], description="Fix faucet")
    make.job(office_company, description="Someone else's job")
    db.session.commit()
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert f'href="/jobs/new?customer_id={customer.id}"' in html
    assert f'href="/jobs/{job.id}"' in html and "Fix faucet" in html and "Tina Tech" in html
    assert "Someone else&#39;s job" not in html
    assert 'href="mailto:a@example.test"' in html


def test_customer_page_says_when_they_opted_out(make, client, office_company):
    make.number(office_company)
    customer = make.customer(office_company)
    db.session.add(
        OptOut(company_id=office_company.id, phone=customer.mobile_phone, keyword="STOP")
    )
    db.session.commit()
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "opted out" in html


def test_customer_text_is_escaped_everywhere(make, client, office_company):
    customer = make.customer(
        office_company, name="<script>alert(1)</script>", notes="<b>VIP</b>", address="<i>x</i>"
    )
    db.session.commit()
    for path in ("/customers", f"/customers/{customer.id}", f"/customers/{customer.id}/edit"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in html
        assert "<b>VIP</b>" not in html and "<i>x</i>" not in html
        assert "&lt;script&gt;" in html


def test_customer_page_links_to_their_texts_once_there_are_some(make, client, office_company):
    from app.services.conversations import conversation_for

    customer = make.customer(office_company)
    db.session.commit()
    assert ">Messages</a>" not in client.get(f"/customers/{customer.id}").get_data(as_text=True)
    conversation = conversation_for(
        company=office_company, phone=customer.mobile_phone, customer=customer
    )
    db.session.commit()
    html = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert f'href="/inbox/{conversation.id}">Messages</a>' in html


# --- Company name, other phones, tags ----------------------------------------------------


def test_create_with_company_other_phones_and_tags_shows_them_on_the_page(client, office_company):
    response = client.post(
        "/customers/new",
        data=form_data(
            company_name="  Johnson   Dental ",
            other_phones="(512) 555-0199; 512 555 0198 ext 4, (512) 555-0101",
            tags="VIP, Maintenance plan, vip, ",
        ),
    )
    assert response.status_code == 302
    customer = db.session.scalars(sa.select(Customer)).one()
    assert customer.company_name == "Johnson Dental"
    # E.164 when valid, as typed when not; the mobile itself is not an other phone.
    assert customer.other_phones == ["+15125550199", "512 555 0198 ext 4"]
    assert customer.tags == ["VIP", "Maintenance plan"]
    page = client.get(f"/customers/{customer.id}").get_data(as_text=True)
    assert "Johnson Dental" in page
    assert '<a href="tel:+15125550199">(512) 555-0199</a>' in page
    assert "512 555 0198 ext 4" in page
    assert '<a class="tag-chip" href="/customers?tag=VIP"' in page
    assert '<a class="tag-chip" href="/customers?tag=Maintenance+plan"' in page


def test_edit_prefills_the_lists_comma_separated_and_saves_them(make, client, office_company):
    customer = make.customer(
        office_company, phone="+15125550101", other_phones="5125550199", tags="VIP, Roof"
    )
    db.session.commit()
    form = client.get(f"/customers/{customer.id}/edit").get_data(as_text=True)
    assert 'value="(512) 555-0199"' in form
    assert 'value="VIP, Roof"' in form
    response = client.post(
        f"/customers/{customer.id}/edit", data=form_data(other_phones="", tags="Roof")
    )
    assert response.status_code == 302
    db.session.expire_all()
    saved = db.session.get(Customer, customer.id)
    assert (saved.other_phones, saved.tags) == ([], ["Roof"])


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        (", ".join(f"t{n}" for n in range(21)), "At most 20 tags (this has 21)."),
        ("VIP, " + "x" * 41, "A tag can be at most 40 characters"),
    ],
)
def test_bad_tags_are_an_error_on_the_tags_field_and_nothing_is_lost(
    client, office_company, tags, message
):
    response = client.post("/customers/new", data=form_data(tags=tags))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in field_error(html, "tags")
    assert 'value="Avery Johnson"' in html  # what was typed is still there
    assert db.session.scalar(sa.select(sa.func.count(Customer.id))) == 0


def test_too_many_other_phones_is_an_error_on_their_field(client, office_company):
    phones = ", ".join(f"512555{n:04d}" for n in range(200, 211))
    response = client.post("/customers/new", data=form_data(other_phones=phones))
    assert response.status_code == 422
    assert field_error(response.get_data(as_text=True), "other_phones") == (
        "At most 10 other phones."
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("dental", ["Adam Ames"]),
        ("maintenance", ["bella Brown"]),
        ("vip", ["Adam Ames", "bella Brown"]),
        ("café", ["bella Brown"]),
        ("vip ames", ["Adam Ames"]),
        ('"', []),
    ],
)
def test_search_finds_a_customer_by_company_name_or_tag(
    make, client, office_company, query, expected
):
    make.customer(
        office_company,
        name="Adam Ames",
        phone="+15125550101",
        company_name="Ames Dental",
        tags="VIP",
    )
    make.customer(
        office_company, name="bella Brown", phone="+15125550102", tags="vip, Maintenance plan, café"
    )
    make.customer(office_company, name="Cy", phone="+15125550103")
    db.session.commit()
    html = client.get("/customers", query_string={"q": query}).get_data(as_text=True)
    assert names_listed(html) == expected


def test_a_tag_chip_lists_the_customers_with_exactly_that_tag(make, client, office_company):
    make.customer(office_company, name="Adam Ames", phone="+15125550101", tags="VIP")
    make.customer(office_company, name="bella Brown", phone="+15125550102", tags="VIP customer")
    other = make.company()
    make.customer(other, name="Other Co's", phone="+15125550101", tags="VIP")
    db.session.commit()
    html = client.get("/customers?tag=VIP").get_data(as_text=True)
    assert names_listed(html) == ["Adam Ames"]
    assert "Customers tagged" in html and 'name="tag" value="VIP"' in html
    empty = client.get("/customers?tag=Nobody").get_data(as_text=True)
    assert "No customers are tagged “Nobody”." in empty

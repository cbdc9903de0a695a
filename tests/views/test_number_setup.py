"""The custom-number pages: access, suggestion, search, the warning, the purchase, and that
nothing on the web can change a number once it exists."""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from app.extensions import db
from app.models import NumberSetup, PhoneNumber, Role
from app.services import numbers
from app.sms import gateway
from tests.fixtures.numbers import purchases, searches

URL = "/settings/number"


def _choose(client, e164: str | None = None, **extra):
    data = {"phone_number": e164, "locality": "Austin", "region": "TX", "understood": "y"}
    data.update(extra)
    return client.post(URL, data=data)


@pytest.fixture
def owner_client(make, client, log_in):
    company = make.company(name="Fresh Plumbing", business_phone="+15125550100")
    for n in range(6):
        make.customer(company, phone=f"+1512555{n:04d}")
    for n in range(3):
        make.customer(company, phone=f"+1737555{n:04d}")
    make.customer(company, phone="+12105550001")
    db.session.commit()
    log_in(client, company.owner)
    client.company = company
    return client


# -- access -----------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.OFFICE, Role.TECH])
def test_only_owners_and_admins_reach_the_setup(make, client, log_in, numbers_fake, role):
    company = make.company()
    user = make.user(company, role=role)
    db.session.commit()
    log_in(client, user)
    assert client.get(URL).status_code == 403
    assert client.get(URL + "/confirm?phone_number=%2B15125550199").status_code == 403
    assert _choose(client, "+15125550199").status_code == 403
    assert purchases(numbers_fake) == []


def test_logged_out_visitors_are_sent_to_login(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_an_admin_can_set_it_up(make, client, log_in, numbers_fake):
    company = make.company()
    admin = make.user(company, role=Role.ADMIN)
    db.session.commit()
    log_in(client, admin)
    chosen = numbers.search_numbers(area_code="512").numbers[0].e164
    assert _choose(client, chosen).status_code == 303
    assert db.session.scalars(sa.select(PhoneNumber)).one().provisioned_by_id == admin.id


# -- suggestion and search --------------------------------------------------------------------


def test_the_page_suggests_area_codes_with_their_share(owner_client, numbers_fake):
    page = owner_client.get(URL).get_data(as_text=True)

    assert re.search(
        r"512</span>\s*<span class=\"area-text\"><strong>60%</strong> of your 10", page
    )
    assert "<strong>30%</strong> of your 10 customers" in page
    assert "<strong>10%</strong> of your 10 customers" in page
    assert "Austin, TX" in page
    assert "Your business phone (512) 555-0100 is in" in page
    assert 'value="512"' in page  # pre-filled with the best suggestion...
    assert searches(numbers_fake) == []  # ...but nothing searched until asked


def test_search_lists_formatted_numbers_with_their_town(owner_client, numbers_fake):
    page = owner_client.get(URL + "?area_code=737").get_data(as_text=True)

    found = numbers.search_numbers(area_code="737").numbers
    assert found
    for item in found:
        assert item.display in page
        assert f"phone_number=%2B{item.e164[1:]}" in page
    assert "Available in 737" in page


def test_htmx_search_answers_the_results_fragment_only(owner_client, numbers_fake):
    response = owner_client.get(
        URL + "?area_code=512",
        headers={"HX-Request": "true", "HX-Target": "number-search"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in body
    assert re.match(r'\s*<section class="card number-search" id="number-search"', body)
    assert "(512) " in body


@pytest.mark.parametrize(
    ("typed", "says"), [("12", "is not an area code"), ("416", "Canadian area code")]
)
def test_a_bad_area_code_is_a_field_error_and_nothing_is_searched(
    owner_client, numbers_fake, typed, says
):
    response = owner_client.get(URL, query_string={"area_code": typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert says in page
    assert 'id="area_code-error"' in page
    assert searches(numbers_fake) == []


def test_a_sold_out_area_code_says_so_and_offers_others(owner_client, numbers_fake, monkeypatch):
    from app.sms.fake_twilio import api as fake_api

    monkeypatch.setattr(fake_api, "available_numbers", lambda code, count, taken: [])
    page = owner_client.get(URL + "?area_code=512").get_data(as_text=True)
    assert "No numbers are available in 512 right now." in page
    assert "Other area codes in Texas" in page
    assert 'data-testid="nearby-' in page


# -- the warning and the purchase -------------------------------------------------------------


def test_choosing_shows_an_honest_warning_and_asks_for_confirmation(owner_client, numbers_fake):
    chosen = numbers.search_numbers(area_code="512").numbers[0]
    page = owner_client.get(
        URL + "/confirm",
        query_string={"phone_number": chosen.e164, "locality": "Austin", "region": "TX"},
    ).get_data(as_text=True)
    assert "This number cannot be changed later" in page
    assert chosen.display in page
    assert 'type="checkbox"' in page and 'name="understood"' in page
    assert "your business phone, (512) 555-0100" in page
    assert purchases(numbers_fake) == []  # looking is free


def test_without_the_confirmation_nothing_is_bought(owner_client, numbers_fake):
    chosen = numbers.search_numbers(area_code="512").numbers[0].e164
    response = _choose(owner_client, chosen, understood="")
    assert response.status_code == 400
    assert "Tick the box to confirm" in response.get_data(as_text=True)
    assert purchases(numbers_fake) == []


def test_the_purchase_needs_the_csrf_token(owner_client, numbers_fake, csrf_enabled):
    chosen = numbers.search_numbers(area_code="512").numbers[0].e164
    assert _choose(owner_client, chosen).status_code == 400
    assert purchases(numbers_fake) == []

    page = owner_client.get(URL + "/confirm", query_string={"phone_number": chosen})
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.get_data(True))
    assert _choose(owner_client, chosen, csrf_token=token.group(1)).status_code == 303
    assert len(purchases(numbers_fake)) == 1


def test_after_setup_the_number_is_read_only(owner_client, numbers_fake):
    chosen = numbers.search_numbers(area_code="512").numbers[0]
    response = _choose(owner_client, chosen.e164)
    assert response.status_code == 303
    page = owner_client.get(response.headers["Location"]).get_data(as_text=True)

    assert f"Your custom number is {chosen.display}" in page  # the flash
    assert chosen.display in page
    assert "Cannot be changed" in page
    assert 'Ring your business phone, <span class="nowrap">(512) 555-0100</span>' in page
    # No form on the page but the log-out button: nothing to change it with.
    forms = re.findall(r"<form[^>]*>", page)
    assert forms
    assert all('action="/logout"' in form for form in forms)
    assert "<input" not in page.split("</header>", 1)[1]
    # The confirm page only sends people back.
    assert owner_client.get(URL + "/confirm?phone_number=%2B15125550199").status_code == 302


def test_posting_again_is_refused_with_a_clear_message(owner_client, numbers_fake):
    available = numbers.search_numbers(area_code="512").numbers
    _choose(owner_client, available[0].e164)

    # A reload, another number, a form without the confirmation: the same answer.
    for again in (
        {"phone_number": available[0].e164},
        {"phone_number": available[1].e164},
        {"phone_number": available[1].e164, "understood": ""},
        {"phone_number": ""},
    ):
        response = _choose(owner_client, **again)
        assert response.status_code == 409
        assert "It cannot be changed, so nothing was bought." in response.get_data(as_text=True)
    # A search left open in another tab sends the browser to the read-only page.
    searched = owner_client.get(
        URL + "?area_code=512", headers={"HX-Request": "true", "HX-Target": "number-search"}
    )
    assert searched.headers["HX-Redirect"] == URL

    assert len(purchases(numbers_fake)) == 1
    assert db.session.scalars(sa.select(PhoneNumber)).one().e164 == available[0].e164


def test_a_number_being_set_up_shows_who_started_it(owner_client, numbers_fake):
    chosen = numbers.search_numbers(area_code="512").numbers[0].e164
    company = owner_client.company
    db.session.add(NumberSetup(company_id=company.id, e164=chosen, started_by_id=company.owner.id))
    db.session.commit()

    page = owner_client.get(URL).get_data(as_text=True)
    assert "Your number is being set up" in page
    response = _choose(owner_client, chosen)
    assert response.status_code == 409
    assert "already being set up" in response.get_data(as_text=True)
    assert purchases(numbers_fake) == []


def test_a_refused_purchase_says_why_and_frees_the_setup(owner_client, make, numbers_fake):
    chosen = numbers.search_numbers(area_code="512").numbers[0].e164
    # The search result went stale: Twilio sold it to someone else (not one of our companies).
    gateway.buy_number(
        phone_number=chosen, sms_url="https://x", voice_url="https://x", status_callback=None
    )
    response = _choose(owner_client, chosen, area_code="512")
    assert response.status_code == 302
    page = owner_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Nothing was bought" in page
    assert "Available in 512" in page  # back at the search, to pick another
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberSetup)) == 0


def test_a_number_another_company_holds_is_refused_with_a_clear_message(
    owner_client, make, numbers_fake
):
    chosen = numbers.search_numbers(area_code="512").numbers[0].e164
    make.number(make.company(), e164=chosen)  # ours already, for another company
    db.session.commit()
    response = _choose(owner_client, chosen, area_code="512")
    assert response.status_code == 409
    assert "already another business&#39;s custom number" in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberSetup)) == 0


# -- texting is off until the number exists ---------------------------------------------------


def test_office_pages_explain_texting_is_off_until_the_number_exists(
    make, client, log_in, numbers_fake
):
    company = make.company()
    office = make.user(company, role=Role.OFFICE)
    db.session.commit()
    log_in(client, company.owner)
    page = client.get("/settings").get_data(as_text=True)
    assert "Texting is off until your custom number is set up." in page
    assert f'href="{URL}"' in page

    client.post("/logout")
    log_in(client, office)
    page = client.get("/customers").get_data(as_text=True)
    assert "Texting is off" in page
    assert "Ask an owner or admin to set it up" in page

    make.number(company)
    db.session.commit()
    assert "Texting is off" not in client.get("/customers").get_data(as_text=True)


# -- at most one number, whatever the web does ------------------------------------------------


@pytest.mark.postgres
def test_concurrent_purchases_buy_exactly_one_number(app, make, log_in, numbers_fake):
    company = make.company()
    admin = make.user(company, role=Role.ADMIN)
    db.session.commit()
    available = numbers.search_numbers(area_code="512").numbers
    # Two admins, each with three tabs, all clicking at once (on different numbers too).
    clients = []
    for user in (company.owner, admin):
        for _tab in range(3):
            tab = app.test_client()
            log_in(tab, user)
            clients.append(tab)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []
    bodies: list[str] = []
    lock = threading.Lock()

    def click(tab, e164):
        barrier.wait()
        response = _choose(tab, e164)
        with lock:
            statuses.append(response.status_code)
            bodies.append(response.get_data(as_text=True))

    threads = [
        threading.Thread(target=click, args=(tab, available[i % 2].e164))
        for i, tab in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(statuses) == [303] + [409] * (len(clients) - 1)
    for status, body in zip(statuses, bodies, strict=True):
        if status == 409:
            assert "already being set up" in body or "cannot be changed" in body
    assert len(purchases(numbers_fake)) == 1
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneNumber)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberSetup)) == 0


def test_the_database_refuses_a_second_number_for_a_company(make):
    company = make.company()
    make.number(company)
    db.session.commit()
    db.session.add(PhoneNumber(company_id=company.id, e164="+15126669999", twilio_sid="PNdup"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()
    db.session.add(NumberSetup(company_id=company.id, e164="+15126669998"))
    db.session.add(NumberSetup(company_id=company.id, e164="+15126669997"))
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def _numbers() -> set[tuple[int, str, str]]:
    return {
        (n.company_id, n.e164, n.twilio_sid) for n in db.session.scalars(sa.select(PhoneNumber))
    }


def _url_for_rule(rule, ids: dict[str, object]) -> str:
    url = rule.rule
    for arg in rule.arguments:
        converter = rule._converters[arg].__class__.__name__
        value = ids.get(arg, 1 if converter in {"IntegerConverter", "NumberConverter"} else "x")
        url = re.sub(rf"<(?:[^:<>]+:)?{arg}>", str(value), url)
    return url


def test_no_web_route_can_change_a_provisioned_number(app, make, log_in, numbers_fake):
    """Walk every route with every writing method, as the owner of a company with a number
    and with form fields that name a number: only the setup POST may write a PhoneNumber,
    and with a number in place even it writes nothing."""
    company = make.company()
    admin = make.user(company, role=Role.ADMIN)
    job = make.job(company)
    other = make.company()
    chosen = numbers.search_numbers(area_code="512").numbers[0].e164
    numbers.provision_number(
        company=company,
        actor=company.owner,
        e164=chosen,
        locality="Austin",
        region="TX",
        public_base_url="http://testserver.local",
    )
    make.number(other, e164="+15126660042")
    db.session.commit()
    before = {
        (n.company_id, n.e164, n.twilio_sid) for n in db.session.scalars(sa.select(PhoneNumber))
    }

    writes: list[tuple[str, str]] = []
    current: dict[str, str] = {}

    def record(mapper, connection, target):
        writes.append((current.get("endpoint", "?"), type(target).__name__))

    hooks = ("before_insert", "before_update", "before_delete")
    for hook in hooks:
        event.listen(PhoneNumber, hook, record)
    form = {
        "phone_number": "+15125550199",
        "e164": "+15125550199",
        "number": "+15125550199",
        "twilio_sid": "PN" + "0" * 32,
        "sid": "PN" + "0" * 32,
        "company_id": str(other.id),
        "understood": "y",
        "To": chosen,
        "From": "+15125550123",
    }
    ids = {
        "company_id": other.id,
        "job_id": job.id,
        "customer_id": job.customer_id,
        "user_id": admin.id,
        "kind": "on_my_way",
    }
    client = app.test_client()
    tried = 0
    try:
        for rule in app.url_map.iter_rules():
            for method in sorted((rule.methods or set()) - {"GET", "HEAD", "OPTIONS"}):
                if client.get(URL).status_code != 200:  # a route logged us out: back in
                    log_in(client, company.owner)
                current["endpoint"] = f"{method} {rule.endpoint}"
                url = _url_for_rule(rule, ids)
                try:
                    client.open(url, method=method, data=form)
                except Exception:  # another module's bug is not what this test checks
                    db.session.rollback()
                tried += 1
    finally:
        for hook in hooks:
            event.remove(PhoneNumber, hook, record)

    assert tried >= 10  # the walk really covered the app's writing routes
    assert writes == []
    db.session.expire_all()
    after = {
        (n.company_id, n.e164, n.twilio_sid) for n in db.session.scalars(sa.select(PhoneNumber))
    }
    assert after == before
    assert len(purchases(numbers_fake)) == 1


def test_twilio_unreachable_during_a_search_says_so(owner_client, app, monkeypatch):
    monkeypatch.setitem(app.config, "TWILIO_API_BASE_URL", "http://127.0.0.1:9")
    response = owner_client.get(URL + "?area_code=512")
    assert response.status_code == 200
    assert "We couldn&#39;t reach Twilio to search 512 numbers" in response.get_data(as_text=True)

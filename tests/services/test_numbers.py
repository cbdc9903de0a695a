"""The custom number service: area-code suggestion, search and purchase through the real
twilio SDK against the built-in fake, and the at-most-one rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Customer, NumberSetup, PhoneNumber, Role, utcnow
from app.services import numbers
from app.services.errors import DomainError, NotAllowed
from app.sms import gateway
from app.sms.fake_twilio import api as fake_api
from app.sms.fake_twilio.state import _Fault
from tests.fixtures.numbers import purchases, searches

BASE = "http://testserver.local"


def _provision(company, actor, e164):
    return numbers.provision_number(
        company=company,
        actor=actor,
        e164=e164,
        locality="Austin",
        region="TX",
        public_base_url=BASE,
    )


def _first_available(area_code: str = "512") -> str:
    return numbers.search_numbers(area_code=area_code).numbers[0].e164


# -- suggestion -------------------------------------------------------------------------------


def test_suggestion_counts_area_codes_with_shares_of_240_customers(make):
    company = make.company(business_phone="+12145550100")
    for n in range(149):
        make.customer(company, phone=f"+1512555{n:04d}")
    for n in range(60):
        make.customer(company, phone=f"+1737555{n:04d}")
    for n in range(30):
        make.customer(company, phone=f"+1210555{n:04d}")
    # Abroad (stored before customer mobiles had to be US numbers): counted in the total only.
    db.session.add(Customer(company_id=company.id, name="Abroad", mobile_phone="+442079460000"))
    db.session.flush()
    other = make.company()
    for n in range(300):  # another company's customers never count
        make.customer(other, phone=f"+1415555{n:04d}")

    suggestions = numbers.suggest_area_codes(company=company)

    assert suggestions.total_customers == 240
    assert [(s.code, s.customers, s.percent) for s in suggestions.top] == [
        ("512", 149, 62),
        ("737", 60, 25),
        ("210", 30, 13),
    ]
    assert suggestions.top[0].place.label == "Austin, TX"
    assert suggestions.business_code == "214"
    assert suggestions.best == "512"


def test_suggestion_without_customers_falls_back_to_the_business_phone(make):
    company = make.company(business_phone="+13035550100")
    suggestions = numbers.suggest_area_codes(company=company)
    assert suggestions.total_customers == 0
    assert suggestions.top == []
    assert suggestions.best == "303"


def test_suggestion_ties_are_ordered_by_area_code(make):
    company = make.company(business_phone=None)
    make.customer(company, phone="+17375550001")
    make.customer(company, phone="+15125550001")
    suggestions = numbers.suggest_area_codes(company=company)
    assert [(s.code, s.percent) for s in suggestions.top] == [("512", 50), ("737", 50)]
    assert suggestions.business_code is None


@pytest.mark.parametrize(
    ("typed", "expected"),
    [("512", "512"), (" 512 ", "512"), ("(737)", "737"), ("303", "303")],
)
def test_any_us_area_code_can_be_typed(typed, expected):
    assert numbers.check_area_code(typed) == expected


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Enter a 3-digit area code"),
        ("51", "is not an area code"),
        ("5125", "is not an area code"),
        ("abc", "is not an area code"),
        ("099", "not starting with 0 or 1"),
        ("999", "not a US area code in use"),
        ("416", "Canadian area code"),
    ],
)
def test_bad_area_codes_are_refused_on_the_field(typed, says):
    with pytest.raises(DomainError) as refused:
        numbers.check_area_code(typed)
    assert says in refused.value.message
    assert refused.value.field == "area_code"


# -- search -----------------------------------------------------------------------------------


def test_search_asks_twilio_for_local_numbers_that_text_send_photos_and_ring(numbers_fake):
    search = numbers.search_numbers(area_code="512")

    assert 3 <= len(search.numbers) <= 10
    assert all(item.e164.startswith("+1512") for item in search.numbers)
    assert all(item.display.startswith("(512) ") for item in search.numbers)
    assert search.numbers[0].region == "TX"
    assert search.nearby == []
    (request,) = searches(numbers_fake)
    assert request.method == "GET"
    assert request.path.endswith("/AvailablePhoneNumbers/US/Local.json")
    query = dict(request.query)
    assert query["AreaCode"] == "512"
    assert query["SmsEnabled"] == "true"
    assert query["MmsEnabled"] == "true"
    assert query["VoiceEnabled"] == "true"


def test_sold_out_area_code_suggests_other_codes_of_the_state(numbers_fake, monkeypatch):
    # The fake has no "sold out" switch: make its inventory for 210 empty.
    real = fake_api.available_numbers
    monkeypatch.setattr(
        fake_api,
        "available_numbers",
        lambda code, count, taken: [] if code == "210" else real(code, count, taken),
    )

    search = numbers.search_numbers(area_code="210")

    assert search.numbers == []
    assert search.state_name == "Texas"
    codes = [other.code for other, _towns in search.nearby]
    assert codes[0] == "726"  # the San Antonio overlay shares its towns, so it comes first
    assert search.nearby[0][1] == ["San Antonio"]
    assert "210" not in codes
    assert all(other.state == "TX" for other, _towns in search.nearby)


def test_twilio_unreachable_during_search_is_a_clear_refusal(app, monkeypatch):
    # Point the SDK at a closed port: the connection is refused, as when Twilio is down.
    monkeypatch.setitem(app.config, "TWILIO_API_BASE_URL", "http://127.0.0.1:9")
    with pytest.raises(numbers.TwilioUnavailable, match="couldn't reach Twilio"):
        numbers.search_numbers(area_code="512")


# -- provisioning -----------------------------------------------------------------------------


def test_provision_buys_the_number_with_webhooks_and_stores_number_and_sid(make, numbers_fake):
    company = make.company()
    chosen = _first_available()

    number = _provision(company, company.owner, chosen)

    (purchase,) = purchases(numbers_fake)
    assert purchase.form_dict() == {
        "PhoneNumber": [chosen],
        "SmsUrl": [f"{BASE}/webhooks/twilio/sms"],
        "SmsMethod": ["POST"],
        "VoiceUrl": [f"{BASE}/webhooks/twilio/voice"],
        "VoiceMethod": ["POST"],
        "StatusCallback": [f"{BASE}/webhooks/twilio/status"],
        "StatusCallbackMethod": ["POST"],
    }
    sold = numbers_fake.number(chosen)
    assert sold is not None
    stored = db.session.scalars(sa.select(PhoneNumber)).one()
    assert stored.id == number.id
    assert (stored.company_id, stored.e164, stored.twilio_sid) == (company.id, chosen, sold.sid)
    assert (stored.locality, stored.region) == ("Austin", "TX")
    assert stored.provisioned_by_id == company.owner.id
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberSetup)) == 0


def test_a_second_provision_is_refused_and_buys_nothing(make, numbers_fake):
    company = make.company()
    admin = make.user(company, role=Role.ADMIN)
    available = numbers.search_numbers(area_code="512").numbers
    first = _provision(company, company.owner, available[0].e164)

    with pytest.raises(numbers.NumberAlreadySet) as refused:
        _provision(company, admin, available[1].e164)

    assert "cannot be changed" in refused.value.message
    assert len(purchases(numbers_fake)) == 1
    assert db.session.scalars(sa.select(PhoneNumber)).one().e164 == first.e164


def test_a_claim_in_progress_refuses_a_second_purchase(make, numbers_fake):
    company = make.company()
    admin = make.user(company, role=Role.ADMIN, name="Ada Admin")
    available = numbers.search_numbers(area_code="512").numbers
    # What another request committed just before calling Twilio.
    db.session.add(NumberSetup(company_id=company.id, e164=available[0].e164, started_by=admin))
    db.session.commit()

    with pytest.raises(numbers.SetupInProgress) as refused:
        _provision(company, company.owner, available[1].e164)

    assert "already being set up" in refused.value.message
    assert "Ada Admin" in refused.value.message
    assert purchases(numbers_fake) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneNumber)) == 0


def test_two_companies_cannot_claim_the_same_number(make, numbers_fake):
    first, second = make.company(), make.company()
    chosen = _first_available()
    db.session.add(NumberSetup(company_id=first.id, e164=chosen))
    db.session.commit()

    with pytest.raises(DomainError, match="being taken by another business"):
        _provision(second, second.owner, chosen)
    assert purchases(numbers_fake) == []


def test_a_number_another_company_holds_is_refused_before_buying(make, numbers_fake):
    """The fake (like a restarted `make run`) still offers a number another company holds."""
    holder, company = make.company(), make.company()
    chosen = _first_available()
    make.number(holder, e164=chosen)
    db.session.commit()

    with pytest.raises(numbers.HeldByAnotherCompany) as refused:
        _provision(company, company.owner, chosen)

    assert "already another business's custom number" in refused.value.message
    assert refused.value.status_code == 409
    assert purchases(numbers_fake) == []
    assert db.session.scalar(sa.select(NumberSetup).filter_by(company_id=company.id)) is None
    other = numbers.search_numbers(area_code="512").numbers[1].e164
    number = _provision(company, company.owner, other)  # setup is not blocked
    assert number.company_id == company.id


def test_a_number_recorded_for_another_company_mid_purchase_releases_the_claim(
    make, numbers_fake, monkeypatch
):
    holder, company = make.company(), make.company()
    chosen = _first_available()
    db.session.commit()
    holder_id = holder.id
    real_buy = numbers.gateway.buy_number

    def buy_while_another_records_it(**kwargs):
        bought = real_buy(**kwargs)
        with db.engine.begin() as other:  # another request's transaction
            other.execute(
                sa.insert(PhoneNumber).values(
                    company_id=holder_id, e164=chosen, twilio_sid="PN" + "9" * 32
                )
            )
        return bought

    monkeypatch.setattr(numbers.gateway, "buy_number", buy_while_another_records_it)
    with pytest.raises(numbers.HeldByAnotherCompany):
        _provision(company, company.owner, chosen)
    db.session.expire_all()
    assert db.session.scalar(sa.select(NumberSetup).filter_by(company_id=company.id)) is None
    assert numbers.company_number(company) is None


def test_a_refused_purchase_releases_the_claim_with_a_clear_message(make, numbers_fake):
    company = make.company()
    available = numbers.search_numbers(area_code="512").numbers
    # Twilio sold it to someone else (not one of our companies) since the search.
    gateway.buy_number(
        phone_number=available[0].e164,
        sms_url="https://x",
        voice_url="https://x",
        status_callback=None,
    )

    # The search result went stale: Twilio already sold it.
    with pytest.raises(numbers.PurchaseFailed) as refused:
        _provision(company, company.owner, available[0].e164)

    assert "Nothing was bought" in refused.value.message
    assert db.session.scalar(sa.select(NumberSetup).filter_by(company_id=company.id)) is None
    # Released: choosing another number works.
    number = _provision(company, company.owner, available[1].e164)
    assert number.company_id == company.id


def test_lost_answer_with_the_number_bought_is_recorded(make, numbers_fake):
    company = make.company()
    chosen = _first_available()
    numbers_fake.faults.append(
        _Fault(status=0, remaining=1, path_contains="/IncomingPhoneNumbers.json")
    )
    # The fake drops the connection before storing: nothing bought, the outcome unknown.
    with pytest.raises(numbers.PurchaseUncertain):
        _provision(company, company.owner, chosen)
    # The claim stays so nobody buys a second number while the outcome is unknown.
    assert db.session.scalar(sa.select(NumberSetup).filter_by(company_id=company.id)) is not None
    with pytest.raises(numbers.SetupInProgress):
        _provision(company, company.owner, chosen)
    assert numbers_fake.number(chosen) is None


def test_stale_claim_whose_purchase_went_through_is_recorded_not_bought_again(
    make, numbers_fake, app
):
    company = make.company()
    available = numbers.search_numbers(area_code="512").numbers
    chosen = available[0].e164
    db.session.add(
        NumberSetup(
            company_id=company.id,
            e164=chosen,
            started_by=company.owner,
            started_at=utcnow() - numbers.STALE_SETUP_AFTER - timedelta(seconds=1),
        )
    )
    db.session.commit()
    # The request that held the claim bought the number, then died before recording it.
    bought = gateway.buy_number(
        phone_number=chosen, sms_url=f"{BASE}/webhooks/twilio/sms", voice_url=f"{BASE}/v"
    )

    with pytest.raises(numbers.NumberAlreadySet):
        _provision(company, company.owner, available[1].e164)

    stored = db.session.scalars(sa.select(PhoneNumber)).one()
    assert (stored.e164, stored.twilio_sid) == (chosen, bought.sid)
    assert len(purchases(numbers_fake)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberSetup)) == 0


def test_stale_claim_that_bought_nothing_is_released_and_the_new_choice_bought(make, numbers_fake):
    company = make.company()
    available = numbers.search_numbers(area_code="512").numbers
    db.session.add(
        NumberSetup(
            company_id=company.id,
            e164=available[0].e164,
            started_at=utcnow() - numbers.STALE_SETUP_AFTER - timedelta(minutes=1),
        )
    )
    db.session.commit()

    number = _provision(company, company.owner, available[1].e164)

    assert number.e164 == available[1].e164
    assert len(purchases(numbers_fake)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NumberSetup)) == 0


def test_only_owners_and_admins_may_provision(make, numbers_fake):
    company = make.company()
    office = make.user(company, role=Role.OFFICE)
    with pytest.raises(NotAllowed):
        _provision(company, office, _first_available())
    assert purchases(numbers_fake) == []


@pytest.mark.parametrize("bad", ["", "not a number", "+442079460000"])
def test_a_chosen_number_must_be_a_us_number(make, numbers_fake, bad):
    company = make.company()
    with pytest.raises(DomainError) as refused:
        _provision(company, company.owner, bad)
    assert refused.value.field == "phone_number"
    assert purchases(numbers_fake) == []


def test_company_for_called_number_matches_any_format(make):
    company = make.company()
    make.number(company, e164="+15126660001")
    assert numbers.company_for_called_number("+15126660001") == company
    assert numbers.company_for_called_number("(512) 666-0001") == company
    assert numbers.company_for_called_number("+15126660002") is None
    assert numbers.company_for_called_number("anonymous") is None


# -- flask demo -------------------------------------------------------------------------------


def test_flask_demo_buys_its_number_through_the_same_path_before_the_jobs(runner, numbers_fake):
    from app.models import Company, Direction, Message

    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output

    company = db.session.scalars(sa.select(Company)).one()
    number = db.session.scalars(sa.select(PhoneNumber)).one()
    assert number.company_id == company.id
    assert number.e164.startswith("+1512")  # 17 of the 20 demo customers are in 512
    assert f"({number.e164[2:5]}) {number.e164[5:8]}-{number.e164[8:]}" in result.output
    (purchase,) = purchases(numbers_fake)
    assert purchase.form_dict()["VoiceUrl"] == [f"{BASE}/webhooks/twilio/voice"]
    assert numbers_fake.number(number.e164).sid == number.twilio_sid
    # The jobs' automated texts, if any were queued, come from the custom number.
    outbound = db.session.scalars(sa.select(Message).filter_by(direction=Direction.OUT)).all()
    assert all(message.from_phone == number.e164 for message in outbound)

    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0, again.output
    assert len(purchases(numbers_fake)) == 1

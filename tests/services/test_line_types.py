"""The Lookup cache (app/services/line_types.py): one billed Lookup per number per 90
days, the TWILIO_LOOKUP switch, and the number-type fallback when Lookup fails."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import LineTypeLookup, utcnow
from app.services import line_types

PHONE = "+15125550101"


@pytest.fixture
def lookup_off(app):
    app.config["TWILIO_LOOKUP"] = False
    yield
    app.config["TWILIO_LOOKUP"] = True


def test_a_second_check_makes_no_request(fake):
    fake.lookups.set_line_type(PHONE, "landline")
    now = utcnow()
    first = line_types.look_up(phone=PHONE, now=now, timeout=2)
    db.session.commit()
    second = line_types.look_up(phone=PHONE, now=now + timedelta(days=89), timeout=2)
    assert fake.lookups.count(PHONE) == 1
    assert first.line_type == second.line_type == "landline"
    assert first.carrier_name == "Fake Telephone Company - ILEC"
    assert db.session.scalars(sa.select(LineTypeLookup)).one().looked_up_at == now


def test_after_90_days_the_number_is_looked_up_again_and_the_row_updated(fake):
    now = utcnow()
    line_types.look_up(phone=PHONE, now=now, timeout=2)
    db.session.commit()
    fake.lookups.set_line_type(PHONE, "landline")  # ported to a landline since
    later = now + timedelta(days=90)
    assert line_types.look_up(phone=PHONE, now=later, timeout=2).line_type == "landline"
    db.session.commit()
    assert fake.lookups.count(PHONE) == 2
    row = db.session.scalars(sa.select(LineTypeLookup)).one()
    assert (row.line_type, row.looked_up_at) == ("landline", later)


def test_lookup_off_asks_nothing(fake, lookup_off):
    assert line_types.look_up(phone=PHONE, now=utcnow(), timeout=2) is None
    assert fake.lookups.count() == 0


def test_a_failed_lookup_is_not_kept_and_is_asked_again_next_time(fake):
    fake.fail_next(1, status=500, path_contains="/PhoneNumbers/")
    assert line_types.look_up(phone=PHONE, now=utcnow(), timeout=2) is None
    assert db.session.scalar(sa.select(sa.func.count()).select_from(LineTypeLookup)) == 0
    assert line_types.look_up(phone=PHONE, now=utcnow(), timeout=2).line_type == "mobile"
    assert fake.lookups.count(PHONE) == 2


def test_a_number_lookup_does_not_know_is_kept_as_not_valid(fake):
    row = line_types.look_up(phone="+15125550", now=utcnow(), timeout=2)
    assert row.valid is False and line_types.not_textable(row) == "not a valid number"


@pytest.mark.parametrize(
    ("line_type", "what"),
    [
        ("landline", "a landline"),
        ("tollFree", "a toll-free number"),
        ("mobile", None),
        ("nonFixedVoip", None),
        ("fixedVoip", None),
    ],
)
def test_which_lines_texts_cannot_reach(fake, line_type, what):
    fake.lookups.set_line_type(PHONE, line_type)
    row = line_types.look_up(phone=PHONE, now=utcnow(), timeout=2)
    assert line_types.not_textable(row) == what


def test_customer_warning_from_lookup_beats_the_number_type(fake):
    fake.lookups.set_line_type(PHONE, "landline")
    warning = line_types.customer_mobile_warning(phone=PHONE, now=utcnow())
    assert warning.startswith("(512) 555-0101 is a landline (checked with the carrier)")
    # A toll-free number Lookup says is a mobile (texting-enabled): no warning.
    fake.lookups.set_line_type("+18005550199", "mobile")
    assert line_types.customer_mobile_warning(phone="+18005550199", now=utcnow()) is None


def test_customer_warning_falls_back_to_the_number_type_when_lookup_fails(fake):
    fake.fail_next(5, status=503, path_contains="/PhoneNumbers/")
    warning = line_types.customer_mobile_warning(phone="+18005550199", now=utcnow())
    assert "looks like a toll-free number" in warning
    assert line_types.customer_mobile_warning(phone=PHONE, now=utcnow()) is None


def test_stored_answers_for_a_list_in_one_query(fake, count_queries):
    now = utcnow()
    for phone in (PHONE, "+15125550102"):
        line_types.look_up(phone=phone, now=now, timeout=2)
        db.session.commit()  # each answer, before the next request
    with count_queries() as queries:
        found = line_types.cached_lookups(phones=[PHONE, "+15125550102", "+15125550103"], now=now)
    assert set(found) == {PHONE, "+15125550102"} and len(queries) == 1


def test_a_customer_import_never_looks_a_number_up(make, fake):
    """Lookups are billed: a file of 50,000 customers must not cost 50,000 of them."""
    from app.services import customer_imports as imports
    from tests.fixtures.customer_files import hcp_file

    company = make.company()
    started = imports.start_import(
        company=company, actor=company.owner, filename="customers.csv", data=hcp_file()
    )
    reviewed = imports.review_import(customer_import=started, mapping=list(started.mapping))
    imports.confirm_import(
        customer_import=reviewed, actor=company.owner, now=utcnow(), inline_row_limit=100_000
    )
    db.session.commit()
    assert reviewed.created_count >= 1
    assert fake.lookups.count() == 0

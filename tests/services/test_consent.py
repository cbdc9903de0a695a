"""Consent records (app/services/consent.py): transitions, texted-us-first, the export."""

from __future__ import annotations

import csv
import io
import itertools
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Consent, ConsentSource, utcnow
from app.services.consent import (
    consent_export_csv,
    consent_source,
    current_consent,
    record_consent,
)
from app.services.errors import DomainError
from app.services.opt_outs import record_office_opt_out

SMS = "/webhooks/twilio/sms"
_sids = itertools.count(1)
V, W, WR, T, IM, U = (
    ConsentSource.VERBAL,
    ConsentSource.WEB_FORM,
    ConsentSource.WRITTEN,
    ConsentSource.TEXTED_US_FIRST,
    ConsentSource.IMPORTED,
    ConsentSource.UNKNOWN,
)


@pytest.mark.parametrize(
    ("steps", "final", "records"),
    [
        ([], U, 0),
        ([V], V, 1),
        ([V, V], V, 1),  # the same again changes nothing
        ([IM, V], V, 2),  # a person confirms an imported customer
        ([T, WR], WR, 2),
        ([V, IM], V, 1),  # an import never downgrades what a person recorded
        ([WR, T], WR, 1),  # nor does a text from the customer
        ([IM, T], T, 2),  # texting us is stronger than an unconfirmed import
        ([V, W], W, 2),  # the office may record a better proof
        ([V, U], U, 2),  # ...or that it is not known after all
    ],
)
def test_consent_transitions(make, steps, final, records):
    company = make.company()
    customer = make.customer(company)
    for source in steps:
        record_consent(customer=customer, source=source, actor=None)
    assert consent_source(customer=customer) == final
    assert db.session.scalar(sa.select(sa.func.count(Consent.id))) == records


def test_record_consent_keeps_who_and_when(make):
    company = make.company()
    customer = make.customer(company)
    office = make.user(company, role="office", name="Kim Office")
    when = utcnow() - timedelta(days=3)
    consent = record_consent(customer=customer, source=V, actor=office, at=when, note=" booth ")
    assert consent is not None
    assert (consent.actor_id, consent.consented_at, consent.note) == (office.id, when, "booth")
    assert current_consent(customer=customer) == consent


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"source": "maybe"}, "consent_source"),
        ({"source": V, "at": datetime(2999, 1, 1, tzinfo=UTC)}, "consent_at"),
    ],
)
def test_bad_consent_is_refused_with_its_field(make, kwargs, field):
    customer = make.customer(make.company())
    with pytest.raises(DomainError) as error:
        record_consent(customer=customer, **kwargs)
    assert error.value.field == field


def test_another_companys_user_cannot_record_consent(make):
    customer = make.customer(make.company())
    stranger = make.company().owner
    with pytest.raises(DomainError):
        record_consent(customer=customer, source=V, actor=stranger)


def test_a_customer_who_texts_first_is_recorded_as_such(client, text_in, sms_world):
    form = {"MessageSid": f"SM{next(_sids):032x}", "From": "+15125550101", "To": "+15126660100"}
    text_in(client, SMS, {**form, "Body": "STOP"})
    assert consent_source(customer=sms_world.customer) == U  # STOP is no consent
    text_in(client, SMS, {**form, "MessageSid": f"SM{next(_sids):032x}", "Body": "Hi, is 3 ok?"})
    consent = current_consent(customer=sms_world.customer)
    assert consent.source == T and consent.actor_id is None


def test_the_export_lists_every_customer_with_history_and_opt_out(make):
    company = make.company()
    make.number(company)
    office = make.user(company, role="office", name="=Kim")
    ann = make.customer(company, name="Ann")
    bob = make.customer(company, name="Bob")
    record_consent(customer=ann, source=IM)
    record_consent(customer=ann, source=V, actor=office)
    record_office_opt_out(company=company, phone=bob.mobile_phone, actor=office)
    other = make.customer(make.company(), name="Not mine")
    record_consent(customer=other, source=V)
    rows = list(csv.DictReader(io.StringIO(consent_export_csv(company=company))))
    assert [(r["customer_name"], r["consent"], r["current"]) for r in rows] == [
        ("Ann", IM, "no"),
        ("Ann", V, "yes"),
        ("Bob", U, "yes"),
    ]
    assert rows[1]["recorded_by"] == "'=Kim"  # never a formula in a spreadsheet
    assert rows[0]["recorded_by"] == "(automatic)"
    assert (rows[2]["opted_out"], rows[2]["opt_out_source"]) == ("yes", "office")


def test_the_demo_shows_consent_records_and_a_flagged_message(app, fake):
    from app.demo import seed_demo
    from app.models import RevocationFlag

    seed_demo()
    assert db.session.scalar(sa.select(sa.func.count(Consent.id))) > 0
    [flag] = db.session.scalars(sa.select(RevocationFlag)).all()
    assert flag.phrase == "stop texting" and flag.decided_at is None

"""The first text a company ever sends to a number ends with " Reply STOP to opt out."
(app/services/first_contact.py), decided when the text is queued."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Message, MessageKind, MessageStatus, utcnow
from app.services.first_contact import FOOTER
from app.services.job_status import job_set_status
from app.services.notifications import preview_text
from app.services.texting import queue_text

PHONE = "+15125550101"


def _queue(company, body="Hello", kind=MessageKind.MANUAL, phone=PHONE) -> Message:
    return queue_text(company=company, to_phone=phone, body=body, kind=kind)


@pytest.fixture
def company(make):
    company = make.company("Lone Star Plumbing")
    make.number(company)
    return company


def test_only_the_first_text_to_a_number_carries_the_footer(company):
    assert _queue(company, "Hi").body == "Hi" + FOOTER
    assert _queue(company, "Again").body == "Again"
    # Another number is a first contact of its own.
    assert _queue(company, "Hi", phone="+15125550999").body == "Hi" + FOOTER


def test_first_contact_is_per_company(company, make):
    _queue(company)
    other = make.company("Other")
    make.number(other)
    assert _queue(other, "Hi").body == "Hi" + FOOTER


@pytest.mark.parametrize("status", [MessageStatus.CANCELED, MessageStatus.FAILED])
def test_a_text_that_never_reached_the_phone_does_not_count(company, status):
    first = _queue(company, "Hi")
    first.status = status
    db.session.flush()
    assert _queue(company, "Hi again").body == "Hi again" + FOOTER


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        (MessageKind.MANUAL, "Booked! Reply STOP to opt out, HELP for help."),
        (MessageKind.MANUAL, "Text stop to unsubscribe"),
        (MessageKind.HELP_REPLY, "Acme: appointment texts."),
        (MessageKind.OPT_IN_CONFIRMATION, "Acme: subscribed."),
    ],
)
def test_no_footer_when_the_text_already_says_how(company, kind, body):
    assert _queue(company, body, kind=kind).body == body


def test_the_booking_text_is_the_first_and_on_my_way_is_not(company, make):
    tech = make.user(company, name="Sam Lee")
    job = make.job(company, customer=make.customer(company, phone=PHONE), techs=[tech])
    job_set_status(job=job, status="on_my_way", actor=tech)
    booked, on_my_way = db.session.scalars(
        sa.select(Message).filter_by(job_id=job.id).order_by(Message.id)
    ).all()
    assert booked.body.endswith(FOOTER)
    assert not on_my_way.body.endswith(FOOTER)


def test_the_preview_shows_the_footer_when_it_applies(company, make):
    body = "Hi {customer_first_name}!"
    sample = preview_text(company=company, kind=MessageKind.ON_MY_WAY, body=body)
    assert sample.job is None
    assert sample.text == "Hi Jordan!" + FOOTER
    assert sample.info.characters == len("Hi Jordan!" + FOOTER)
    assert "first text to a new customer" in sample.footer_note
    # With a real upcoming job whose customer was already texted (its booking): no footer.
    make.job(
        company,
        customer=make.customer(company, name="Ann Smith", phone=PHONE),
        start=utcnow() + timedelta(days=1),
    )
    real = preview_text(company=company, kind=MessageKind.ON_MY_WAY, body=body)
    assert real.job is not None
    assert (real.text, real.footer_note) == ("Hi Ann!", "")

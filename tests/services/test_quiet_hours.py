"""Quiet hours (app/services/quiet_hours.py): the company's window ∩ the customer's state
rule, in the state's zone(s), as a later due time in the outbox. Frozen clock: queue_text's
`utcnow` is pinned to each case's moment; every case crosses or sits on a DST change
(2026: March 8 and November 1)."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Message, MessageKind
from app.services import texting
from app.services.quiet_hours import (
    FEDERAL,
    STATE_RULES,
    quiet_hours_delay,
    state_from_address,
    state_from_phone,
    validate_window,
    windows_for,
)
from app.services.reminders import job_windows, reminder_send_time

FL_PHONE, CT_PHONE, TX_PHONE, IL_PHONE = (
    "+13055550101",
    "+18605550101",
    "+15125550101",
    "+13125550101",
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def company(make):
    company = make.company(name="Acme Plumbing")  # America/Chicago, texts 08:00-20:00
    make.number(company)
    return company


def _queue(company, phone, kind, now, monkeypatch, address=None) -> Message:
    monkeypatch.setattr(texting, "utcnow", lambda: now)
    customer = None
    if address:
        from app.services.customers import create_customer

        customer = create_customer(company=company, name="Pat", mobile_phone=phone, address=address)
    return texting.queue_text(
        company=company, to_phone=phone, body="Reminder", kind=kind, customer=customer
    )


@pytest.mark.parametrize(
    ("phone", "now", "due"),
    [
        # Florida (ET and CT zones): 8-20 in both, so 9:00-20:00 Eastern.
        # Sat Oct 31 21:30 EDT -> Sun Nov 1 9:00 EST (the clocks went back at 2:00).
        (FL_PHONE, utc(2026, 11, 1, 1, 30), utc(2026, 11, 1, 14, 0)),
        # Sat Mar 7 22:00 EST -> Sun Mar 8 9:00 EDT (the clocks went forward at 2:00).
        (FL_PHONE, utc(2026, 3, 8, 3, 0), utc(2026, 3, 8, 13, 0)),
        # Sun Mar 8 8:30 EDT (8:30 is fine in Miami but 7:30 in Pensacola) -> 9:00 EDT.
        (FL_PHONE, utc(2026, 3, 8, 12, 30), utc(2026, 3, 8, 13, 0)),
        # Tue 12:00 EST: inside, no delay.
        (FL_PHONE, utc(2026, 11, 3, 17, 0), None),
        # Connecticut: 9-20 Eastern.
        (CT_PHONE, utc(2026, 11, 1, 1, 0), utc(2026, 11, 1, 14, 0)),  # Sat 21:00 EDT
        (CT_PHONE, utc(2026, 3, 8, 12, 30), utc(2026, 3, 8, 13, 0)),  # Sun 8:30 EDT
        (CT_PHONE, utc(2026, 3, 9, 0, 30), utc(2026, 3, 9, 13, 0)),  # Sun 20:30 EDT
        (CT_PHONE, utc(2026, 3, 9, 13, 0), None),  # Mon 9:00 EDT exactly
        # Texas (CT and MT zones): 9-21 Mon-Sat, noon-21 Sunday; with 8-20: 10:00-20:00
        # Central on weekdays, 13:00-20:00 Central on Sunday (noon in El Paso).
        (TX_PHONE, utc(2026, 11, 1, 1, 30), utc(2026, 11, 1, 19, 0)),  # Sat 20:30 CDT
        (TX_PHONE, utc(2026, 3, 8, 16, 0), utc(2026, 3, 8, 18, 0)),  # Sun 11:00 CDT
        (TX_PHONE, utc(2026, 3, 9, 14, 30), utc(2026, 3, 9, 15, 0)),  # Mon 9:30 CDT
        (TX_PHONE, utc(2026, 3, 9, 15, 0), None),  # Mon 10:00 CDT
    ],
)
def test_reminders_wait_for_the_customers_texting_hours(company, monkeypatch, phone, now, due):
    message = _queue(company, phone, MessageKind.REMINDER, now, monkeypatch)
    assert message.next_attempt_at == (due or now)
    assert ("quiet_hours" in message.extra) == (due is not None)
    assert message.status == "pending"  # delayed, never dropped


def test_illinois_uses_the_company_window(company, monkeypatch):
    # Sun Mar 8 7:30 CDT (just after spring forward) -> 8:00 CDT.
    message = _queue(company, IL_PHONE, MessageKind.REMINDER, utc(2026, 3, 8, 12, 30), monkeypatch)
    assert message.next_attempt_at == utc(2026, 3, 8, 13, 0)


@pytest.mark.parametrize(
    "kind", [MessageKind.ON_MY_WAY, MessageKind.MANUAL, MessageKind.HELP_REPLY]
)
def test_texts_someone_is_waiting_for_are_never_delayed(company, monkeypatch, kind):
    midnight = utc(2026, 11, 1, 6, 0)  # 00:00 CST in Texas
    message = _queue(company, TX_PHONE, kind, midnight, monkeypatch)
    assert message.next_attempt_at == midnight


def test_the_service_address_wins_over_the_area_code(company, monkeypatch):
    # A Texas number at a Connecticut address: Connecticut's 9:00 applies.
    message = _queue(
        company,
        TX_PHONE,
        MessageKind.REMINDER,
        utc(2026, 3, 9, 12, 30),  # Mon 8:30 EDT
        monkeypatch,
        address="12 Elm St, New Haven, CT 06510",
    )
    assert message.next_attempt_at == utc(2026, 3, 9, 13, 0)
    assert message.extra["quiet_hours"]["state"] == "CT"


def test_the_company_window_is_a_setting(company, monkeypatch):
    company.texting_window_start, company.texting_window_end = 11 * 60, 18 * 60
    message = _queue(company, CT_PHONE, MessageKind.REMINDER, utc(2026, 3, 9, 13, 0), monkeypatch)
    assert message.next_attempt_at == utc(2026, 3, 9, 15, 0)  # 11:00 EDT


@pytest.mark.parametrize(
    ("address", "state"),
    [
        ("12 Oak St, Tampa, FL 33602", "FL"),
        ("12 Oak St, Tampa FL 33602-1234", "FL"),
        ("9 Elm St, Hartford, CT", "CT"),
        ("1 Main St, Austin, Texas", "TX"),
        ("1 Main St, Austin, tx 78701, USA", "TX"),
        ("1 Main St", None),
        ("1 Main St, Suite ZZ 12345", None),
        (None, None),
    ],
)
def test_state_from_address(address, state):
    assert state_from_address(address) == state


@pytest.mark.parametrize(
    ("phone", "state"),
    [(FL_PHONE, "FL"), (CT_PHONE, "CT"), (TX_PHONE, "TX"), ("+14165550101", None), ("", None)],
)
def test_state_from_area_code(phone, state):
    assert state_from_phone(phone) == state


def test_every_state_rule_names_its_source():
    for rule in (*STATE_RULES.values(), FEDERAL):
        assert rule.source and rule.window.opens < rule.window.closes
    assert STATE_RULES["TX"].on(6).opens == time(12)
    assert STATE_RULES["CT"].on(0).opens == time(9)


def test_reminders_move_earlier_into_the_states_window(company, make):
    # A Connecticut customer's reminder due at 8:30 EDT moves to 20:00 the evening before.
    customer = make.customer(company, phone=CT_PHONE, address="12 Elm St, New Haven, CT 06510")
    job = make.job(company, customer=customer, start=utc(2026, 3, 9, 14, 30))  # 10:30 EDT
    send_at = reminder_send_time(
        start=job.scheduled_start, lead_minutes=120, windows=job_windows(job)
    )
    assert send_at == utc(2026, 3, 9, 0, 0)  # Sun Mar 8, 20:00 EDT


@pytest.mark.parametrize(
    ("start", "end", "problem"),
    [(480, 1200, None), (1200, 480, "after the start"), (480, 500, "one hour"), (0, 1439, None)],
)
def test_company_window_validation(start, end, problem):
    result = validate_window(start, end)
    assert (result is None) if problem is None else (problem in result)


def test_no_delay_helper_for_other_kinds(company):
    assert (
        quiet_hours_delay(
            company=company,
            phone=TX_PHONE,
            kind=MessageKind.ON_MY_WAY,
            address=None,
            now=utc(2026, 1, 1, 6),
        )
        is None
    )
    assert windows_for(company=company, phone=None).state is None


def test_a_delayed_text_is_stored_once(company, monkeypatch):
    _queue(company, CT_PHONE, MessageKind.REMINDER, utc(2026, 3, 9, 2, 0), monkeypatch)
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 1


def test_company_hours_outside_the_states_fall_back_to_the_state_window(company, monkeypatch):
    company.texting_window_start, company.texting_window_end = 6 * 60, 8 * 60 + 30
    message = _queue(company, CT_PHONE, MessageKind.REMINDER, utc(2026, 3, 9, 11, 0), monkeypatch)
    assert message.next_attempt_at == utc(2026, 3, 9, 13, 0)  # 9:00 EDT, Connecticut's

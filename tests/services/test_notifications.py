"""Automated texts: each trigger sends once, each non-trigger sends nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Invoice,
    InvoiceStatus,
    JobStatus,
    Message,
    MessageKind,
    MessageStatus,
    OptOut,
    SenderIdentity,
    SkippedText,
)
from app.services.job_status import IllegalTransition, job_set_status
from app.services.jobs import assign_tech, reschedule_job, update_job
from app.services.message_templates import get_template, save_template, set_template_enabled
from app.services.notifications import eta_text, notify_job_changed
from app.services.photos import store_profile_photo

# Tuesday Dec 1 2026, 9:00 AM in Chicago (UTC-6).
START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def texts(job, kind=None) -> list[Message]:
    query = sa.select(Message).filter_by(job_id=job.id).order_by(Message.id)
    if kind:
        query = query.filter_by(kind=kind)
    return list(db.session.scalars(query))


@pytest.fixture
def booked_job(make):
    """A company with a number, a customer, two techs, and one booked job."""
    company = make.company(name="Acme Plumbing")
    make.number(company)
    customer = make.customer(company, name="Ann Smith")
    sam = make.user(company, name="Sam Lee")
    kim = make.user(company, name="Kim Park")
    job = make.job(company, customer=customer, techs=[sam], start=START)
    return company, customer, sam, kim, job


def test_booking_texts_the_customer_in_the_company_time_zone(booked_job):
    _, customer, _, _, job = booked_job
    (text,) = texts(job)
    assert text.kind == MessageKind.JOB_SCHEDULED
    assert text.to_phone == customer.mobile_phone
    assert text.status == MessageStatus.PENDING
    assert text.body == (
        "Hi Ann! You're booked. Acme Plumbing will see you on Tue, Dec 1, arriving "
        f"9:00-11:00 AM. Job #{job.number}. Questions? Just reply to this text."
        # The first text to Ann's number says how to opt out (CTIA).
        " Reply STOP to opt out."
    )
    assert text.conversation.customer_id == customer.id


def test_times_follow_the_company_zone(make):
    company = make.company(time_zone="America/Los_Angeles")
    make.number(company)
    job = make.job(company, start=START)  # 7:00 AM in Los Angeles
    (text,) = texts(job)
    assert "arriving 7:00-9:00 AM" in text.body


def test_disabled_template_sends_nothing(make):
    company = make.company()
    make.number(company)
    set_template_enabled(company=company, kind=MessageKind.JOB_SCHEDULED, enabled=False)
    job = make.job(company, start=START)
    assert texts(job) == []


def test_no_custom_number_is_skipped_visibly(make):
    company = make.company()
    job = make.job(company, start=START)
    assert texts(job) == []
    (skip,) = db.session.scalars(sa.select(SkippedText).filter_by(job_id=job.id))
    assert skip.reason == "no_number"
    assert skip.kind == MessageKind.JOB_SCHEDULED
    assert "no custom SMS number" in skip.detail


def test_opted_out_customer_gets_nothing_and_the_skip_is_recorded_once(make):
    company = make.company()
    make.number(company)
    tech = make.user(company)
    customer = make.customer(company)
    db.session.add(OptOut(company_id=company.id, phone=customer.mobile_phone, keyword="STOP"))
    db.session.flush()
    job = make.job(company, customer=customer, techs=[tech], start=START)
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech)
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech)  # a second tap
    assert texts(job) == []
    skips = db.session.scalars(sa.select(SkippedText).filter_by(job_id=job.id)).all()
    assert sorted((s.kind, s.reason) for s in skips) == [
        (MessageKind.JOB_SCHEDULED, "opted_out"),
        (MessageKind.ON_MY_WAY, "opted_out"),
    ]


def test_reschedule_without_change_sends_nothing(booked_job):
    company, _, sam, _, job = booked_job
    reschedule_job(job=job, start=job.scheduled_start, end=job.scheduled_end)
    update_job(
        job=job,
        actor=company.owner,
        description="New description",
        scheduled_start=job.scheduled_start,
        scheduled_end=job.scheduled_end,
        notes="Gate code 1234",
        techs=[sam],
    )
    assert len(texts(job)) == 1  # only the booking


def test_new_time_says_so_and_each_move_is_sent(booked_job):
    _, _, _, _, job = booked_job
    reschedule_job(job=job, start=START + timedelta(hours=4), end=START + timedelta(hours=6))
    changed = texts(job)[-1]
    assert changed.body.startswith(
        "Hi Ann! Your appointment has a new time. Acme Plumbing will see you on Tue, Dec 1, "
        "arriving 1:00-3:00 PM."
    )
    # Moves within 2 minutes are one text (tests/services/test_surprise_texts.py): back to
    # the old time withdraws it, and moving again writes a new one.
    reschedule_job(job=job, start=START, end=START + timedelta(hours=2))
    assert texts(job)[-1].status == MessageStatus.CANCELED
    reschedule_job(job=job, start=START + timedelta(hours=4), end=START + timedelta(hours=6))
    assert [t.status for t in texts(job)] == [
        MessageStatus.PENDING,  # booking
        MessageStatus.CANCELED,  # the move that was undone
        MessageStatus.PENDING,  # the move that stands
    ]


def test_the_same_change_reported_twice_sends_once(booked_job):
    _, _, sam, _, job = booked_job
    old = (job.scheduled_start, job.scheduled_end)
    job.scheduled_start += timedelta(days=1)
    job.scheduled_end += timedelta(days=1)
    db.session.flush()
    for _ in range(2):  # a retried request reports the same change again
        notify_job_changed(job=job, old_start=old[0], old_end=old[1], old_tech_ids=[sam.id])
    assert len(texts(job)) == 2


def test_new_tech_is_named_with_the_tech_identity(booked_job):
    _, _, _, kim, job = booked_job
    assign_tech(job=job, tech=kim)
    changed = texts(job)[-1]
    assert "Your technicians are now Sam Lee and Kim Park." in changed.body


def test_company_identity_never_names_a_tech(booked_job):
    company, _, sam, kim, job = booked_job
    company.sender_identity = SenderIdentity.COMPANY
    store_profile_photo(user=sam, data=_png(), upload_folder=_uploads())
    assign_tech(job=job, tech=kim)
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=sam)
    bodies = [t.body for t in texts(job)]
    assert "Your technician has changed." in bodies[1]
    assert "our technician from Acme Plumbing is on the way" in bodies[2]
    for text in texts(job):
        assert "Sam" not in text.body and "Kim" not in text.body
        assert text.media_urls == []


def test_time_changes_of_a_canceled_job_send_nothing(booked_job):
    _, _, sam, _, job = booked_job
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    old = (job.scheduled_start, job.scheduled_end)
    job.scheduled_start += timedelta(days=1)
    job.scheduled_end += timedelta(days=1)
    notify_job_changed(job=job, old_start=old[0], old_end=old[1], old_tech_ids=[sam.id])
    # The booking and the cancellation; no change text.
    assert [t.kind for t in texts(job)] == [MessageKind.JOB_SCHEDULED, MessageKind.JOB_CANCELED]


def test_on_my_way_names_the_tech_and_sends_the_photo_once(booked_job, app):
    _, _, sam, kim, job = booked_job
    job.assignments  # noqa: B018  (loaded before the second tech joins)
    assign_tech(job=job, tech=kim)
    store_profile_photo(user=sam, data=_png(), upload_folder=_uploads())
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam, eta_minutes=20)
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam)  # second tap
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=kim)  # second tech
    (text,) = texts(job, MessageKind.ON_MY_WAY)
    assert text.body == (
        "Hi Ann, Sam Lee from Acme Plumbing is on the way and should arrive in "
        "20 minutes. Reply to this text if anything comes up."
    )
    base = app.config["PUBLIC_BASE_URL"]
    assert text.media_urls == [f"{base}/p/{sam.photo_token}.jpg"]
    assert len(sam.photo_token) >= 40  # random, not derived from the user id


def test_on_my_way_is_once_per_job_even_after_reopening(booked_job):
    _, _, sam, _, job = booked_job
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam)
    job_set_status(job=job, status=JobStatus.CANCELED, actor=None)
    job_set_status(job=job, status=JobStatus.SCHEDULED, actor=None)
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam)
    assert len(texts(job, MessageKind.ON_MY_WAY)) == 1


def test_on_my_way_without_a_photo_is_plain_sms(booked_job):
    _, _, sam, _, job = booked_job
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam)
    (text,) = texts(job, MessageKind.ON_MY_WAY)
    assert text.media_urls == []
    assert "Sam Lee" in text.body


def test_disabled_on_my_way_sends_nothing(booked_job):
    company, _, sam, _, job = booked_job
    set_template_enabled(company=company, kind=MessageKind.ON_MY_WAY, enabled=False)
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam)
    assert texts(job, MessageKind.ON_MY_WAY) == []


def test_finished_is_sent_once(booked_job):
    _, _, sam, _, job = booked_job
    job_set_status(job=job, status=JobStatus.STARTED, actor=sam)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=sam)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=sam)
    with pytest.raises(IllegalTransition):
        job_set_status(job=job, status=JobStatus.CANCELED, actor=sam)
    (text,) = texts(job, MessageKind.JOB_FINISHED)
    assert text.body == (
        f"Hi Ann, job #{job.number} is finished. Thank you for choosing Acme Plumbing!"
    )


def _invoice(job, status: str, number: int = 1001) -> Invoice:
    invoice = Invoice(
        company_id=job.company_id,
        customer_id=job.customer_id,
        job_id=job.id,
        number=number,
        status=status,
    )
    db.session.add(invoice)
    db.session.flush()
    return invoice


def test_finished_carries_the_invoice_link_only_when_wanted_and_sent(booked_job, app):
    company, _, sam, _, job = booked_job
    invoice = _invoice(job, InvoiceStatus.SENT)
    job_set_status(job=job, status=JobStatus.STARTED, actor=sam)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=sam)
    assert "invoice" not in texts(job, MessageKind.JOB_FINISHED)[0].body.lower()

    other = _job_for(company, sam, booked_job[1])
    _invoice(other, InvoiceStatus.DRAFT, number=1002)
    company.finished_text_invoice_link = True
    job_set_status(job=other, status=JobStatus.STARTED, actor=sam)
    job_set_status(job=other, status=JobStatus.FINISHED, actor=sam)
    assert "/i/" not in texts(other, MessageKind.JOB_FINISHED)[0].body  # drafts stay private

    third = _job_for(company, sam, booked_job[1])
    sent = _invoice(third, InvoiceStatus.SENT, number=1003)
    job_set_status(job=third, status=JobStatus.STARTED, actor=sam)
    job_set_status(job=third, status=JobStatus.FINISHED, actor=sam)
    body = texts(third, MessageKind.JOB_FINISHED)[0].body
    assert body.endswith(f"Your invoice: {app.config['PUBLIC_BASE_URL']}/i/{sent.public_token}")
    assert invoice.public_token not in body


def test_a_template_with_the_invoice_placeholder_places_the_link(booked_job, app):
    company, _, sam, _, job = booked_job
    company.finished_text_invoice_link = True
    save_template(
        company=company,
        kind=MessageKind.JOB_FINISHED,
        body="Done! Pay at {invoice_link} - {company_name}",
    )
    invoice = _invoice(job, InvoiceStatus.SENT)
    job_set_status(job=job, status=JobStatus.STARTED, actor=sam)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=sam)
    (text,) = texts(job, MessageKind.JOB_FINISHED)
    link = f"{app.config['PUBLIC_BASE_URL']}/i/{invoice.public_token}"
    assert text.body == f"Done! Pay at {link} - Acme Plumbing"


def test_a_rolled_back_booking_texts_nobody(make):
    company = make.company()
    make.number(company)
    db.session.commit()
    job = make.job(company, start=START)
    job_id = job.id
    db.session.rollback()
    assert db.session.scalars(sa.select(Message).filter_by(job_id=job_id)).all() == []


def _job_for(company, tech, customer):
    from app.services.jobs import create_job

    return create_job(
        company=company,
        customer=customer,
        description="Another visit",
        scheduled_start=START + timedelta(days=2),
        scheduled_end=START + timedelta(days=2, hours=1),
        techs=[tech],
    )


def _png() -> bytes:
    from tests.fixtures.notifications import image_bytes

    return image_bytes("PNG")


def _uploads() -> str:
    from flask import current_app

    return current_app.config["UPLOAD_FOLDER"]


def test_a_skipped_text_shows_on_the_job_timeline(make):
    from app.services.job_queries import job_timeline

    company = make.company()
    job = make.job(company, start=START)  # no custom number yet
    entries = [e for e in job_timeline(job) if e.kind == "skipped"]
    assert [e.title for e in entries] == ["Job scheduled text"]
    assert "no custom SMS number" in entries[0].detail


def test_a_template_without_the_change_placeholder_still_says_what_changed(booked_job):
    company, _, _, _, job = booked_job
    save_template(
        company=company,
        kind=MessageKind.JOB_SCHEDULED,
        body="See you {job_date}, {arrival_window}!",
    )
    reschedule_job(job=job, start=START + timedelta(days=1), end=START + timedelta(days=1, hours=2))
    assert texts(job)[-1].body == (
        "Your appointment has a new time. See you Wed, Dec 2, 9:00-11:00 AM!"
    )


@pytest.mark.parametrize(
    ("minutes", "value"),
    [
        (1, "1 minute"),
        (25, "25 minutes"),
        (60, "1 hour"),
        (61, "1 hour 1 minute"),
        (130, "2 hours 10 minutes"),
        (None, "a little while"),
    ],
)
def test_eta_is_a_value_without_words_around_it(minutes, value):
    assert eta_text(minutes) == value


def test_a_stored_template_saying_about_eta_never_sends_about_about(booked_job):
    """Companies that wrote "about {eta}" (to fix "in 20 minutes" sounding exact) keep
    their text, and it now reads right."""
    company, _, sam, _, job = booked_job
    template = get_template(company=company, kind=MessageKind.ON_MY_WAY)
    template.body = "{tech_first_name} is coming, about {eta} away."
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam, eta_minutes=30)
    (text,) = texts(job, MessageKind.ON_MY_WAY)
    assert text.body == "Sam is coming, about 30 minutes away."
    assert "about about" not in text.body


def test_company_only_tech_name_opens_a_sentence_with_a_capital(booked_job):
    company, _, sam, _, job = booked_job
    company.sender_identity = SenderIdentity.COMPANY
    template = get_template(company=company, kind=MessageKind.ON_MY_WAY)
    template.body = "{tech_name} is on the way. {tech_name} will call if {tech_name} is late."
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=sam, eta_minutes=30)
    (text,) = texts(job, MessageKind.ON_MY_WAY)
    assert text.body == (
        "Our technician is on the way. Our technician will call if our technician is late."
    )

"""Job services: booking, editing, rescheduling, assigning; what they tell notifications."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.extensions import db
from app.models import JobAssignment, JobStatus, Role
from app.services.errors import DomainError
from app.services.job_events import job_changed
from app.services.job_status import job_set_status
from app.services.jobs import (
    assign_tech,
    create_job,
    reschedule_job,
    unassign_tech,
    update_job,
)

START = datetime(2026, 7, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def changes():
    """Every job_changed signal sent, as (job id, old_start, old_end, old techs)."""
    calls = []

    def record(job, *, old_start, old_end, old_tech_ids, **_):
        calls.append((job.id, old_start, old_end, set(old_tech_ids)))

    with job_changed.connected_to(record):
        yield calls


@pytest.fixture
def techs_and_customer(make):
    company = make.company()
    ana = make.user(company, role=Role.TECH, name="Ana Tech")
    ben = make.user(company, role=Role.TECH, name="Ben Tech")
    customer = make.customer(company, name="Cara Customer", address="1 Main St")
    return company, ana, ben, customer


def book(make, techs_and_customer, **kwargs):
    company, ana, _ben, customer = techs_and_customer
    fields = {"customer": customer, "techs": [ana], "start": START}
    fields.update(kwargs)
    return make.job(company, **fields)


# --- create_job --------------------------------------------------------------------------


def test_jobs_are_numbered_per_company(make, techs_and_customer):
    first = book(make, techs_and_customer)
    second = book(make, techs_and_customer)
    other_company = make.company()
    elsewhere = make.job(other_company)
    assert second.number == first.number + 1
    assert elsewhere.number == first.number


def test_create_job_defaults_the_address_to_the_customers(make, techs_and_customer):
    job = book(make, techs_and_customer)
    assert job.address == "1 Main St"
    other = book(make, techs_and_customer, address="  9 Side St ")
    assert other.address == "9 Side St"


def test_create_job_refuses_an_end_before_the_start(techs_and_customer):
    company, _ana, _ben, customer = techs_and_customer
    with pytest.raises(DomainError) as refused:
        create_job(
            company=company,
            customer=customer,
            description="Leak",
            scheduled_start=START,
            scheduled_end=START - timedelta(minutes=30),
        )
    assert refused.value.field == "scheduled_end"


def test_create_job_refuses_another_companys_customer_and_tech(make, techs_and_customer):
    company, ana, _ben, _customer = techs_and_customer
    other = make.company()
    stranger = make.customer(other)
    with pytest.raises(DomainError) as refused:
        create_job(
            company=company,
            customer=stranger,
            description="Leak",
            scheduled_start=START,
            scheduled_end=START + timedelta(hours=1),
        )
    assert refused.value.field == "customer_id"
    outsider = make.user(other, role=Role.TECH)
    with pytest.raises(DomainError) as refused:
        create_job(
            company=company,
            customer=techs_and_customer[3],
            description="Leak",
            scheduled_start=START,
            scheduled_end=START + timedelta(hours=1),
            techs=[ana, outsider],
        )
    assert refused.value.field == "tech_ids"


# --- update_job --------------------------------------------------------------------------


def test_update_job_changes_details_and_reports_the_old_time_and_techs(
    make, techs_and_customer, changes
):
    company, ana, ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    owner = company.owner
    new_start = START + timedelta(days=1)

    update_job(
        job=job,
        actor=owner,
        description=" New pipe ",
        scheduled_start=new_start,
        scheduled_end=new_start + timedelta(hours=3),
        address="",
        notes="  Dog in yard ",
        techs=[ben],
    )

    assert job.description == "New pipe"
    assert job.address == "1 Main St"  # emptied: back to the customer's
    assert job.notes == "Dog in yard"
    assert [t.id for t in job.techs] == [ben.id]
    assert changes == [(job.id, START, START + timedelta(hours=2), {ana.id})]
    assert db.session.query(JobAssignment).filter_by(job_id=job.id).count() == 1


def test_update_job_without_time_or_tech_change_does_not_notify(make, techs_and_customer, changes):
    company, ana, _ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    update_job(
        job=job,
        actor=company.owner,
        description="Only the words changed",
        scheduled_start=job.scheduled_start,
        scheduled_end=job.scheduled_end,
        techs=[ana],
    )
    assert job.description == "Only the words changed"
    assert changes == []


def test_update_job_refuses_moving_a_finished_job_but_allows_fixing_its_words(
    make, techs_and_customer, changes
):
    company, ana, ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    job_set_status(job=job, status=JobStatus.STARTED, actor=ana)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=ana)
    with pytest.raises(DomainError, match="finished"):
        update_job(
            job=job,
            actor=company.owner,
            description="x",
            scheduled_start=START + timedelta(days=2),
            scheduled_end=START + timedelta(days=2, hours=1),
            techs=[ana],
        )
    with pytest.raises(DomainError, match="technicians"):
        update_job(
            job=job,
            actor=company.owner,
            description="x",
            scheduled_start=job.scheduled_start,
            scheduled_end=job.scheduled_end,
            techs=[ben],
        )
    update_job(
        job=job,
        actor=company.owner,
        description="Typo fixed",
        scheduled_start=job.scheduled_start,
        scheduled_end=job.scheduled_end,
        techs=[ana],
    )
    assert job.description == "Typo fixed"
    assert changes == []


def test_update_job_refuses_an_empty_description(make, techs_and_customer):
    company, ana, _ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    with pytest.raises(DomainError) as refused:
        update_job(
            job=job,
            actor=company.owner,
            description="   ",
            scheduled_start=job.scheduled_start,
            scheduled_end=job.scheduled_end,
            techs=[ana],
        )
    assert refused.value.field == "description"


# --- reschedule_job ----------------------------------------------------------------------


def test_reschedule_moves_the_job_and_reports_the_old_window(make, techs_and_customer, changes):
    _company, ana, _ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    later = START + timedelta(hours=5)
    reschedule_job(job=job, start=later, end=later + timedelta(hours=1))
    assert (job.scheduled_start, job.scheduled_end) == (later, later + timedelta(hours=1))
    assert changes == [(job.id, START, START + timedelta(hours=2), {ana.id})]


def test_reschedule_to_the_same_time_is_a_no_op(make, techs_and_customer, changes):
    job = book(make, techs_and_customer)
    reschedule_job(job=job, start=job.scheduled_start, end=job.scheduled_end)
    assert changes == []


def test_reschedule_refuses_end_before_start_and_canceled_jobs(make, techs_and_customer, changes):
    _company, ana, _ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    with pytest.raises(DomainError) as refused:
        reschedule_job(job=job, start=START + timedelta(hours=3), end=START + timedelta(hours=1))
    assert refused.value.field == "scheduled_end"
    job_set_status(job=job, status=JobStatus.CANCELED, actor=ana)
    with pytest.raises(DomainError, match="canceled"):
        reschedule_job(
            job=job, start=START + timedelta(days=1), end=START + timedelta(days=1, hours=1)
        )
    assert changes == []


# --- assign / unassign -------------------------------------------------------------------


def test_assign_and_unassign_report_the_old_techs(make, techs_and_customer, changes):
    _company, ana, ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)

    assign_tech(job=job, tech=ben)
    assert {t.id for t in job.techs} == {ana.id, ben.id}
    unassign_tech(job=job, tech=ana)
    assert [t.id for t in job.techs] == [ben.id]

    window = (START, START + timedelta(hours=2))
    assert changes == [
        (job.id, *window, {ana.id}),
        (job.id, *window, {ana.id, ben.id}),
    ]


def test_assigning_twice_or_removing_someone_absent_changes_nothing(
    make, techs_and_customer, changes
):
    _company, ana, ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    assign_tech(job=job, tech=ana)
    unassign_tech(job=job, tech=ben)
    assert [t.id for t in job.techs] == [ana.id]
    assert changes == []


def test_an_office_user_can_be_assigned(make, techs_and_customer):
    company, _ana, _ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    assign_tech(job=job, tech=company.owner)
    assert company.owner in job.techs


def test_assign_refuses_inactive_and_foreign_people(make, techs_and_customer, changes):
    company, _ana, _ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    gone = make.user(company, role=Role.TECH, active=False)
    outsider = make.user(make.company(), role=Role.TECH)
    for person in (gone, outsider):
        with pytest.raises(DomainError) as refused:
            assign_tech(job=job, tech=person)
        assert refused.value.field == "tech_ids"
    assert changes == []


def test_techs_of_a_finished_job_are_fixed(make, techs_and_customer, changes):
    _company, ana, ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    job_set_status(job=job, status=JobStatus.STARTED, actor=ana)
    job_set_status(job=job, status=JobStatus.FINISHED, actor=ana)
    with pytest.raises(DomainError, match="finished"):
        assign_tech(job=job, tech=ben)
    with pytest.raises(DomainError, match="finished"):
        unassign_tech(job=job, tech=ana)
    assert changes == []


def test_update_job_keeps_a_tech_deactivated_since_but_refuses_adding_one(
    make, techs_and_customer, changes
):
    company, ana, ben, _customer = techs_and_customer
    job = book(make, techs_and_customer)
    ana.active = False
    ben.active = False
    update_job(
        job=job,
        actor=company.owner,
        description="Still Ana's job",
        scheduled_start=job.scheduled_start,
        scheduled_end=job.scheduled_end,
        techs=[ana],
    )
    assert [t.id for t in job.techs] == [ana.id]
    with pytest.raises(DomainError) as refused:
        update_job(
            job=job,
            actor=company.owner,
            description="Add Ben",
            scheduled_start=job.scheduled_start,
            scheduled_end=job.scheduled_end,
            techs=[ana, ben],
        )
    assert refused.value.field == "tech_ids"
    assert changes == []

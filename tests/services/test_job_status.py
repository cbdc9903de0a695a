"""job_set_status: every legal and illegal move, the double tap, and two taps at once."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Job, JobStatus, Role
from app.services import job_status as job_status_module
from app.services.job_events import job_status_changed
from app.services.job_status import ALLOWED, IllegalTransition, job_set_status, next_statuses

# How to bring a fresh (scheduled) job into each status through legal moves.
PATH_TO = {
    JobStatus.SCHEDULED: [],
    JobStatus.ON_MY_WAY: [JobStatus.ON_MY_WAY],
    JobStatus.STARTED: [JobStatus.STARTED],
    JobStatus.FINISHED: [JobStatus.STARTED, JobStatus.FINISHED],
    JobStatus.CANCELED: [JobStatus.CANCELED],
}

LEGAL = {
    (JobStatus.SCHEDULED, JobStatus.ON_MY_WAY),
    (JobStatus.SCHEDULED, JobStatus.STARTED),
    (JobStatus.SCHEDULED, JobStatus.CANCELED),
    (JobStatus.ON_MY_WAY, JobStatus.STARTED),
    (JobStatus.ON_MY_WAY, JobStatus.FINISHED),
    (JobStatus.ON_MY_WAY, JobStatus.CANCELED),
    (JobStatus.STARTED, JobStatus.FINISHED),
    (JobStatus.STARTED, JobStatus.CANCELED),
    (JobStatus.CANCELED, JobStatus.SCHEDULED),
}
PAIRS = [(a, b) for a in JobStatus.ALL for b in JobStatus.ALL if a != b]
TIMESTAMP = {
    JobStatus.ON_MY_WAY: "on_my_way_at",
    JobStatus.STARTED: "started_at",
    JobStatus.FINISHED: "finished_at",
    JobStatus.CANCELED: "canceled_at",
}


@pytest.fixture
def notified():
    """The transitions announced (the job_status_changed signal)."""
    calls = []

    def record(transition, *, actor):
        calls.append((transition, actor))

    with job_status_changed.connected_to(record):
        yield calls


@pytest.fixture
def crew(make):
    company = make.company()
    tech = make.user(company, role=Role.TECH)
    return company, tech


def job_in(make, company, tech, status: str) -> Job:
    job = make.job(company, techs=[tech])
    for step in PATH_TO[status]:
        job_set_status(job=job, status=step, actor=tech)
    assert job.status == status
    return job


def test_the_legal_table_is_what_the_service_allows():
    allowed = {(a, b) for a, targets in ALLOWED.items() for b in targets}
    assert allowed == LEGAL


@pytest.mark.parametrize(("old", "new"), sorted(LEGAL))
def test_legal_move_changes_status_once_and_notifies(make, crew, notified, old, new):
    company, tech = crew
    job = job_in(make, company, tech, old)
    notified.clear()

    result = job_set_status(job=job, status=new, actor=tech)

    assert result.changed is True
    assert (result.old_status, result.new_status) == (old, new)
    db.session.commit()
    db.session.expire_all()
    stored = db.session.get(Job, job.id)
    assert stored.status == new
    if new in TIMESTAMP:
        assert getattr(stored, TIMESTAMP[new]) is not None
    assert len(notified) == 1
    assert notified[0][0].new_status == new
    assert notified[0][1] == tech


@pytest.mark.parametrize(("old", "new"), sorted(set(PAIRS) - LEGAL))
def test_illegal_move_is_refused_with_a_clear_message(make, crew, notified, old, new):
    company, tech = crew
    job = job_in(make, company, tech, old)
    notified.clear()

    with pytest.raises(IllegalTransition) as refused:
        job_set_status(job=job, status=new, actor=tech)

    assert f"Job #{job.number}" in str(refused.value)
    assert JobStatus.LABELS[old].lower() in str(refused.value)
    assert refused.value.status_code == 409
    assert db.session.get(Job, job.id).status == old
    assert notified == []


@pytest.mark.parametrize("status", JobStatus.ALL)
def test_double_tap_changes_nothing(make, crew, notified, status):
    company, tech = crew
    job = job_in(make, company, tech, status)
    notified.clear()

    again = job_set_status(job=job, status=status, actor=tech)

    assert again.changed is False
    assert job.status == status
    assert notified == []


def test_unknown_status_is_refused(make, crew):
    company, tech = crew
    job = make.job(company)
    with pytest.raises(IllegalTransition, match="Unknown job status"):
        job_set_status(job=job, status="teleported", actor=tech)


def test_on_my_way_records_who_and_eta(make, crew):
    company, tech = crew
    job = make.job(company, techs=[tech])
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=25)
    assert job.on_my_way_by_id == tech.id
    assert job.eta_minutes == 25


@pytest.mark.parametrize("eta", [0, -5, 24 * 60 + 1])
def test_eta_out_of_range_is_refused(make, crew, eta):
    company, tech = crew
    job = make.job(company, techs=[tech])
    with pytest.raises(IllegalTransition, match="ETA") as refused:
        job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=eta)
    assert refused.value.field == "eta"
    assert job.status == JobStatus.SCHEDULED


def test_reopening_clears_the_old_progress(make, crew):
    company, tech = crew
    job = job_in(make, company, tech, JobStatus.ON_MY_WAY)
    job_set_status(job=job, status=JobStatus.CANCELED, actor=tech)
    job_set_status(job=job, status=JobStatus.SCHEDULED, actor=tech)
    assert job.status == JobStatus.SCHEDULED
    assert job.on_my_way_at is None
    assert job.on_my_way_by_id is None
    assert job.canceled_at is None
    assert next_statuses(job) == ALLOWED[JobStatus.SCHEDULED]


def test_a_stale_object_still_sees_the_move_made_elsewhere(make, crew, notified):
    """The service re-reads the row: a tap on a page loaded before someone else's tap."""
    company, tech = crew
    job = make.job(company, techs=[tech])
    db.session.commit()
    db.session.execute(sa.update(Job).where(Job.id == job.id).values(status=JobStatus.ON_MY_WAY))
    result = job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech)
    assert result.changed is False
    assert notified == []


@pytest.mark.postgres
def test_two_concurrent_taps_make_exactly_one_transition(app, make, crew, notified, monkeypatch):
    """Both taps read "scheduled" before either writes (a barrier holds them at the clock
    read that follows the status read); the conditional UPDATE lets exactly one through."""
    company, tech = crew
    both_read = threading.Barrier(2)
    real_utcnow = job_status_module.utcnow

    def utcnow_after_both_read():
        both_read.wait(timeout=10)
        return real_utcnow()

    monkeypatch.setattr(job_status_module, "utcnow", utcnow_after_both_read)
    job = make.job(company, techs=[tech])
    db.session.commit()
    job_id, tech_id = job.id, tech.id
    db.session.remove()

    start = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def tap() -> None:
        try:
            with app.app_context():
                from app.models import User

                mine = db.session.get(Job, job_id)
                actor = db.session.get(User, tech_id)
                start.wait(timeout=10)
                outcome = job_set_status(job=mine, status=JobStatus.ON_MY_WAY, actor=actor)
                db.session.commit()
                results.append(outcome.changed)
                db.session.remove()
        except BaseException as error:  # reported below: a thread can't fail the test
            errors.append(error)

    threads = [threading.Thread(target=tap) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted(results) == [False, True]
    assert len(notified) == 1
    stored = db.session.get(Job, job_id)
    assert stored.status == JobStatus.ON_MY_WAY
    assert stored.on_my_way_at is not None

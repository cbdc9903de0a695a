"""Office pages of issue 16: the customer's opt-out (with its source) and the office's
"customer asked by phone", and the inbox's decision on a flagged "stop texting me"."""

from __future__ import annotations

import itertools
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import Consent, Message, MessageKind, OptOut, OptOutSource, RevocationFlag

SMS = "/webhooks/twilio/sms"
_sids = itertools.count(1)
HX = {"HX-Request": "true"}


def _form(body: str) -> dict[str, str]:
    sid = f"SM{next(_sids):032x}"
    return {"MessageSid": sid, "From": "+15125550101", "To": "+15126660100", "Body": body}


@pytest.fixture
def office(sms_world, make, client, log_in):
    user = make.user(sms_world.company, role="office", name="Kim Office")
    db.session.commit()
    log_in(client, user)
    return user


def test_customer_page_shows_each_opt_out_source(client, text_in, sms_world, office):
    url = f"/customers/{sms_world.customer.id}"
    html = client.get(url).get_data(as_text=True)
    assert "Not opted out" in html and "Customer asked by phone to stop texts" in html
    text_in(client, SMS, _form("Opt-Out"))
    html = client.get(url).get_data(as_text=True)
    assert "texted an opt-out keyword" in html and "“OPT OUT”" in html


def test_office_records_a_phone_opt_out_from_the_customer_page(client, sms_world, office):
    response = client.post(
        f"/customers/{sms_world.customer.id}/opt-out", data={"note": "Called  Tuesday"}
    )
    assert response.status_code == 302
    row = db.session.scalars(sa.select(OptOut)).one()
    assert (row.source, row.actor_id, row.note) == (
        OptOutSource.OFFICE,
        office.id,
        "Called Tuesday",
    )
    html = client.get(response.location).get_data(as_text=True)
    assert "customer asked by phone (recorded by the office)" in html
    assert "by Kim Office" in html and "Called Tuesday" in html
    assert db.session.scalars(
        sa.select(Message).filter_by(kind=MessageKind.OPT_OUT_CONFIRMATION)
    ).one()


def test_another_companys_customer_cannot_be_opted_out(client, sms_world, office, make):
    other = make.company("Other")
    stranger = make.customer(other)
    db.session.commit()
    assert client.post(f"/customers/{stranger.id}/opt-out").status_code == 404
    assert db.session.scalars(sa.select(OptOut)).all() == []


@pytest.mark.parametrize("htmx", [False, True])
def test_inbox_shows_the_flag_and_the_office_opts_the_number_out(
    client, text_in, sms_world, office, htmx
):
    text_in(client, SMS, _form("Please stop texting me"))
    flag = db.session.scalars(sa.select(RevocationFlag)).one()
    conversation_id = flag.message.conversation_id
    customer_page = client.get(f"/customers/{sms_world.customer.id}").get_data(as_text=True)
    assert "automatic texts are on hold" in customer_page
    assert f"/inbox/{conversation_id}" in customer_page
    html = client.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert "Opt this number out" in html and "Not an opt-out" in html
    assert "10 business days left" in html
    response = client.post(
        f"/inbox/{conversation_id}/revocation/{flag.id}",
        data={"decision": "opt_out"},
        headers=HX if htmx else {},
    )
    assert response.status_code == (200 if htmx else 302)
    row = db.session.scalars(sa.select(OptOut)).one()
    assert (row.source, row.actor_id) == (OptOutSource.REVOCATION, office.id)
    html = client.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert "Opt this number out" not in html
    assert "Automatic: opt-out confirmation" in html


def test_not_an_opt_out_clears_the_flag(client, text_in, sms_world, office):
    text_in(client, SMS, _form("wrong number"))
    flag = db.session.scalars(sa.select(RevocationFlag)).one()
    response = client.post(
        f"/inbox/{flag.message.conversation_id}/revocation/{flag.id}",
        data={"decision": "not_opt_out"},
    )
    assert response.status_code == 302
    db.session.refresh(flag)
    assert flag.decision == "not_opt_out"
    assert db.session.scalars(sa.select(OptOut)).all() == []
    # Deciding again is refused with a message, not a crash.
    again = client.post(
        f"/inbox/{flag.message.conversation_id}/revocation/{flag.id}",
        data={"decision": "opt_out"},
        headers=HX,
    )
    assert again.status_code == 409
    assert "already decided" in again.get_data(as_text=True)


def test_customer_form_shows_the_script_and_records_consent(client, sms_world, office):
    html = client.get("/customers/new").get_data(as_text=True)
    assert "OK to text you about this appointment? Msg &amp; data rates may apply" in html
    response = client.post(
        "/customers/new",
        data={
            "name": "Jo Doe",
            "mobile_phone": "(512) 555-0177",
            "text_consent": "y",
            "consent_source": "verbal",
        },
    )
    assert response.status_code == 302
    consent = db.session.scalars(sa.select(Consent)).one()
    assert (consent.source, consent.actor_id) == ("verbal", office.id)
    html = client.get(response.location).get_data(as_text=True)
    assert "Verbal (script read at booking)" in html and "recorded by Kim Office" in html


def test_booking_form_records_consent_for_the_customer(client, sms_world, office):
    html = client.get(f"/jobs/new?customer_id={sms_world.customer.id}").get_data(as_text=True)
    assert "reply STOP to opt out" in html
    response = client.post(
        "/jobs/new",
        data={
            "customer_id": sms_world.customer.id,
            "description": "Fix sink",
            "date": "2030-01-08",
            "start_time": "09:00",
            "end_time": "11:00",
            "text_consent": "y",
            "consent_source": "written",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    consent = db.session.scalars(sa.select(Consent)).one()
    assert (consent.customer_id, consent.source) == (sms_world.customer.id, "written")


def test_without_the_box_no_consent_is_recorded(client, sms_world, office):
    client.post("/customers/new", data={"name": "Jo", "mobile_phone": "(512) 555-0177"})
    assert db.session.scalars(sa.select(Consent)).all() == []


@pytest.mark.parametrize(("role", "status"), [("owner", 200), ("admin", 200), ("office", 403)])
def test_consent_export_is_for_owners_and_admins(client, sms_world, make, log_in, role, status):
    user = sms_world.company.owner if role == "owner" else make.user(sms_world.company, role=role)
    db.session.commit()
    log_in(client, user)
    response = client.get("/customers/consent.csv")
    assert response.status_code == status
    if status == 200:
        assert response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        assert "Avery Johnson" in response.get_data(as_text=True)


def test_reply_box_counts_the_first_contact_footer(client, text_in, sms_world, office):
    text_in(client, SMS, _form("Hi there"))
    conversation_id = db.session.scalars(sa.select(Message)).one().conversation_id
    html = client.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert 'data-segment-suffix=" Reply STOP to opt out."' in html
    assert "Your first text to this number" in html
    client.post(f"/inbox/{conversation_id}/reply", data={"body": "Hello!"})
    html = client.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert "data-segment-suffix" not in html


@pytest.mark.parametrize(
    ("start", "end", "status", "saved"),
    [("09:00", "19:30", 302, (540, 1170)), ("20:00", "08:00", 422, (480, 1200))],
)
def test_owner_sets_texting_hours(client, sms_world, log_in, start, end, status, saved):
    log_in(client, sms_world.company.owner)
    response = client.post(
        "/texts/hours", data={"texting_window_start": start, "texting_window_end": end}
    )
    assert response.status_code == status
    if status == 422:
        assert "must be after the start" in response.get_data(as_text=True)
    db.session.refresh(sms_world.company)
    company = sms_world.company
    assert (company.texting_window_start, company.texting_window_end) == saved


def test_office_staff_cannot_change_texting_hours(client, sms_world, office):
    response = client.post(
        "/texts/hours", data={"texting_window_start": "06:00", "texting_window_end": "23:00"}
    )
    assert response.status_code == 403


# ----------------------------------------------------------------------------- slice 5


@pytest.fixture
def booked(sms_world, make):
    tech = make.user(sms_world.company, role="tech", name="Sam Lee")
    job = make.job(sms_world.company, customer=sms_world.customer, techs=[tech])
    db.session.commit()
    return job, tech


@pytest.mark.parametrize("htmx", [True, False])
def test_tech_sees_the_customer_was_not_texted_instead_of_done(
    client, booked, sms_world, log_in, htmx
):
    job, tech = booked
    db.session.add(
        OptOut(
            company_id=sms_world.company.id, phone=sms_world.customer.mobile_phone, keyword="STOP"
        )
    )
    db.session.commit()
    log_in(client, tech)
    response = client.post(
        f"/tech/jobs/{job.id}/status",
        data={"status": "on_my_way", "eta": "30"},
        headers=HX if htmx else {},
        follow_redirects=not htmx,
    )
    html = response.get_data(as_text=True)
    assert "The customer was not texted: This customer replied STOP" in html
    assert "On My Way: done." not in html


def test_tech_sees_done_when_the_text_went(client, booked, log_in):
    job, tech = booked
    log_in(client, tech)
    html = client.post(
        f"/tech/jobs/{job.id}/status", data={"status": "on_my_way", "eta": "30"}, headers=HX
    ).get_data(as_text=True)
    assert "On My Way: done." in html and "not texted" not in html


def test_office_cancel_texts_the_customer_and_says_so_when_it_cannot(
    client, booked, sms_world, office, text_in
):
    job, _ = booked
    text_in(client, SMS, _form("wrong number"))  # a pending revocation: texts are held
    response = client.post(f"/jobs/{job.id}/status", data={"status": "canceled"}, headers=HX)
    html = response.get_data(as_text=True)
    assert "The customer was not texted" in html and "Opt this number out" in html
    canceled = db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.JOB_CANCELED)).one()
    assert canceled.next_attempt_at is None  # held, not dropped


def test_the_notify_box_is_on_by_default_and_unticking_it_sends_nothing(client, sms_world, office):
    html = client.get(f"/jobs/new?customer_id={sms_world.customer.id}").get_data(as_text=True)
    [box] = re.findall(r'<input[^>]*id="notify_customer"[^>]*>', html)
    assert "checked" in box
    data = {
        "customer_id": sms_world.customer.id,
        "description": "Fix sink",
        "date": "2030-01-08",
        "start_time": "09:00",
        "end_time": "11:00",
        "notify_shown": "1",
    }
    assert client.post("/jobs/new", data=data).status_code == 302
    assert db.session.scalars(sa.select(Message)).all() == []
    assert client.post("/jobs/new", data={**data, "notify_customer": "y"}).status_code == 302
    assert len(db.session.scalars(sa.select(Message)).all()) == 1


def test_the_canceled_template_is_in_the_texts_editor(client, sms_world, office):
    html = client.get("/texts").get_data(as_text=True)
    assert "Job canceled" in html
    assert client.get("/texts/job_canceled").status_code == 200


def test_rescheduling_for_an_opted_out_customer_says_they_were_not_texted(
    client, booked, sms_world, office
):
    job, _ = booked
    db.session.add(
        OptOut(
            company_id=sms_world.company.id, phone=sms_world.customer.mobile_phone, keyword="STOP"
        )
    )
    db.session.commit()
    response = client.post(
        f"/jobs/{job.id}/schedule",
        data={"date": "2030-01-09", "start_time": "10:00", "end_time": "12:00"},
        headers=HX,
    )
    assert response.status_code == 200
    assert "The customer was not texted" in response.get_data(as_text=True)


@pytest.mark.parametrize(("ticked", "texts"), [(True, 1), (False, 0)])
def test_editing_a_job_notifies_only_when_ticked(client, booked, office, ticked, texts):
    job, tech = booked
    data = {
        "description": job.description,
        "date": "2030-01-09",
        "start_time": "10:00",
        "end_time": "12:00",
        "tech_ids": [tech.id],
        "notify_shown": "1",
        **({"notify_customer": "y"} if ticked else {}),
    }
    assert client.post(f"/jobs/{job.id}/edit", data=data).status_code == 302
    changes = db.session.scalars(
        sa.select(Message).where(Message.dedupe_key.like(f"job:{job.id}:changed:%"))
    ).all()
    assert len(changes) == texts


def test_inbox_days_left_skip_thanksgiving(client, text_in, sms_world, office, monkeypatch):
    from datetime import UTC, datetime

    from app.office import inbox

    text_in(client, SMS, _form("Please stop texting me"))
    flag = db.session.scalars(sa.select(RevocationFlag)).one()
    # Flagged Wednesday before Thanksgiving (10:00 in Chicago), read the Monday after:
    # Friday and Monday count, Thanksgiving does not (and weekends never do).
    flag.created_at = datetime(2026, 11, 25, 16, tzinfo=UTC)
    db.session.commit()
    monkeypatch.setattr(inbox, "utcnow", lambda: datetime(2026, 11, 30, 16, tzinfo=UTC))
    html = client.get(f"/inbox/{flag.message.conversation_id}").get_data(as_text=True)
    assert "8 business days left" in html

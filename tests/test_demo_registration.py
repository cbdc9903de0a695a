"""`flask demo`'s company is registered and approved, so its texts flow as before; a
company that signs up fresh starts at not_started and its automated texts are skipped."""

from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.models import Message, MessagingRegistration, RegistrationStatus, SkippedText


def test_demo_company_may_text_and_its_texts_are_queued(runner, fake):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    (registration,) = db.session.scalars(sa.select(MessagingRegistration)).all()
    assert registration.status == RegistrationStatus.APPROVED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Message)) > 0
    reasons = set(db.session.scalars(sa.select(SkippedText.reason)))
    assert "not_registered" not in reasons


def test_a_fresh_signup_is_not_registered(client):
    response = client.post(
        "/signup",
        data={
            "company_name": "Brand New Plumbing",
            "name": "Nia New",
            "email": "nia@example.com",
            "password": "correct-horse-battery",
            "business_phone": "(512) 555-0199",
            "time_zone": "America/Chicago",
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    (registration,) = db.session.scalars(sa.select(MessagingRegistration)).all()
    assert registration.status == RegistrationStatus.NOT_STARTED

"""`flask numbers ...`: the operator's only way to change a custom number."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from app.extensions import db
from app.models import Message, NumberSetup, PhoneNumber, UnroutedInbound, utcnow
from app.services import numbers
from app.sms import gateway
from tests.fixtures.numbers import purchases
from tests.fixtures.sms import route_received

BASE = "http://testserver.local"


def _provisioned(make):
    company = make.company("Lone Star Plumbing")
    chosen = numbers.search_numbers(area_code="512").numbers[0].e164
    number = numbers.provision_number(
        company=company,
        actor=company.owner,
        e164=chosen,
        locality="Austin",
        region="TX",
        public_base_url=BASE,
    )
    return company, number


def test_show_prints_the_number_sid_and_who_set_it_up(runner, make, numbers_fake):
    company, number = _provisioned(make)
    result = runner.invoke(args=["numbers", "show", str(company.id)])
    assert result.exit_code == 0, result.output
    assert f"Company {company.id}: Lone Star Plumbing" in result.output
    assert number.e164 in result.output
    assert number.twilio_sid in result.output
    assert f"by {company.owner.name}" in result.output


def test_show_reports_a_stale_setup(runner, make):
    company = make.company()
    db.session.add(
        NumberSetup(
            company_id=company.id,
            e164="+15125550199",
            started_at=utcnow() - timedelta(minutes=30),
        )
    )
    db.session.commit()
    result = runner.invoke(args=["numbers", "show", str(company.id)])
    assert "custom number:  (none)" in result.output
    assert "pending setup:  +15125550199" in result.output
    assert "STALE" in result.output


def test_show_an_unknown_company_fails_cleanly(runner):
    result = runner.invoke(args=["numbers", "show", "999"])
    assert result.exit_code == 1
    assert "No company with id 999." in result.output


def test_reassign_asks_first_and_a_no_changes_nothing(runner, make, numbers_fake):
    company, number = _provisioned(make)
    result = runner.invoke(args=["numbers", "reassign", str(company.id), "--release"], input="n\n")
    assert result.exit_code == 1
    assert "Really DETACH" in result.output
    assert "Aborted" in result.output
    db.session.expire_all()
    assert db.session.scalars(sa.select(PhoneNumber)).one().e164 == number.e164


def test_release_detaches_the_number_so_the_owner_can_choose_again(runner, make, numbers_fake):
    company, number = _provisioned(make)
    result = runner.invoke(args=["numbers", "reassign", str(company.id), "--release"], input="y\n")
    assert result.exit_code == 0, result.output
    assert f"{number.e164} detached" in result.output
    assert number.twilio_sid in result.output
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PhoneNumber)) == 0


def test_reassign_to_an_owned_number_checks_the_sid_with_twilio(runner, make, numbers_fake):
    company, old = _provisioned(make)
    spare = numbers.search_numbers(area_code="737").numbers[0].e164
    bought = gateway.buy_number(phone_number=spare, sms_url=BASE + "/s", voice_url=BASE + "/v")

    wrong = runner.invoke(
        args=["numbers", "reassign", str(company.id), spare, "--sid", "PN" + "0" * 32, "--yes"]
    )
    assert wrong.exit_code == 1
    assert f"has SID {bought.sid}" in wrong.output

    result = runner.invoke(
        args=["numbers", "reassign", str(company.id), spare, "--sid", bought.sid, "--yes"]
    )
    assert result.exit_code == 0, result.output
    assert f"now texts from {spare}" in result.output
    db.session.expire_all()
    stored = db.session.scalars(sa.select(PhoneNumber)).one()
    assert (stored.company_id, stored.e164, stored.twilio_sid) == (company.id, spare, bought.sid)
    assert stored.id == old.id  # the same row, so history stays attached
    assert len(purchases(numbers_fake)) == 2  # the operator bought nothing more


def test_reassign_never_takes_another_companys_number(runner, make, numbers_fake):
    company, number = _provisioned(make)
    other = make.company()
    db.session.commit()
    result = runner.invoke(
        args=[
            "numbers",
            "reassign",
            str(other.id),
            number.e164,
            "--sid",
            number.twilio_sid,
            "--yes",
        ]
    )
    assert result.exit_code == 1
    assert f"belongs to company {company.id}" in result.output


def test_reassign_needs_exactly_one_way(runner, make):
    company = make.company()
    db.session.commit()
    for args in ([], ["+15125550199"], ["+15125550199", "--sid", "PNx", "--release"]):
        result = runner.invoke(args=["numbers", "reassign", str(company.id), *args])
        assert result.exit_code == 2, args


def test_quarantine_lists_recent_unrouted_texts_and_calls(runner):
    now = utcnow()
    db.session.add_all(
        [
            UnroutedInbound(
                channel="sms",
                twilio_sid="SM1",
                from_phone="+15125550123",
                to_phone="+15129998877",
                body="Is this Bob's plumbing?",
                created_at=now - timedelta(minutes=5),
            ),
            UnroutedInbound(
                channel="voice",
                twilio_sid="CA1",
                from_phone="+15125550124",
                to_phone="+15129998877",
                created_at=now,
            ),
        ]
    )
    db.session.commit()

    result = runner.invoke(args=["numbers", "quarantine"])
    lines = result.output.strip().splitlines()
    assert len(lines) == 2
    assert "voice" in lines[0] and "CA1" in lines[0]  # newest first
    assert "Is this Bob's plumbing?" in lines[1]

    only_sms = runner.invoke(args=["numbers", "quarantine", "--channel", "sms"]).output
    assert "SM1" in only_sms and "CA1" not in only_sms


def test_quarantine_says_when_empty(runner):
    assert runner.invoke(args=["numbers", "quarantine"]).output.strip() == "Nothing in quarantine."


def test_the_operator_commands_are_not_web_routes(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert not any("reassign" in endpoint or "quarantine" in endpoint for endpoint in endpoints)
    assert "numbers" in app.cli.commands


def test_texts_and_calls_to_an_unowned_number_reach_the_quarantine(runner, numbers_fake):
    text = numbers_fake.send_inbound_sms(from_="+15125550123", to="+15129998877", body="Hello?")
    call = numbers_fake.place_call(from_="+15125550124", to="+15129998877")
    assert (text.status, call.status) == (200, 200)  # answered 2xx: Twilio won't retry
    route_received()  # the worker finds no company for the text's number

    listed = runner.invoke(args=["numbers", "quarantine"]).output
    assert text.form["MessageSid"] in listed and "Hello?" in listed
    assert call.form["CallSid"] in listed


# --- redelivery of quarantined texts ---------------------------------------------------------


def _quarantined(numbers_fake, body, to="+15129998877", from_="+15125550123"):
    text = numbers_fake.send_inbound_sms(from_=from_, to=to, body=body)
    route_received()
    row = db.session.scalar(
        sa.select(UnroutedInbound).filter_by(twilio_sid=text.form["MessageSid"])
    )
    assert row is not None
    return row


def test_a_quarantined_text_is_delivered_once_its_number_belongs_to_a_company(
    runner, make, numbers_fake
):
    row = _quarantined(numbers_fake, "Is this Bob's plumbing?")
    listed = runner.invoke(args=["numbers", "quarantine"]).output
    assert f"#{row.id}" in listed

    # Still nobody's number: refused, kept.
    early = runner.invoke(args=["numbers", "redeliver", str(row.id)])
    assert early.exit_code == 1
    assert "no company owns +15129998877" in early.output
    assert db.session.get(UnroutedInbound, row.id) is not None

    company = make.company("Bob's Plumbing")
    make.number(company, e164="+15129998877")
    db.session.commit()
    result = runner.invoke(args=["numbers", "redeliver", str(row.id)])
    assert result.exit_code == 0, result.output
    assert "delivered to Bob's Plumbing" in result.output

    message = db.session.scalar(sa.select(Message).filter_by(body="Is this Bob's plumbing?"))
    assert message.company_id == company.id and message.direction == "in"
    assert message.recipients  # routed like any text (rule 4): someone will read it
    assert db.session.get(UnroutedInbound, row.id) is None
    again = runner.invoke(args=["numbers", "redeliver", str(row.id)])
    assert again.exit_code == 1 and "not in quarantine" in again.output


def test_redelivery_never_stores_a_text_twice(runner, make, numbers_fake):
    company = make.company()
    make.number(company, e164="+15129998877")
    db.session.commit()
    text = numbers_fake.send_inbound_sms(from_="+15125550123", to="+15129998877", body="Hi")
    route_received()
    # The same post also sits in quarantine (a receipt that failed on another worker).
    copy = UnroutedInbound(
        channel="sms",
        twilio_sid=text.form["MessageSid"],
        from_phone="+15125550123",
        to_phone="+15129998877",
        body="Hi",
        payload=dict(text.form),
        reason="Could not be stored after 12 attempt(s): OperationalError",
    )
    db.session.add(copy)
    db.session.commit()

    result = runner.invoke(args=["numbers", "redeliver", str(copy.id)])
    assert result.exit_code == 0, result.output
    assert db.session.scalar(sa.select(sa.func.count(Message.id)).filter_by(body="Hi")) == 1
    assert db.session.get(UnroutedInbound, copy.id) is None


def test_calls_and_posts_that_can_never_be_texts_are_not_redelivered(runner):
    call = UnroutedInbound(
        channel="voice", twilio_sid="CA1", from_phone="+15125550124", to_phone="+15129998877"
    )
    too_long = UnroutedInbound(
        channel="sms",
        twilio_sid=None,
        from_phone="+15125550124",
        to_phone="+15129998877",
        payload={"MessageSid": "SM" + "x" * 80, "From": "+15125550124", "To": "+15129998877"},
        reason="MessageSid is 82 characters long (a Twilio SID has 34).",
    )
    db.session.add_all([call, too_long])
    db.session.commit()

    result = runner.invoke(args=["numbers", "redeliver", str(call.id), str(too_long.id), "999"])
    assert result.exit_code == 1
    assert "only texts can be delivered again" in result.output
    assert "can never be a text: MessageSid is 82 characters long" in result.output
    assert "#999: not in quarantine." in result.output
    assert db.session.scalar(sa.select(sa.func.count(UnroutedInbound.id))) == 2


def test_redeliver_all_takes_every_text_oldest_first(runner, make, numbers_fake):
    first = _quarantined(numbers_fake, "First", from_="+15125550101")
    second = _quarantined(numbers_fake, "Second", from_="+15125550102")
    elsewhere = _quarantined(numbers_fake, "Elsewhere", to="+15129990000")
    make.number(make.company(), e164="+15129998877")
    db.session.commit()

    result = runner.invoke(args=["numbers", "redeliver", "--all"])
    assert result.exit_code == 1  # one still has no company
    lines = result.output.strip().splitlines()
    assert lines[0].startswith(f"#{first.id}: delivered")
    assert lines[1].startswith(f"#{second.id}: delivered")
    assert f"#{elsewhere.id}: no company owns +15129990000" in result.output
    assert runner.invoke(args=["numbers", "redeliver"]).exit_code == 2  # ids or --all

"""Web Push of routed texts (app/services/push.py): queued once per routed text and
subscription, never for the sender's own text, sent by the worker through pywebpush to the
built-in fake push service, and a 404/410 removes the subscription."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Direction,
    JobStatus,
    PushDelivery,
    PushStatus,
    PushSubscription,
    Role,
    VapidKey,
    utcnow,
)
from app.push.fake_service import fake_push_service
from app.services import push
from app.services.errors import DomainError
from app.services.escalation import escalate_unread, set_escalation_minutes
from app.services.inbox import reassign
from app.services.job_status import job_set_status
from app.services.routing import apply_routing
from tests.fixtures.inbox import store_inbound
from tests.push_support import BrowserKeys

CUSTOMER_PHONE = "+15125550177"


@pytest.fixture
def push_fake(app):
    fake = fake_push_service(app)
    fake.reset()
    yield fake
    fake.reset()


@pytest.fixture
def world(make):
    company = make.company()
    make.number(company)
    customer = make.customer(company, name="Dana Reyes", phone=CUSTOMER_PHONE)
    return company, customer


def _subscribe(user, keys: BrowserKeys | None = None, *, previews: bool = False):
    keys = keys or BrowserKeys()
    subscription = push.subscribe(
        user=user, endpoint=keys.endpoint(), p256dh=keys.p256dh, auth=keys.auth, previews=previews
    )
    return subscription, keys


def _deliveries(**filters):
    return db.session.scalars(sa.select(PushDelivery).filter_by(**filters)).all()


def test_a_routed_text_queues_one_push_per_subscription_of_the_recipient(world, make):
    company, _customer = world
    owner = company.owner
    phone_sub, _ = _subscribe(owner)
    laptop_sub, _ = _subscribe(owner)
    bystander = make.user(company, Role.OFFICE)
    _subscribe(bystander)

    message = store_inbound(company, CUSTOMER_PHONE, "Is the tech coming?")
    apply_routing(message=message)
    apply_routing(message=message)  # routed again (a retry): nothing doubles

    queued = _deliveries(message_id=message.id)
    assert sorted(d.subscription_id for d in queued) == sorted([phone_sub.id, laptop_sub.id])
    assert {d.user_id for d in queued} == {owner.id}
    assert all(d.status == PushStatus.PENDING for d in queued)


def test_the_tech_of_an_in_progress_job_gets_the_push_not_the_office(world, make):
    company, customer = world
    tech = make.user(company, Role.TECH, mobile_phone="+15125550999")
    job = make.job(company, customer, techs=[tech])
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech)
    tech_sub, _ = _subscribe(tech)
    _subscribe(company.owner)

    message = store_inbound(company, CUSTOMER_PHONE)
    apply_routing(message=message)

    assert [d.subscription_id for d in _deliveries(message_id=message.id)] == [tech_sub.id]


def test_no_push_for_the_senders_own_text(world, make):
    """A user answering a forward from their own mobile: the text reaches the office chain,
    which is them (the owner), and they must not be notified of their own words."""
    company, _ = world
    owner = company.owner
    owner.mobile_phone = "+15125550123"
    _subscribe(owner)
    colleague = make.user(company, Role.OFFICE)
    colleague_sub, _ = _subscribe(colleague)

    own = store_inbound(company, owner.mobile_phone, "sent from my phone")
    apply_routing(message=own)
    assert _deliveries(message_id=own.id) == []

    # The same text with a colleague also a recipient: only the colleague is told.
    push.queue_pushes(message=own, users=[owner, colleague], now=utcnow())
    assert [d.subscription_id for d in _deliveries(message_id=own.id)] == [colleague_sub.id]


def test_outbound_texts_never_push(world):
    company, _ = world
    _subscribe(company.owner)
    message = store_inbound(company, CUSTOMER_PHONE)
    message.direction = Direction.OUT
    assert push.queue_pushes(message=message, users=[company.owner], now=utcnow()) == 0


def test_the_worker_sends_an_encrypted_push_the_browser_can_read(app, world, push_fake):
    company, _ = world
    owner = company.owner
    subscription, keys = _subscribe(owner, previews=False)
    message = store_inbound(company, CUSTOMER_PHONE, "The water heater is leaking again")
    apply_routing(message=message)
    db.session.commit()

    assert push.deliver_due_pushes(now=utcnow()) == 1

    [received] = push_fake.delivered(keys.token)
    assert received.content_encoding == "aes128gcm"
    assert received.vapid_key == push.vapid_keys().public_key
    assert received.vapid_subject.startswith("mailto:")
    assert 0 < received.ttl <= push.PUSH_TTL.total_seconds()
    payload = keys.decrypt(received.body)
    assert payload["title"] == "Dana Reyes"
    # No previews: the customer's words are not in the push at all.
    assert "leaking" not in received.body.decode("latin-1")
    assert payload["body"] == push.NO_PREVIEW_BODY
    assert payload["url"] == (f"{app.config['PUBLIC_BASE_URL']}/inbox/{message.conversation_id}")
    delivery = db.session.scalars(sa.select(PushDelivery)).one()
    assert delivery.status == PushStatus.SENT and delivery.sent_at is not None
    assert db.session.get(PushSubscription, subscription.id).last_success_at is not None


def test_previews_put_the_text_in_the_push(world, push_fake):
    company, _ = world
    _subscription, keys = _subscribe(company.owner, previews=True)
    message = store_inbound(company, CUSTOMER_PHONE, "Gate code is 4417")
    apply_routing(message=message)
    db.session.commit()

    push.deliver_due_pushes(now=utcnow())

    [received] = push_fake.delivered(keys.token)
    assert keys.decrypt(received.body)["body"] == "Gate code is 4417"


@pytest.mark.parametrize("status", [410, 404])
def test_an_expired_subscription_is_removed(world, push_fake, status):
    company, _ = world
    subscription, keys = _subscribe(company.owner)
    subscription_id = subscription.id
    push_fake.fail_next(keys.token, status)
    message = store_inbound(company, CUSTOMER_PHONE)
    apply_routing(message=message)
    db.session.commit()

    push.deliver_due_pushes(now=utcnow())

    assert db.session.get(PushSubscription, subscription_id) is None
    assert _deliveries() == []
    assert push_fake.delivered() == []
    # The next text routed to the user queues nothing for the dead browser.
    later = store_inbound(company, CUSTOMER_PHONE, "hello?")
    apply_routing(message=later)
    assert _deliveries() == []


def test_a_busy_push_service_is_retried_with_backoff(world, push_fake):
    company, _ = world
    _subscription, keys = _subscribe(company.owner)
    push_fake.fail_next(keys.token, 429, retry_after=120)
    message = store_inbound(company, CUSTOMER_PHONE)
    apply_routing(message=message)
    db.session.commit()
    now = utcnow()

    push.deliver_due_pushes(now=now)
    delivery = db.session.scalars(sa.select(PushDelivery)).one()
    assert delivery.status == PushStatus.PENDING
    assert delivery.next_attempt_at >= now + timedelta(seconds=120)
    assert "429" in delivery.last_error

    assert push.deliver_due_pushes(now=now + timedelta(seconds=30)) == 0  # not due yet
    assert push.deliver_due_pushes(now=now + timedelta(seconds=121)) == 1
    db.session.refresh(delivery)
    assert delivery.status == PushStatus.SENT and delivery.attempts == 2
    assert len(push_fake.delivered(keys.token)) == 1


def test_a_push_service_error_after_the_ttl_gives_up(world, push_fake):
    company, _ = world
    _subscription, keys = _subscribe(company.owner)
    message = store_inbound(company, CUSTOMER_PHONE)
    apply_routing(message=message)
    db.session.commit()
    push_fake.fail_next(keys.token, 503)

    push.deliver_due_pushes(now=utcnow() + push.PUSH_TTL + timedelta(seconds=1))

    delivery = db.session.scalars(sa.select(PushDelivery)).one()
    assert delivery.status == PushStatus.FAILED
    assert delivery.last_error.startswith("Gave up")


def test_a_refused_push_fails_without_retrying(world, push_fake):
    company, _ = world
    _subscription, keys = _subscribe(company.owner)
    message = store_inbound(company, CUSTOMER_PHONE)
    apply_routing(message=message)
    db.session.commit()
    push_fake.fail_next(keys.token, 413)

    push.deliver_due_pushes(now=utcnow())
    assert push.deliver_due_pushes(now=utcnow() + timedelta(hours=1)) == 0

    delivery = db.session.scalars(sa.select(PushDelivery)).one()
    assert delivery.status == PushStatus.FAILED
    assert "413" in delivery.last_error
    assert push_fake.delivered() == []


def test_a_bad_vapid_subject_is_refused_before_sending(app, world, push_fake):
    company, _ = world
    _subscribe(company.owner)
    message = store_inbound(company, CUSTOMER_PHONE)
    apply_routing(message=message)
    db.session.commit()
    app.config["VAPID_SUBJECT"] = "not-a-contact"
    try:
        push.deliver_due_pushes(now=utcnow())
    finally:
        app.config["VAPID_SUBJECT"] = ""

    delivery = db.session.scalars(sa.select(PushDelivery)).one()
    assert delivery.status == PushStatus.FAILED and "VAPID" in delivery.last_error
    assert push_fake.received == []


def test_vapid_keys_are_made_once_and_kept(app):
    first = push.vapid_keys()
    db.session.rollback()  # the key was committed on its own, not with the caller
    assert push.vapid_keys() == first
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VapidKey)) == 1
    assert push.public_key_of(first.private_key) == first.public_key


def test_vapid_keys_from_the_environment_win(app):
    private, public = push.new_key_pair()
    app.config.update(VAPID_PRIVATE_KEY=private, VAPID_SUBJECT="mailto:ops@example.com")
    try:
        keys = push.vapid_keys()
    finally:
        app.config.update(VAPID_PRIVATE_KEY="", VAPID_SUBJECT="")
    assert keys == push.VapidKeys(private, public, "mailto:ops@example.com")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"endpoint": "http://10.0.0.5/push/x"}, "endpoint"),
        ({"endpoint": "ftp://push.example.net/x"}, "endpoint"),
        ({"p256dh": "too-short"}, "p256dh"),
        ({"auth": "AAAA"}, "auth"),
    ],
)
def test_subscribe_refuses_what_no_browser_would_send(world, fields, field):
    company, _ = world
    keys = BrowserKeys()
    values = {"endpoint": keys.endpoint(), "p256dh": keys.p256dh, "auth": keys.auth, **fields}
    with pytest.raises(DomainError) as refused:
        push.subscribe(user=company.owner, previews=False, **values)
    assert refused.value.field == field


def test_the_same_browser_subscribing_for_another_user_moves_to_them(world, make):
    company, _ = world
    keys = BrowserKeys()
    first, _ = _subscribe(company.owner, keys)
    message = store_inbound(company, CUSTOMER_PHONE)
    apply_routing(message=message)
    assert len(_deliveries()) == 1
    other = make.user(company, Role.OFFICE)

    again, _ = _subscribe(other, keys)

    assert again.id == first.id and again.user_id == other.id
    assert _deliveries() == []  # the owner's pending push is not shown to the new user


def test_escalation_and_a_hand_assignment_push_the_users_they_add(world, make):
    """Every way a user becomes a recipient of a waiting text notifies them, once."""
    company, customer = world
    tech = make.user(company, Role.TECH)
    job = make.job(company, customer, techs=[tech])
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech)
    set_escalation_minutes(company=company, minutes=10, actor=company.owner)
    owner_sub, _ = _subscribe(company.owner)
    now = utcnow()
    message = store_inbound(company, CUSTOMER_PHONE, created_at=now - timedelta(minutes=11))
    apply_routing(message=message)
    assert _deliveries(subscription_id=owner_sub.id) == []

    assert escalate_unread(now=now) == 1  # unread by the tech: the office chain is told
    assert [d.message_id for d in _deliveries(subscription_id=owner_sub.id)] == [message.id]

    # Finished: the next text goes to the office; handed to Olivia, she hears of it.
    job_set_status(job=job, status=JobStatus.FINISHED, actor=tech)
    olivia = make.user(company, Role.OFFICE, name="Olivia Office")
    olivia_sub, _ = _subscribe(olivia)
    waiting = store_inbound(company, CUSTOMER_PHONE, "still there?")
    apply_routing(message=waiting)
    reassign(conversation=waiting.conversation, to_user=olivia, actor=company.owner)
    # Both unread texts of the conversation now wait for her too.
    assert {d.message_id for d in _deliveries(subscription_id=olivia_sub.id)} == {
        message.id,
        waiting.id,
    }


def test_the_dispatcher_sends_pushes_on_its_pool(world, push_fake, dispatcher):
    company, _ = world
    _subscription, keys = _subscribe(company.owner)
    message = store_inbound(company, CUSTOMER_PHONE)
    apply_routing(message=message)
    db.session.commit()

    dispatcher().run_once()

    assert len(push_fake.delivered(keys.token)) == 1
    db.session.rollback()
    assert db.session.scalars(sa.select(PushDelivery.status)).one() == PushStatus.SENT

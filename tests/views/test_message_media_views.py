"""Pictures shown in every thread and served only to who may see them: office roles of
the company; a tech of a conversation routed to them or of their job's customer. Another
company (or another tech) gets 404."""

from __future__ import annotations

import html
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from app.extensions import db
from app.models import JobStatus, MediaState, Message, MessageMedia, Role, utcnow
from app.services.inbox import reassign
from app.services.job_status import job_set_status
from app.services.message_media import MAX_ATTEMPTS, fetch_due_media, media_token
from tests.fixtures.notifications import image_bytes
from tests.fixtures.sms import route_received
from tests.support import HX

CUSTOMER = "+15125550101"
NUMBER = "+15126660100"


@pytest.fixture
def photo_in(app, sms_world, fake):
    """The customer texts a picture; the worker keeps it."""
    fake.send_inbound_sms(
        from_=CUSTOMER,
        to=NUMBER,
        body="The leak",
        attachments=[(image_bytes("JPEG", (800, 600)), "image/jpeg")],
    )
    route_received()
    fetch_due_media(now=utcnow())
    db.session.expire_all()
    item = db.session.scalar(sa.select(MessageMedia))
    assert item.state == MediaState.STORED
    return item


def test_the_office_inbox_shows_a_thumbnail_that_opens_full_size(
    client, log_in, sms_world, photo_in
):
    log_in(client, sms_world.company.owner)
    conversation_id = photo_in.message.conversation_id
    page = client.get(f"/inbox/{conversation_id}").get_data(as_text=True)
    assert f'href="/media/{photo_in.id}"' in page
    assert f'src="/media/{photo_in.id}/thumb"' in page
    thumb = client.get(f"/media/{photo_in.id}/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    assert thumb.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in thumb.headers["Cache-Control"]
    assert max(Image.open(io.BytesIO(thumb.data)).size) == 320
    full = client.get(f"/media/{photo_in.id}")
    assert full.status_code == 200 and Image.open(io.BytesIO(full.data)).size == (800, 600)


def test_a_tech_sees_pictures_routed_to_them_on_their_job_only(
    client, log_in, make, sms_world, fake
):
    mine = make.user(sms_world.company, Role.TECH)
    other = make.user(sms_world.company, Role.TECH)
    job = make.job(sms_world.company, sms_world.customer, techs=[mine])
    job.status = JobStatus.ON_MY_WAY  # in progress: the customer's texts go to `mine`
    db.session.commit()
    fake.send_inbound_sms(
        from_=CUSTOMER, to=NUMBER, body="Gate code 1234", attachments=[(image_bytes(), "image/png")]
    )
    route_received()
    fetch_due_media(now=utcnow())
    item = db.session.scalar(sa.select(MessageMedia))
    log_in(client, mine)
    assert client.get(f"/media/{item.id}/thumb").status_code == 200
    page = client.get(f"/tech/jobs/{job.id}").get_data(as_text=True)
    assert f'src="/media/{item.id}/thumb"' in page
    client.post("/logout")
    log_in(client, other)
    assert client.get(f"/media/{item.id}/thumb").status_code == 404
    assert client.get(f"/media/{item.id}").status_code == 404


def test_a_tech_does_not_see_a_picture_that_went_to_the_office(
    client, log_in, make, sms_world, photo_in
):
    tech = make.user(sms_world.company, Role.TECH)
    make.job(sms_world.company, sms_world.customer, techs=[tech])  # a later job
    db.session.commit()
    log_in(client, tech)
    assert client.get(f"/media/{photo_in.id}").status_code == 404


def test_a_tech_the_text_was_routed_to_sees_it(app, client, log_in, make, sms_world, fake):
    tech = make.user(sms_world.company, Role.TECH)
    sms_world.company.poc_user_id = tech.id
    db.session.commit()
    fake.send_inbound_sms(
        from_="+15125550999", to=NUMBER, body="", attachments=[(image_bytes(), "image/png")]
    )
    route_received()
    fetch_due_media(now=utcnow())
    item = db.session.scalar(sa.select(MessageMedia))
    log_in(client, tech)
    assert client.get(f"/media/{item.id}").status_code == 200


def test_another_company_cannot_open_a_picture(client, log_in, make, photo_in):
    stranger_company = make.company("Other Co")
    tech = make.user(stranger_company, Role.TECH)
    db.session.commit()
    for user in (stranger_company.owner, tech):
        log_in(client, user)
        assert client.get(f"/media/{photo_in.id}").status_code == 404
        assert client.get(f"/media/{photo_in.id}/thumb").status_code == 404
        client.post("/logout")
    assert client.get(f"/media/{photo_in.id}").status_code == 302  # login first


def test_the_job_timeline_shows_the_picture(client, log_in, make, sms_world, photo_in):
    job = make.job(sms_world.company, sms_world.customer)
    message = db.session.get(Message, photo_in.message_id)
    message.job_id = job.id
    db.session.commit()
    log_in(client, sms_world.company.owner)
    page = client.get(f"/jobs/{job.id}/timeline", headers=HX).get_data(as_text=True)
    assert f'src="/media/{photo_in.id}/thumb"' in page


def test_pending_and_failed_pictures_say_so(client, log_in, sms_world, fake):
    fake.fail_media_next(10, status=500)
    fake.send_inbound_sms(
        from_=CUSTOMER, to=NUMBER, body="x", attachments=[(image_bytes(), "image/png")]
    )
    route_received()
    log_in(client, sms_world.company.owner)
    item = db.session.scalar(sa.select(MessageMedia))
    page = client.get(f"/inbox/{item.message.conversation_id}").get_data(as_text=True)
    assert "Fetching picture…" in page
    item.state = MediaState.FAILED
    db.session.commit()
    page = client.get(f"/inbox/{item.message.conversation_id}").get_data(as_text=True)
    assert "Picture could not be fetched" in page
    assert client.get(f"/media/{item.id}").status_code == 404


def test_a_pdf_downloads_with_its_type_and_size(client, log_in, sms_world, fake):
    fake.send_inbound_sms(
        from_=CUSTOMER,
        to=NUMBER,
        body="",
        attachments=[(b"%PDF-1.4\n" + b"x" * 2000, "application/pdf")],
    )
    route_received()
    fetch_due_media(now=utcnow())
    item = db.session.scalar(sa.select(MessageMedia))
    log_in(client, sms_world.company.owner)
    page = client.get(f"/inbox/{item.message.conversation_id}").get_data(as_text=True)
    assert "PDF · 2.0 kB" in page
    download = client.get(f"/media/{item.id}")
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment")


def test_the_signed_public_link_serves_only_sent_photos_and_expires(
    app, client, sms_world, photo_in
):
    # An inbound picture is never public, even with a valid token.
    assert client.get(f"/m/{media_token(photo_in)}").status_code == 404
    message = db.session.get(Message, photo_in.message_id)
    message.direction = "out"
    db.session.commit()
    token = media_token(photo_in)
    assert client.get(f"/m/{token}").status_code == 200
    assert client.get(f"/m/{token[:-2]}xx").status_code == 404
    from app.services import message_media

    with app.test_request_context():
        assert message_media.media_for_token(token, max_age=timedelta(seconds=-1)) is None


def test_the_tech_messages_thread_shows_pictures_and_replies_with_photos(
    client, log_in, make, sms_world, photo_in, fake
):
    from tests.fixtures.media import photo_files

    tech = make.user(sms_world.company, Role.TECH)
    conversation = photo_in.message.conversation
    # The office hands the conversation over: its unread texts are routed to the tech.
    reassign(conversation=conversation, to_user=tech, actor=sms_world.company.owner)
    db.session.commit()
    log_in(client, tech)
    page = client.get(f"/tech/messages/{conversation.id}").get_data(as_text=True)
    # The texts of a conversation open to the tech (issue 7: those routed to them), pictures
    # included.
    assert f'src="/media/{photo_in.id}/thumb"' in page
    assert client.get(f"/media/{photo_in.id}").status_code == 200
    assert 'type="file" name="photos" accept="image/*" capture="environment" multiple' in page
    response = client.post(
        f"/tech/messages/{conversation.id}/reply",
        data={"body": "", "key": "m" * 16, "photos": photo_files(image_bytes("JPEG"))},
        headers=HX,
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    sent = db.session.scalar(
        sa.select(Message).filter_by(direction="out").order_by(Message.id.desc())
    )
    [item] = sent.media
    assert f'src="/media/{item.id}/thumb"' in response.get_data(as_text=True)


def test_a_picture_that_went_to_the_office_stays_hidden_from_a_tech_whose_thread_it_is_in(
    client, log_in, make, sms_world, photo_in
):
    # The picture came before the job: routed to the office. Then the tech is On My Way,
    # so the conversation is routed to them now; the earlier picture stays the office's.
    tech = make.user(sms_world.company, Role.TECH)
    job = make.job(sms_world.company, customer=sms_world.customer, techs=[tech])
    job_set_status(job=job, status=JobStatus.ON_MY_WAY, actor=tech, eta_minutes=15)
    db.session.commit()
    log_in(client, tech)
    page = client.get(f"/tech/messages/{photo_in.message.conversation_id}")
    assert page.status_code == 200
    assert f"/media/{photo_in.id}" not in page.get_data(as_text=True)
    assert client.get(f"/media/{photo_in.id}").status_code == 404
    assert client.get(f"/media/{photo_in.id}/thumb").status_code == 404


# -- what a thread says of a picture it cannot show -------------------------------------------

SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="4"/></svg>'


def _thread_pages(client, log_in, *, office, tech, job, conversation_id) -> dict[str, str]:
    """Every thread that shows the text: office inbox and job timeline, the tech's job page
    and messages (visible text only: a tooltip does not exist on a phone)."""
    log_in(client, office)
    pages = {
        "inbox": client.get(f"/inbox/{conversation_id}"),
        "timeline": client.get(f"/jobs/{job.id}/timeline", headers=HX),
    }
    client.post("/logout")
    log_in(client, tech)
    pages["tech job"] = client.get(f"/tech/jobs/{job.id}")
    pages["tech messages"] = client.get(f"/tech/messages/{conversation_id}")
    client.post("/logout")
    assert all(page.status_code == 200 for page in pages.values())
    return {name: html.unescape(page.get_data(as_text=True)) for name, page in pages.items()}


@pytest.fixture
def job_in_progress(make, sms_world):
    tech = make.user(sms_world.company, Role.TECH)
    job = make.job(sms_world.company, sms_world.customer, techs=[tech])
    job.status = JobStatus.ON_MY_WAY  # the customer's texts go to the tech
    db.session.commit()
    return tech, job


@pytest.mark.parametrize(
    ("data", "declared", "shown"),
    [
        (SVG, "image/svg+xml", "Picture not shown: the file was not a picture we can show (SVG)."),
        (
            b"a text file, named leak.jpg\n" * 5,
            "image/jpeg",
            "Picture not shown: the file was not a picture we can show (a text file).",
        ),
        (
            b"\xff\xd8\xff" + b"\x00" * (6 * 1024 * 1024),
            "image/jpeg",
            "Picture not shown: too large (over 5 MB).",
        ),
    ],
)
def test_a_refused_picture_says_why_on_every_thread(
    client, log_in, sms_world, fake, job_in_progress, data, declared, shown
):
    tech, job = job_in_progress
    fake.send_inbound_sms(from_=CUSTOMER, to=NUMBER, body="See", attachments=[(data, declared)])
    route_received()
    fetch_due_media(now=utcnow())
    item = db.session.scalar(sa.select(MessageMedia))
    assert item.state == MediaState.FAILED
    item.message.job_id = job.id  # the timeline lists the job's texts
    db.session.commit()
    pages = _thread_pages(
        client,
        log_in,
        office=sms_world.company.owner,
        tech=tech,
        job=job,
        conversation_id=item.message.conversation_id,
    )
    for name, page in pages.items():
        assert shown in page, name
        assert "could not be fetched" not in page, name
        assert "title=" not in page.split('class="msg-attachments"')[1].split("</div>")[0], name


def test_a_fetch_that_failed_says_it_will_be_tried_again_then_that_it_could_not(
    client, log_in, sms_world, fake, job_in_progress
):
    tech, job = job_in_progress
    fake.fail_media_next(MAX_ATTEMPTS + 2, status=500)
    fake.send_inbound_sms(
        from_=CUSTOMER, to=NUMBER, body="x", attachments=[(image_bytes(), "image/png")]
    )
    route_received()
    item = db.session.scalar(sa.select(MessageMedia))
    item.message.job_id = job.id
    db.session.commit()
    where = {
        "office": sms_world.company.owner,
        "tech": tech,
        "job": job,
        "conversation_id": item.message.conversation_id,
    }
    for page in _thread_pages(client, log_in, **where).values():
        assert "Fetching picture…" in page
    before = db.session.get(Message, item.message_id).updated_at

    now = utcnow()
    fetch_due_media(now=now)
    db.session.expire_all()
    # The threads' polls redraw the text: it changed.
    assert db.session.get(Message, item.message_id).updated_at > before
    for name, page in _thread_pages(client, log_in, **where).items():
        assert "Picture could not be fetched from Twilio yet; we'll try again." in page, name

    while (item := db.session.get(MessageMedia, item.id)).state == MediaState.PENDING:
        now = item.next_attempt_at
        fetch_due_media(now=now)
        db.session.expire_all()
    for name, page in _thread_pages(client, log_in, **where).items():
        shown = f"Picture could not be fetched from Twilio (tried {MAX_ATTEMPTS} times)."
        assert shown in page, name
        assert "try again" not in page, name

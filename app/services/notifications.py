"""The automated texts (rule 2 of the seed): job scheduled, On My Way, job finished.

Contract used by the job services:
- `notify_job_booked(job=...)` after a job is created;
- `notify_job_changed(job=..., old_start=..., old_end=..., old_tech_ids=...)` after an edit
  that may have changed the time or the assigned techs;
- `notify_status_changed(transition=..., actor=...)` after a status change that happened
  (On My Way, finished, and canceled: the fourth template, `job_canceled`).
Each queues at most one text through `app.services.texting.queue_text` in the caller's
transaction, so a rolled-back booking never texts anyone.

At most once: every text has a dedupe key (`job:<id>:on_my_way`, `job:<id>:finished`, ...),
so two techs, two phones or a retry produce one text. A disabled template sends nothing.
When the company has no custom number or the customer opted out, the text is skipped and a
`SkippedText` row says why (shown on the job's timeline); it is also logged.

Identity (Company.sender_identity): with "tech", texts name the technician and On My Way
carries the tech's profile photo as MMS. With "company", no text names a tech or carries a
photo: {tech_name} and {tech_first_name} render as "our technician", and a change of tech
is announced as "Your technician has changed." without a name.

All dates and times are rendered in the company's time zone.

Coalescing: a change text waits COALESCE_WINDOW (2 minutes) in the outbox. Further changes
in that time rewrite it to the job's final time and technicians (or withdraw it when the
job is back where it was), so an office fixing a typo sends one text, not three.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa

from app.extensions import db
from app.formats import clock, day_text, local_time
from app.models import (
    Company,
    Invoice,
    InvoiceStatus,
    Job,
    JobStatus,
    Message,
    MessageKind,
    MessageStatus,
    SenderIdentity,
    SkippedText,
    User,
    utcnow,
)
from app.services.first_contact import FOOTER, footer_applies
from app.services.job_events import job_booked, job_changed, job_status_changed
from app.services.message_templates import get_template, render_text, template_kind
from app.services.phones import format_phone
from app.services.texting import TextingUnavailable, company_number, queue_text
from app.services.uniqueness import insert_once
from app.sms.segments import SegmentInfo, segment_info
from app.urls import public_url_for

if TYPE_CHECKING:
    from app.services.job_status import Transition

log = logging.getLogger(__name__)

ANONYMOUS_TECH = "our technician"
COALESCE_WINDOW = timedelta(minutes=2)
# A made-up document token as long as a real one, so a sample's segment count is honest.
SAMPLE_TOKEN = "Xb7kP2qLmN4rT8vW1yZ3aC5d"


# ----------------------------------------------------------------------------- values


def _clock(moment: datetime, company: Company) -> str:
    return clock(moment, company.tz)


def arrival_window(start: datetime, end: datetime, company: Company) -> str:
    """'9:00-11:00 AM', or '11:00 AM-1:00 PM' across noon, in the company's zone.

    A plain hyphen, not an en dash: one en dash would make the whole text UCS-2.
    """
    local_start, local_end = start.astimezone(company.tz), end.astimezone(company.tz)
    if local_start.date() != local_end.date():
        return f"{_clock(start, company)} onwards"
    if local_time(start, company.tz, "%p") == local_time(end, company.tz, "%p"):
        return f"{local_time(start, company.tz, '%-I:%M')}-{_clock(end, company)}"
    return f"{_clock(start, company)}-{_clock(end, company)}"


def job_date(start: datetime, company: Company) -> str:
    return local_time(start, company.tz, "%a, %b %-d")


def shows_tech(company: Company) -> bool:
    return company.sender_identity == SenderIdentity.TECH


def _names(techs: list[User]) -> str:
    names = [t.name for t in techs]
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def job_values(
    *, job: Job, tech: User | None = None, change: str = "", eta: str = ""
) -> dict[str, str]:
    """Plain strings for every placeholder a job text may use."""
    company = job.company
    tech = tech or (job.techs[0] if job.techs else None)
    if shows_tech(company) and tech is not None:
        tech_name, tech_first = tech.name, tech.first_name
    else:
        tech_name = tech_first = ANONYMOUS_TECH
    return {
        "customer_first_name": job.customer.first_name,
        "customer_name": job.customer.name,
        "company_name": company.name,
        "tech_name": tech_name,
        "tech_first_name": tech_first,
        "job_date": job_date(job.scheduled_start, company),
        "job_time": _clock(job.scheduled_start, company),
        "arrival_window": arrival_window(job.scheduled_start, job.scheduled_end, company),
        "eta": eta,
        "job_number": str(job.number),
        "business_phone": customer_facing_phone(company),
        "change": change,
    }


def customer_facing_phone(company: Company) -> str:
    """The number a customer should call: the custom number (its calls are forwarded to
    the business phone), or the business phone while there is no custom number."""
    number = company_number(company)
    return format_phone(number.e164 if number else company.business_phone)


def eta_text(minutes: int | None) -> str:
    """The value of {eta}: "25 minutes", "1 hour 10 minutes". A value, not words around
    it: a template that wants "about" says "about {eta}" (it used to be in the value, and
    "about {eta}" sent "about about 25 minutes")."""
    if not minutes:
        return "a little while"
    if minutes < 60:
        return f"{minutes} minute" + ("" if minutes == 1 else "s")
    hours, rest = divmod(minutes, 60)
    hour_word = "hour" if hours == 1 else "hours"
    return f"{hours} {hour_word}" + (f" {rest} minute" + ("" if rest == 1 else "s") if rest else "")


def invoice_link_for(job: Job) -> str:
    """The public link of the job's latest sent invoice, or '' when there is none.

    Drafts are left out: the office has not shown them to the customer yet.
    """
    invoice = db.session.scalar(
        sa.select(Invoice)
        .where(
            Invoice.job_id == job.id,
            Invoice.company_id == job.company_id,
            Invoice.status.not_in((InvoiceStatus.DRAFT, InvoiceStatus.VOID)),
        )
        .order_by(Invoice.id.desc())
        .limit(1)
    )
    if invoice is None:
        return ""
    return public_url_for(invoice.public_endpoint, token=invoice.public_token)


def photo_url(user: User) -> str | None:
    if not user.photo_filename:
        return None
    # Built without a request: the status change may come from a worker or a CLI.
    return public_url_for("public.photo", token=user.photo_token)


# ----------------------------------------------------------------------------- queueing


def queue_automated_text(
    *,
    job: Job,
    kind: str,
    body: str,
    dedupe_key: str,
    media_urls: list[str] | None = None,
    extra: dict | None = None,
    send_after: datetime | None = None,
) -> Message | None:
    """Queue the text, or record why it could not be (never silently dropped)."""
    try:
        return queue_text(
            company=job.company,
            to_phone=job.customer.mobile_phone,
            body=body,
            kind=kind,
            customer=job.customer,
            job=job,
            media_urls=media_urls or (),
            dedupe_key=dedupe_key,
            extra=extra,
            send_after=send_after,
        )
    except TextingUnavailable as blocked:
        record_skip(job=job, kind=kind, blocked=blocked, dedupe_key=dedupe_key)
        return None


def record_skip(*, job: Job, kind: str, blocked: TextingUnavailable, dedupe_key: str) -> None:
    log.info(
        "automated %s text for job %s not sent (%s): %s",
        kind,
        job.id,
        blocked.reason,
        blocked.message,
    )
    exists = db.session.scalar(sa.select(SkippedText.id).filter_by(dedupe_key=dedupe_key))
    if exists is not None:
        return
    # A concurrent request may record the same skip; once is enough.
    insert_once(
        SkippedText(
            company_id=job.company_id,
            job_id=job.id,
            kind=kind,
            reason=blocked.reason,
            detail=blocked.message,
            dedupe_key=dedupe_key,
        )
    )


def texts_not_sent(*, job: Job, since: datetime) -> list[str]:
    """What the person who just acted must hear about this job's texts since `since`: each
    text that could not go, or that waits (a pending "stop texting me", quiet hours)."""
    notes = [
        f"The customer was not texted: {skip.detail}"
        for skip in db.session.scalars(
            sa.select(SkippedText)
            .filter_by(company_id=job.company_id, job_id=job.id)
            .where(SkippedText.created_at >= since)
            .order_by(SkippedText.id)
        )
    ]
    for message in db.session.scalars(
        sa.select(Message)
        .where(
            Message.job_id == job.id,
            Message.status == MessageStatus.PENDING,
            Message.created_at >= since,
        )
        .order_by(Message.id)
    ):
        extra = message.extra or {}
        if extra.get("held") and message.next_attempt_at is None:
            notes.append(
                "The customer was not texted: they wrote something like “stop texting me”. "
                "The text waits until someone picks Opt this number out or Not an opt-out "
                "in the inbox."
            )
        elif extra.get("quiet_hours") and message.next_attempt_at is not None:
            when = local_time(message.next_attempt_at, job.company.tz, "%a %-I:%M %p")
            notes.append(
                f"The customer was not texted yet: it is outside their texting hours. "
                f"The text goes out {when} ({job.company.time_zone.replace('_', ' ')} time)."
            )
    return notes


def _enabled_template(job: Job, kind: str):
    template = get_template(company=job.company, kind=kind)
    return template if template.enabled else None


# ----------------------------------------------------------------------------- hooks


def notify_job_booked(*, job: Job) -> None:
    template = _enabled_template(job, MessageKind.JOB_SCHEDULED)
    if template is None or job.status != JobStatus.SCHEDULED:
        return
    values = job_values(job=job, change="You're booked.")
    queue_automated_text(
        job=job,
        kind=MessageKind.JOB_SCHEDULED,
        body=render_text(body=template.body, values=values),
        dedupe_key=f"job:{job.id}:scheduled",
        extra={"trigger": "booked"},
    )


def describe_change(*, job: Job, time_changed: bool, techs_changed: bool) -> str:
    if techs_changed and shows_tech(job.company) and job.techs:
        who = _names(job.techs)
        noun = "technicians are" if len(job.techs) > 1 else "technician is"
        tech_sentence = f"Your {noun} now {who}."
    else:
        tech_sentence = "Your technician has changed."
    if time_changed and techs_changed:
        return "Your appointment has a new time. " + tech_sentence
    if time_changed:
        return "Your appointment has a new time."
    return tech_sentence


def notify_job_changed(
    *, job: Job, old_start: datetime, old_end: datetime, old_tech_ids: Collection[int]
) -> None:
    """Text the customer what changed; nothing when neither the time nor the techs did."""
    time_changed = (old_start, old_end) != (job.scheduled_start, job.scheduled_end)
    new_tech_ids = sorted(a.user_id for a in job.assignments)
    techs_changed = set(old_tech_ids) != set(new_tech_ids)
    if time_changed:
        # A reminder queued for the old time must not go out.
        cancel_stale_reminders(job=job)
    if not (time_changed or techs_changed) or job.status != JobStatus.SCHEDULED:
        return
    if techs_changed and not time_changed and not new_tech_ids:
        return  # techs only removed: nothing the customer needs to act on
    template = _enabled_template(job, MessageKind.JOB_SCHEDULED)
    if template is None:
        return
    prefix = f"job:{job.id}:changed:"
    now = utcnow()
    waiting = _waiting_change_text(job=job, prefix=prefix, now=now)
    if waiting is not None:
        _rewrite_change_text(job=job, message=waiting, template_body=template.body, now=now)
        return
    # A change is keyed by its before and after. The same change reported again (a double
    # submit, a retried request) matches the latest change text and sends nothing; the
    # n-th change has its own key, so moves minutes apart each get their text.
    before = f"{old_start.isoformat()}|{old_end.isoformat()}|{sorted(old_tech_ids)}"
    after = f"{job.scheduled_start.isoformat()}|{job.scheduled_end.isoformat()}|{new_tech_ids}"
    digest = hashlib.sha256(f"{before}>{after}".encode()).hexdigest()[:16]
    earlier = db.session.execute(
        sa.select(Message.dedupe_key, Message.status)
        .where(Message.job_id == job.id, Message.dedupe_key.like(prefix + "%"))
        .order_by(Message.id.desc())
    ).all()
    # A change text withdrawn (undone within the window) does not count as already sent.
    standing = [key for key, status in earlier if status != MessageStatus.CANCELED]
    if standing and standing[0].endswith(":" + digest):
        return
    queue_automated_text(
        job=job,
        kind=MessageKind.JOB_SCHEDULED,
        body=_change_body(job, template.body, time_changed, techs_changed),
        dedupe_key=f"{prefix}{len(earlier)}:{digest}",
        send_after=now + COALESCE_WINDOW,
        extra={
            "trigger": "changed",
            "time": time_changed,
            "techs": techs_changed,
            # What the customer last heard, to compare the final state with.
            "before": {
                "start": old_start.isoformat(),
                "end": old_end.isoformat(),
                "techs": sorted(old_tech_ids),
            },
        },
    )


def _change_body(job: Job, template_body: str, time_changed: bool, techs_changed: bool) -> str:
    change = describe_change(job=job, time_changed=time_changed, techs_changed=techs_changed)
    body = render_text(body=template_body, values=job_values(job=job, change=change))
    if "{change}" not in template_body:
        # Edited without the placeholder: the customer must still learn what changed.
        body = f"{change} {body}"
    return body


def _waiting_change_text(*, job: Job, prefix: str, now: datetime) -> Message | None:
    """This job's change text still inside its coalescing window (never tried yet)."""
    return db.session.scalar(
        sa.select(Message)
        .where(
            Message.job_id == job.id,
            Message.dedupe_key.like(prefix + "%"),
            Message.status == MessageStatus.PENDING,
            Message.attempts == 0,
            sa.or_(Message.next_attempt_at > now, Message.next_attempt_at.is_(None)),
        )
        .order_by(Message.id.desc())
        .limit(1)
        .with_for_update()
    )


def _rewrite_change_text(*, job: Job, message: Message, template_body: str, now: datetime) -> None:
    """Another change inside the window: the waiting text now tells the final state, or is
    withdrawn when the job is back where the customer last heard it was."""
    before = (message.extra or {}).get("before") or {}
    time_changed = (before.get("start"), before.get("end")) != (
        job.scheduled_start.isoformat(),
        job.scheduled_end.isoformat(),
    )
    techs_changed = sorted(before.get("techs") or []) != sorted(a.user_id for a in job.assignments)
    if not (time_changed or techs_changed) or (
        techs_changed and not time_changed and not job.assignments
    ):
        message.status = MessageStatus.CANCELED
        message.error_message = "Not sent: the change was undone within 2 minutes."
        message.updated_at = now
        return
    body = _change_body(job, template_body, time_changed, techs_changed)
    if message.body.endswith(FOOTER) and not body.endswith(FOOTER):
        body += FOOTER  # it was the first text to the number, and still is
    message.body = body
    message.extra = {
        **(message.extra or {}),
        "time": time_changed,
        "techs": techs_changed,
        "coalesced": int((message.extra or {}).get("coalesced", 0)) + 1,
    }
    message.updated_at = now


def notify_status_changed(*, transition: Transition, actor: User | None) -> None:
    if not transition.changed:
        return
    job = transition.job
    if transition.new_status != JobStatus.SCHEDULED:
        # On the way, started, finished or canceled: an unsent reminder is now stale.
        cancel_stale_reminders(job=job)
    if transition.new_status == JobStatus.ON_MY_WAY:
        _on_my_way(job=job, actor=actor)
    elif transition.new_status == JobStatus.FINISHED:
        _finished(job=job, actor=actor)
    elif transition.new_status == JobStatus.CANCELED:
        _canceled(job=job)


def _canceled(*, job: Job) -> None:
    """The fourth automated text. A change text still waiting is withdrawn (it would tell
    a time that no longer exists). When On My Way was already sent the customer is
    expecting someone at the door: the text says first that no one is coming."""
    db.session.execute(
        sa.update(Message)
        .where(
            Message.job_id == job.id,
            Message.dedupe_key.like(f"job:{job.id}:changed:%"),
            Message.status == MessageStatus.PENDING,
            Message.attempts == 0,
        )
        .values(status=MessageStatus.CANCELED, error_message="Not sent: the job was canceled.")
        .execution_options(synchronize_session=False)
    )
    template = _enabled_template(job, MessageKind.JOB_CANCELED)
    if template is None:
        return
    body = render_text(body=template.body, values=job_values(job=job))
    on_the_way = (
        db.session.scalar(
            sa.select(Message.id)
            .where(
                Message.job_id == job.id,
                Message.kind == MessageKind.ON_MY_WAY,
                Message.status.not_in((MessageStatus.CANCELED, MessageStatus.FAILED)),
            )
            .limit(1)
        )
        is not None
    )
    if on_the_way:
        body = f"Update: our technician is no longer on the way. {body}"
    stamp = (job.canceled_at or utcnow()).strftime("%Y%m%dT%H%M%S%f")
    queue_automated_text(
        job=job,
        kind=MessageKind.JOB_CANCELED,
        body=body,
        dedupe_key=f"job:{job.id}:canceled:{stamp}",
        extra={"after_on_my_way": on_the_way},
    )


def _on_my_way(*, job: Job, actor: User | None) -> None:
    template = _enabled_template(job, MessageKind.ON_MY_WAY)
    if template is None:
        return
    tech = job.on_my_way_by or actor
    if tech is not None and tech.is_office and tech not in job.techs and job.techs:
        tech = job.techs[0]  # the office tapped it for the tech: name the tech
    values = job_values(job=job, tech=tech, eta=eta_text(job.eta_minutes))
    media: list[str] = []
    if shows_tech(job.company) and tech is not None:
        url = photo_url(tech)
        if url:
            media.append(url)
    queue_automated_text(
        job=job,
        kind=MessageKind.ON_MY_WAY,
        body=render_text(body=template.body, values=values),
        dedupe_key=f"job:{job.id}:on_my_way",
        media_urls=media,
        extra={"tech_id": tech.id if tech else None},
    )


def _finished(*, job: Job, actor: User | None) -> None:
    template = _enabled_template(job, MessageKind.JOB_FINISHED)
    if template is None:
        return
    link = invoice_link_for(job) if job.company.finished_text_invoice_link else ""
    values = job_values(job=job, tech=job.on_my_way_by or actor)
    values["invoice_link"] = link
    body = render_text(body=template.body, values=values)
    if link and "{invoice_link}" not in template.body:
        body = f"{body} Your invoice: {link}"
    queue_automated_text(
        job=job,
        kind=MessageKind.JOB_FINISHED,
        body=body,
        dedupe_key=f"job:{job.id}:finished",
    )


# ----------------------------------------------------------------------------- reminders


def reminder_key(job: Job) -> str:
    """One reminder per job and scheduled start: a new time gets a new reminder."""
    return f"job:{job.id}:reminder:{job.scheduled_start.strftime('%Y%m%dT%H%M%SZ')}"


def cancel_stale_reminders(*, job: Job) -> int:
    """Withdraw unsent reminders of `job` that no longer match its time or status.

    A withdrawn reminder gives up its dedupe key: it never reached the customer, so a job
    that is reopened, or moved back to that time, gets its reminder after all.
    """
    keep = reminder_key(job) if job.status == JobStatus.SCHEDULED else None
    query = (
        sa.update(Message)
        .where(
            Message.job_id == job.id,
            Message.kind == MessageKind.REMINDER,
            Message.status == MessageStatus.PENDING,
        )
        .values(
            status=MessageStatus.CANCELED,
            error_message="Not sent: the job was rescheduled, started or canceled first.",
            dedupe_key=None,
        )
        .execution_options(synchronize_session=False)
    )
    if keep is not None:
        query = query.where(Message.dedupe_key != keep)
    return db.session.execute(query).rowcount or 0


# ----------------------------------------------------------------------------- preview


@dataclass(frozen=True)
class Preview:
    text: str
    info: SegmentInfo
    job: Job | None  # the real job the preview used, or None for sample values
    media_note: str = ""
    footer_note: str = ""


def next_job_for_preview(company: Company) -> Job | None:
    return db.session.scalar(
        sa.select(Job)
        .where(
            Job.company_id == company.id,
            Job.status == JobStatus.SCHEDULED,
            Job.scheduled_start >= utcnow(),
        )
        .order_by(Job.scheduled_start)
        .limit(1)
    )


def sample_values(company: Company, kind: str) -> dict[str, str]:
    """Believable values for a company with no upcoming job (and for estimates/invoices)."""
    start = (utcnow() + timedelta(days=1)).astimezone(company.tz)
    start = start.replace(hour=9, minute=0, second=0, microsecond=0)
    end = start + timedelta(hours=2)
    return {
        "customer_first_name": "Jordan",
        "customer_name": "Jordan Rivera",
        "company_name": company.name,
        "tech_name": "Sam Lee" if shows_tech(company) else ANONYMOUS_TECH,
        "tech_first_name": "Sam" if shows_tech(company) else ANONYMOUS_TECH,
        "job_date": job_date(start, company),
        "job_time": _clock(start, company),
        "arrival_window": arrival_window(start, end, company),
        "eta": eta_text(25),
        "job_number": "1042",
        "business_phone": customer_facing_phone(company),
        # Real links are this long, so the segment count is honest.
        "invoice_link": public_url_for("public.invoice_page", token=SAMPLE_TOKEN),
        "estimate_link": public_url_for("public.estimate_page", token=SAMPLE_TOKEN),
        "amount": "$240.00",
        "due_date": day_text((start + timedelta(days=14)).date()),
        "document_number": "1001",
        "change": "You're booked."
        if kind == MessageKind.JOB_SCHEDULED
        else "Your appointment has a new time.",
    }


def preview_text(*, company: Company, kind: str, body: str) -> Preview:
    """`body` rendered the way a customer would receive it, with its segment count."""
    template_kind(kind)
    job = None
    if kind in (
        MessageKind.JOB_SCHEDULED,
        MessageKind.ON_MY_WAY,
        MessageKind.JOB_FINISHED,
        MessageKind.REMINDER,
        MessageKind.JOB_CANCELED,
    ):
        job = next_job_for_preview(company)
    values = sample_values(company, kind)
    if job is not None:
        values.update(job_values(job=job, change=values["change"], eta=values["eta"]))
    text = render_text(body=body, values=values)
    # The first text to a number ends with the opt-out line (app/services/first_contact.py):
    # shown when it applies to the job's customer, or to a new customer's sample.
    footer_note = ""
    phone = job.customer.mobile_phone if job is not None else None
    if footer_applies(company=company, phone=phone, kind=kind, body=text):
        text = text.rstrip() + FOOTER
        footer_note = f"Ends with “{FOOTER.strip()}”: it is the first text to " + (
            f"{job.customer.first_name}'s number." if job is not None else "a new customer."
        )
    media_note = ""
    if kind == MessageKind.ON_MY_WAY:
        media_note = (
            "Sent with the technician's profile photo (MMS) when they have one."
            if shows_tech(company)
            else "No technician name or photo is sent (company name only)."
        )
    return Preview(
        text=text,
        info=segment_info(text),
        job=job,
        media_note=media_note,
        footer_note=footer_note,
    )


# ------------------------------------------------------------------- job events -> texts
# Connected at import; app.create_app imports this module in every process.


@job_booked.connect
def _on_job_booked(job: Job, *, notify: bool = True, **_: object) -> None:
    if notify:
        notify_job_booked(job=job)


@job_changed.connect
def _on_job_changed(
    job: Job,
    *,
    old_start: datetime,
    old_end: datetime,
    old_tech_ids: Collection[int],
    notify: bool = True,
) -> None:
    if notify:
        notify_job_changed(job=job, old_start=old_start, old_end=old_end, old_tech_ids=old_tech_ids)
    elif (job.scheduled_start, job.scheduled_end) != (old_start, old_end):
        cancel_stale_reminders(job=job)


@job_status_changed.connect
def _on_job_status_changed(transition: Transition, *, actor: User | None) -> None:
    notify_status_changed(transition=transition, actor=actor)

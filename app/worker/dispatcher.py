"""The outbox dispatcher: sends the texts the rest of the product queued, and routes the
texts customers sent (the receipts the SMS webhook kept, app.services.inbound).

Each round claims due `Message` rows in a short transaction (app.services.outbox.claim_due),
commits, and hands them to a bounded thread pool. Each thread re-checks the opt-out, sends
through the gateway OUTSIDE any transaction, then records the result in a second short
transaction. So a slow Twilio answer holds one pool slot, never a lock, and never the
other texts.

Runs as `flask outbox work` in production (several processes are fine) and as a thread
of the development server when OUTBOX_THREAD is on (`make run`), woken by `wake()` right
after a request commits a new text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import (
    Message,
    MessageKind,
    MessageStatus,
    MessagingRegistration,
    OptOut,
    utcnow,
)
from app.services import calls, inbound, message_media, outbox, push
from app.services.outbox import OutboxItem
from app.services.phones import format_phone
from app.services.texting import ALLOWED_WHEN_OPTED_OUT
from app.sms import gateway
from app.sms.error_codes import error_explanation
from app.worker.periodic import PERIODIC_TASKS, PeriodicTask, Schedule

log = logging.getLogger(__name__)

DEFAULT_LEASE = timedelta(minutes=2)
POLL_INTERVAL = 1.0
# How often a worker looks for MMS media to fetch (app/services/message_media.py).
MEDIA_INTERVAL = 2.0
# After a lost answer, give Twilio a moment before looking the text up.
RECONCILE_DELAY = timedelta(seconds=5)
# How far before the lost attempt to look, for clocks that disagree a little.
RECONCILE_SLACK = timedelta(minutes=5)
OPTED_OUT_REASON = (
    "Not sent: the customer opted out (replied STOP) before this text went out. "
    "They can text START to opt back in."
)

_wake_event = threading.Event()


def wake() -> None:
    """Tell the in-process dispatcher there is something to send now."""
    _wake_event.set()


@event.listens_for(Session, "after_commit")
def _wake_after_commit(session: Session) -> None:
    # `queue_text` marks the session; the text is visible to the dispatcher only now.
    if session.info.pop("outbox_wake", False):
        wake()


class Dispatcher:
    def __init__(
        self,
        app: Flask,
        *,
        concurrency: int | None = None,
        lease: timedelta = DEFAULT_LEASE,
        clock: Callable[[], datetime] = utcnow,
        poll_interval: float = POLL_INTERVAL,
        wake_event: threading.Event | None = None,
        periodic_tasks: Sequence[PeriodicTask] = PERIODIC_TASKS,
    ) -> None:
        self.app = app
        self.concurrency = max(1, concurrency or app.config.get("OUTBOX_CONCURRENCY", 8))
        self.lease = lease
        self.clock = clock
        self.poll_interval = poll_interval
        self.wake_event = wake_event or _wake_event
        self.schedule = Schedule(periodic_tasks)
        self.stop_event = threading.Event()
        self.pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="outbox")
        self._inflight: set[Future[None]] = set()
        self._media: Future[None] | None = None
        self._media_looked = 0.0

    # -- loop -------------------------------------------------------------------------------

    def run_once(self) -> int:
        """Route the received texts waiting, then send everything due now (including
        retries whose time has come), wait for the sends to finish, and return how many
        texts were attempted."""
        while self._route_inbound():
            pass
        now = self.clock()
        total = 0
        while not self.stop_event.is_set():
            claimed = self._fill(now)
            total += claimed
            if not self._inflight:
                break
            self._wait_some(timeout=None)
        self._drain()
        return total

    def run_forever(self) -> None:
        """Keep sending until `stop()`; texts in flight are finished before returning."""
        log.info("outbox dispatcher started (concurrency %s)", self.concurrency)
        while not self.stop_event.is_set():
            try:
                # Customers' texts first: a STOP is recorded before the next claim.
                routed = self._route_inbound()
                claimed = self._fill(self.clock())
            except Exception:  # the database went away for a moment: try again shortly
                log.exception("outbox: routing or claiming failed")
                routed = claimed = 0
                self.stop_event.wait(self.poll_interval)
            if routed or claimed:
                continue
            if self._inflight:
                self._wait_some(timeout=self.poll_interval)
            else:
                self.wake_event.wait(self.poll_interval)
                self.wake_event.clear()
        self._drain()
        log.info("outbox dispatcher stopped")

    def stop(self) -> None:
        self.stop_event.set()
        self.wake_event.set()

    def close(self) -> None:
        self._drain()
        self.pool.shutdown(wait=True)

    def _route_inbound(self) -> int:
        with self.app.app_context():
            return inbound.route_receipts(now=self.clock())

    def _fill(self, now: datetime) -> int:
        # Up to two texts per pool slot are claimed, and only once a full round of slots
        # is free: one claiming transaction per batch instead of per text, while the
        # pool always has the next text ready when a send finishes.
        free = self.concurrency * 2 - len(self._inflight)
        if free < self.concurrency and self._inflight:
            return 0
        with self.app.app_context():
            items = outbox.claim_due(now=now, limit=free, lease=self.lease)
            # After the claim's UPDATE: on SQLite, reads first and a write later can
            # deadlock two dispatchers on the lock upgrade ("database is locked").
            self.schedule.run_due(now=now)  # the periodic tasks: app/worker/periodic.py
            db.session.commit()
            # Web Push notifications of routed texts, on the same pool as the texts.
            # The keys first: on SQLite a first pair is inserted on another connection,
            # which must not wait for this session's claim.
            keys = push.vapid_keys()
            pushes = push.claim_due_pushes(now=now, limit=max(free, 1))
            db.session.commit()
        for item in items:
            future = self.pool.submit(self._process, item)
            self._inflight.add(future)
        for push_item in pushes:
            self._inflight.add(self.pool.submit(self._push, push_item, keys))
        with self.app.app_context():
            # The periodic tasks that commit their own steps, outside any claim and once
            # the claimed texts are sending: a slow step (a Twilio call, a batch of an
            # import) never holds them back.
            self.schedule.run_due(now=now, commits=True)
        self._fetch_media_soon()
        return len(items)

    def _fetch_media_soon(self) -> None:
        """Customers' pictures are downloaded on a pool thread, one batch at a time, so a
        slow media host never holds up a text (and no transaction waits on it)."""
        if self._media is not None and not self._media.done():
            return
        if time.monotonic() - self._media_looked < MEDIA_INTERVAL:
            return
        self._media_looked = time.monotonic()
        self._media = self.pool.submit(self._fetch_media)

    def _fetch_media(self) -> None:
        with self.app.app_context():
            try:
                while message_media.fetch_due_media(now=utcnow()):
                    pass
            except Exception:
                db.session.rollback()
                log.exception("media: fetching due media failed")

    def _wait_some(self, timeout: float | None) -> None:
        done, _pending = wait(self._inflight, timeout=timeout, return_when=FIRST_COMPLETED)
        self._inflight -= done

    def _drain(self) -> None:
        if self._inflight:
            wait(self._inflight)
            self._inflight.clear()

    # -- one push --------------------------------------------------------------------------------

    def _push(self, item: push.PushItem, keys: push.VapidKeys) -> None:
        with self.app.app_context():
            try:
                push.send_claimed(item=item, keys=keys, now=self.clock())
                db.session.commit()
            except Exception:
                db.session.rollback()
                # Its claim runs out and it is tried again then.
                log.exception("push: delivery %s failed unexpectedly", item.id)

    # -- one text -------------------------------------------------------------------------------

    def _process(self, item: OutboxItem) -> None:
        with self.app.app_context():
            try:
                self._deliver(item)
                db.session.commit()
            except Exception:
                db.session.rollback()
                log.exception("outbox: message %s failed unexpectedly", item.id)
                # Keep the text; the lease expiry would also bring it back, but sooner is
                # kinder. The outcome is unknown, so it is looked up before a resend.
                outbox.record_retry(
                    item=item,
                    now=self.clock(),
                    delay=outbox.retry_delay(
                        attempts=item.attempts, retry_after=None, message_id=item.id
                    ),
                    reason="Sending failed unexpectedly; it will be retried.",
                    outcome_unknown=True,
                )
                db.session.commit()

    def _deliver(self, item: OutboxItem) -> None:
        # The opt-out confirmation is written after the opt-out, to go to that number.
        opted_out = OptOut.covers(company_id=item.company_id, phone=item.to_phone)
        if opted_out and item.kind not in ALLOWED_WHEN_OPTED_OUT:
            outbox.record_failure(
                item=item,
                now=self.clock(),
                code=None,
                reason=OPTED_OUT_REASON,
                status=MessageStatus.CANCELED,
            )
            return
        # The company's Messaging Service (its registered campaign), once it has one.
        service_sid = db.session.scalar(
            sa.select(MessagingRegistration.messaging_service_sid).filter_by(
                company_id=item.company_id
            )
        )
        # Photos we send go as short-lived signed links, made now so a retry gets fresh ones.
        media_urls = message_media.public_media_urls(message_id=item.id, media_urls=item.media_urls)
        # No transaction may stay open across the HTTP call.
        db.session.rollback()

        if item.twilio_sid:
            # A status callback already told us Twilio has it.
            outbox.record_accepted(
                item=item, sid=item.twilio_sid, twilio_status="queued", now=self.clock()
            )
            return
        if item.reconcile_since is not None:
            try:
                found = self._find_at_twilio(item)
            except gateway.GatewayError as error:
                self._retry(item, error, outcome_unknown=True)
                return
            if found is not None:
                log.info("outbox: message %s was already at Twilio as %s", item.id, found.sid)
                outbox.record_accepted(
                    item=item, sid=found.sid, twilio_status=found.status, now=self.clock()
                )
                return

        if item.kind == MessageKind.MISSED_CALL_TEXT and self._unreachable_line(item):
            return
        try:
            sent = gateway.send_sms(
                from_=item.from_phone,
                to=item.to_phone,
                body=item.body,
                media_urls=media_urls,
                status_callback=outbox.status_callback_url(item.id),
                messaging_service_sid=service_sid,
            )
        except gateway.PermanentGatewayError as error:
            outbox.record_failure(
                item=item,
                now=self.clock(),
                code=error.code,
                reason=error_explanation(error.code, error.message),
            )
            return
        except gateway.UnknownOutcome as error:
            self._retry(item, error, outcome_unknown=True)
            return
        except gateway.TransientGatewayError as error:
            self._retry(item, error, outcome_unknown=False)
            return
        outbox.record_accepted(item=item, sid=sent.sid, twilio_status=sent.status, now=self.clock())

    def _unreachable_line(self, item: OutboxItem) -> bool:
        """Twilio Lookup, asked here rather than in the voice webhook (which must answer
        fast), says the caller's number is a landline or toll-free: the missed-call text is
        not sent (recorded as not sent, with why). Lookup off, failing or slow: the
        decision taken when the text was queued stands and it goes."""
        refusal = calls.lookup_refusal(phone=item.to_phone, now=self.clock())
        # The Lookup's answer is kept before the send: no transaction stays open across it.
        db.session.commit()
        if refusal is None:
            return False
        outbox.record_failure(
            item=item,
            now=self.clock(),
            code=None,
            reason=f"Not sent: Twilio Lookup says {format_phone(item.to_phone)} is {refusal}, "
            "which can't receive texts.",
            status=MessageStatus.CANCELED,
        )
        return True

    def _find_at_twilio(self, item: OutboxItem) -> gateway.RemoteMessage | None:
        """The text this item already made at Twilio, if an earlier attempt got there.
        A candidate must match body and media count and not belong to another message."""
        assert item.reconcile_since is not None
        remote = gateway.find_messages(
            from_=item.from_phone,
            to=item.to_phone,
            sent_after=item.reconcile_since - RECONCILE_SLACK,
        )
        candidates = [
            r for r in remote if r.body == item.body and r.num_media == len(item.media_urls)
        ]
        if not candidates:
            return None
        known = set(
            db.session.scalars(
                sa.select(Message.twilio_sid).where(
                    Message.twilio_sid.in_([c.sid for c in candidates])
                )
            )
        )
        db.session.rollback()
        unclaimed = [c for c in candidates if c.sid not in known]
        unclaimed.sort(key=lambda c: (c.date_created is None, c.date_created))
        return unclaimed[0] if unclaimed else None

    def _retry(
        self, item: OutboxItem, error: gateway.GatewayError, *, outcome_unknown: bool
    ) -> None:
        now = self.clock()
        if outbox.give_up(item, now):
            outbox.record_failure(
                item=item,
                now=now,
                code=error.code,
                reason="Twilio could not take this text for a whole day, so it was not sent. "
                f"Last answer: {error.message}",
            )
            return
        if isinstance(error, gateway.UnknownOutcome):
            delay = RECONCILE_DELAY
        else:
            delay = outbox.retry_delay(
                attempts=item.attempts, retry_after=error.retry_after, message_id=item.id
            )
        if outcome_unknown:
            reason = "No answer from Twilio; checking whether the text went before retrying."
        elif error.status == 429:
            reason = "Twilio asked us to slow down; the text will be retried."
        else:
            reason = f"Twilio is unavailable ({error.message}); the text will be retried."
        log.info("outbox: message %s retry in %s: %s", item.id, delay, error.message)
        outbox.record_retry(
            item=item, now=now, delay=delay, reason=reason, outcome_unknown=outcome_unknown
        )


# -- the development server's thread ---------------------------------------------------------

_background: Dispatcher | None = None
_background_lock = threading.Lock()


def start_background_dispatcher(app: Flask) -> Dispatcher:
    """Start (once per process) the dispatcher thread used by `make run`."""
    global _background
    with _background_lock:
        if _background is None:
            _background = Dispatcher(app)
            thread = threading.Thread(
                target=_background.run_forever, name="outbox-dispatcher", daemon=True
            )
            thread.start()
    return _background


def install_background_dispatcher(app: Flask) -> None:
    """Start the dispatcher thread with the first request the server handles (not when a
    CLI command such as `flask db upgrade` merely builds the app)."""

    @app.before_request
    def _start_outbox_thread() -> None:
        if _background is None:
            start_background_dispatcher(app)

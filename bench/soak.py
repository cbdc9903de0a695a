"""The load soak: inbound webhooks, status callbacks and outbound sends together for a few
minutes, with the fake Twilio failing 5% of sends; then the books are checked.

    .venv/bin/python bench/soak.py                          # 3 minutes
    .venv/bin/python bench/soak.py --duration 20 --inbound-rate 5 --outbound-rate 2

What runs, all on loopback, all started and stopped by this script:
- gunicorn serving wsgi:app (gunicorn.conf.py) against the seeded PostgreSQL database, in
  production mode (fake Twilio allowed);
- `--workers` `flask outbox work` processes sending through the real twilio SDK to
- the fake Twilio (bench/fake_twilio_server.py): every send answered after `--latency`,
  `--fail-rate` of them failing in turn with a 500, a 429 (Retry-After: 1) or a dropped
  connection after the text was accepted; it delivers the status callbacks (sent, then
  delivered) back to gunicorn, signed.
Load: signed inbound texts at `--inbound-rate` (every 20th one delivered twice with the
same MessageSid, as Twilio does when it retries; texts that got no answer or a 5xx are
delivered again at the end, as Twilio would), and manual texts queued at
`--outbound-rate` through the app's own queue_text (what the inbox's reply does). The
office user of ten companies forwards routed texts to their mobile, so inbound texts make
outbound ones too.

The books, after the load stops and the outbox drains (at most `--drain-timeout` s):
- every inbound MessageSid sent is stored exactly once;
- every outbound text of the soak reached the fake Twilio exactly once (no text sent
  twice, even after a dropped connection), under the SID the app recorded;
- none is stuck: nothing pending or sending, every one delivered (status callbacks in).
Exit status 0 when the books balance.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import threading
import time
import urllib.request

import database
import loadgen
import processes
import psycopg
from report import machine, ms, table
from webhooks import InboundTexts, senders

FORWARDING_COMPANIES = tuple(range(2, 12))


def fetch_json(port: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as answer:
        return json.loads(answer.read())


class OutboundLoad:
    """Queues manual texts at a steady rate through the app's queue_text, in this process."""

    def __init__(self, url: str, run: str, rate: float, duration: float, limit: int) -> None:
        from app import create_app

        self.app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database.sqlalchemy_url(url),
                "TWILIO_FAKE": True,
                "OUTBOX_THREAD": False,
            }
        )
        self.run, self.rate, self.duration, self.limit = run, rate, duration, limit
        self.queued = 0
        self.refused = 0
        self.errors: list[str] = []
        self.targets = [(number, phones) for number, phones in senders(url, per_company=20)]

    def __call__(self) -> None:
        import sqlalchemy as sa

        from app.extensions import db
        from app.models import Company, MessageKind, PhoneNumber
        from app.services.texting import TextingUnavailable, queue_text

        total = min(int(self.rate * self.duration), self.limit)
        start = time.perf_counter()
        for n in range(total):
            pause = start + n / self.rate - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            number, phones = self.targets[(n * 11) % len(self.targets)]
            with self.app.app_context():
                try:
                    company = db.session.scalar(
                        sa.select(Company).join(PhoneNumber).where(PhoneNumber.e164 == number)
                    )
                    queue_text(
                        company=company,
                        to_phone=phones[(n * 3) % len(phones)],
                        body=f"Bench soak {self.run} out #{n}: see you at 3pm.",
                        kind=MessageKind.MANUAL,
                    )
                    db.session.commit()
                    self.queued += 1
                except TextingUnavailable:
                    db.session.rollback()
                    self.refused += 1
                except Exception as error:  # reported in the books, never silently
                    db.session.rollback()
                    self.errors.append(repr(error))


def snapshot(url: str) -> int:
    with psycopg.connect(database.libpq_url(url)) as conn:
        return conn.execute("select coalesce(max(id), 0) from messages").fetchone()[0]


def set_forwarding(url: str, enabled: bool) -> None:
    with psycopg.connect(database.libpq_url(url)) as conn:
        conn.execute(
            "update users set forward_texts = %s where role = 'office' and company_id = any(%s)",
            (enabled, list(FORWARDING_COMPANIES)),
        )


def outbox_state(url: str, first_id: int) -> dict[str, int]:
    with psycopg.connect(database.libpq_url(url)) as conn:
        return dict(
            conn.execute(
                "select status, count(*) from messages where id > %s and direction = 'out' "
                "group by status",
                (first_id,),
            ).fetchall()
        )


def drain(url: str, first_id: int, fake_port: int, timeout: float, workers) -> float:
    """Wait until no received text is unrouted, no text of the soak is waiting to be sent
    and the fake has no callback left."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        state = outbox_state(url, first_id)
        waiting = sum(state.get(s, 0) for s in ("pending", "sending", "queued", "sent"))
        with psycopg.connect(database.libpq_url(url)) as conn:
            waiting += conn.execute("select count(*) from inbound_receipts").fetchone()[0]
        stats = fetch_json(fake_port, "/_bench/stats")
        if not waiting and not stats["callbacks_pending"]:
            return time.perf_counter() - started
        for worker in workers:
            if not worker.alive():
                raise SystemExit(f"{worker.name} died:\n{worker.tail()}")
        time.sleep(1)
    return float("nan")


def check_books(url: str, *, run: str, first_id: int, sids: set[str], fake_port: int) -> dict:
    with psycopg.connect(database.libpq_url(url)) as conn:
        inbound = conn.execute(
            "select twilio_sid, count(*) from messages where twilio_sid like %s group by 1",
            (f"SM{run}%",),
        ).fetchall()
        outbound = conn.execute(
            "select id, kind, to_phone, body, status, twilio_sid from messages "
            "where id > %s and direction = 'out'",
            (first_id,),
        ).fetchall()
    stored = dict(inbound)
    fake_sent = fetch_json(fake_port, "/_bench/outbound")
    at_fake: dict[tuple[str, str], list[str]] = {}
    for message in fake_sent:
        at_fake.setdefault((message["to"], message["body"]), []).append(message["sid"])
    ours = {(to, body) for _id, _kind, to, body, _status, _sid in outbound}
    books = {
        "inbound_sent": len(sids),
        "inbound_stored": sum(1 for sid in sids if stored.get(sid) == 1),
        "inbound_missing": sum(1 for sid in sids if sid not in stored),
        "inbound_doubled": sum(1 for count in stored.values() if count > 1),
        "outbound": len(outbound),
        "outbound_forwards": sum(1 for row in outbound if row[1] == "forward"),
        "sent_once": 0,
        "sent_twice": 0,
        "never_sent": 0,
        "sid_mismatch": 0,
        "stuck": 0,
        "delivered": 0,
        "failed": 0,
        "unknown_at_fake": sum(1 for key in at_fake if key not in ours),
    }
    for _id, _kind, to, body, status, sid in outbound:
        copies = at_fake.get((to, body), [])
        if len(copies) == 1:
            books["sent_once"] += 1
            if copies[0] != sid:
                books["sid_mismatch"] += 1
        elif len(copies) > 1:
            books["sent_twice"] += 1
        else:
            books["never_sent"] += 1
        if status in ("pending", "sending", "queued", "sent"):
            books["stuck"] += 1
        elif status == "delivered":
            books["delivered"] += 1
        else:
            books["failed"] += 1
    return books


def balanced(books: dict) -> bool:
    return (
        books["inbound_stored"] == books["inbound_sent"]
        and not books["inbound_doubled"]
        and books["sent_once"] == books["outbound"]
        and not books["sent_twice"]
        and not books["sid_mismatch"]
        and not books["stuck"]
        and books["delivered"] == books["outbound"]
        and not books["unknown_at_fake"]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=database.default_url())
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--inbound-rate", type=float, default=20.0, help="webhooks per second")
    parser.add_argument("--outbound-rate", type=float, default=5.0, help="texts queued per s")
    parser.add_argument("--workers", type=int, default=2, help="`flask outbox work` processes")
    parser.add_argument("--concurrency", type=int, default=8, help="sends in flight per worker")
    parser.add_argument("--latency", type=float, default=0.2, help="fake Twilio, s per send")
    parser.add_argument("--fail-rate", type=float, default=0.05)
    parser.add_argument("--drain-timeout", type=float, default=300.0)
    parser.add_argument("--max-texts", type=int, default=20_000, help="cap per direction")
    args = parser.parse_args(argv)
    url = args.database_url
    database.database_name(url)
    from app.config import FAKE_TWILIO_AUTH_TOKEN

    run = secrets.token_hex(6)
    app_port, fake_port = processes.free_port(), processes.free_port()
    public = f"http://127.0.0.1:{app_port}"
    env = processes.production_env(
        url,
        public,
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{fake_port}",
        OUTBOX_CONCURRENCY=str(args.concurrency),
    )
    texts = InboundTexts(
        senders(url, per_company=50), token=FAKE_TWILIO_AUTH_TOKEN, public_base_url=public, run=run
    )

    def inbound_request(n: int):
        # Every 20th text is delivered a second time, same SID (a Twilio retry).
        return texts(n - 1 if n % 20 == 1 else n)

    outbound = OutboundLoad(url, run, args.outbound_rate, args.duration, args.max_texts)
    first_id = snapshot(url)
    set_forwarding(url, True)
    started_processes = []
    try:
        web = processes.gunicorn("soak-app", "wsgi:app", app_port, env)
        started_processes.append(web)
        fake = processes.fake_twilio(
            "soak-fake-twilio",
            fake_port,
            env,
            "--latency",
            str(args.latency),
            "--fail-rate",
            str(args.fail_rate),
            "--callbacks-to",
            public,
            "--public-base-url",
            public,
        )
        started_processes.append(fake)
        workers = [
            processes.outbox_worker(f"soak-outbox-{i}", env, args.concurrency)
            for i in range(args.workers)
        ]
        started_processes.extend(workers)

        print(
            f"Soak {run}: {args.duration:.0f} s, {args.inbound_rate:g} inbound/s, "
            f"{args.outbound_rate:g} outbound/s, {args.workers} workers, "
            f"{args.fail_rate:.0%} of sends failing ...",
            flush=True,
        )
        sender = threading.Thread(target=outbound, daemon=True)
        sender.start()
        inbound = loadgen.fixed_rate(
            "127.0.0.1",
            app_port,
            inbound_request,
            rate=args.inbound_rate,
            duration=args.duration,
            max_requests=args.max_texts,
        )
        sender.join(timeout=args.duration + 120)
        total = min(int(args.inbound_rate * args.duration), args.max_texts)
        sids = {texts.sid(n - 1 if n % 20 == 1 else n) for n in range(total)}
        # Twilio redelivers what got no answer (or a 5xx): so do we, until answered.
        redelivered = 0
        pending_retry = sorted(set(inbound.failed))
        for _round in range(5):
            if not pending_retry:
                break
            retry = loadgen.fixed_rate(
                "127.0.0.1",
                app_port,
                lambda i, todo=pending_retry: inbound_request(todo[i]),
                rate=max(args.inbound_rate, 1),
                duration=len(pending_retry) / max(args.inbound_rate, 1),
            )
            redelivered += retry.completed
            pending_retry = [pending_retry[i] for i in sorted(set(retry.failed))]
        print(
            "  load done; draining the inbound receipts, the outbox and the status callbacks ...",
            flush=True,
        )
        drained_in = drain(url, first_id, fake_port, args.drain_timeout, workers)
        stats = fetch_json(fake_port, "/_bench/stats")
        books = check_books(url, run=run, first_id=first_id, sids=sids, fake_port=fake_port)
    finally:
        for process in reversed(started_processes):
            process.stop()
        set_forwarding(url, False)

    rows = [
        ["inbound webhooks sent (incl. Twilio-style repeats)", f"{inbound.completed:,}"],
        ["  answered 5xx or not at all, delivered again", f"{len(set(inbound.failed)):,}"],
        ["  latency p50 / p99 ms", f"{ms(inbound.p(50))} / {ms(inbound.p(99))}"],
        ["inbound MessageSids", f"{books['inbound_sent']:,}"],
        ["  stored exactly once", f"{books['inbound_stored']:,}"],
        ["  missing / stored twice", f"{books['inbound_missing']} / {books['inbound_doubled']}"],
        ["outbound texts queued (manual + forwards)", f"{books['outbound']:,}"],
        ["  forwards of inbound texts", f"{books['outbound_forwards']:,}"],
        ["  sent exactly once (at the fake Twilio)", f"{books['sent_once']:,}"],
        ["  sent twice / never sent", f"{books['sent_twice']} / {books['never_sent']}"],
        ["  SID differs from the fake's", f"{books['sid_mismatch']}"],
        ["  delivered (status callbacks in)", f"{books['delivered']:,}"],
        ["  stuck (pending, sending, queued, sent)", f"{books['stuck']}"],
        ["  failed", f"{books['failed']}"],
        ["texts at the fake nobody queued", f"{books['unknown_at_fake']}"],
        ["faults injected", ", ".join(f"{k}: {v}" for k, v in sorted(stats["injected"].items()))],
        ["status callbacks delivered / refused", f"{stats['callbacks_delivered']:,} / "
         f"{stats['callbacks_failed']}"],
        ["outbound queue refused / errors", f"{outbound.refused} / {len(outbound.errors)}"],
        ["drained after load in s", f"{drained_in:.1f}"],
    ]  # fmt: skip
    ok = balanced(books) and not outbound.errors
    print()
    print(table(["soak " + run, "count"], rows))
    for error in outbound.errors[:5]:
        print("  queue error:", error)
    print(f"Books {'balance' if ok else 'DO NOT balance'}.")
    print(machine(url))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

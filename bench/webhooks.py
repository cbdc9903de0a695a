"""Benchmark 1: inbound SMS webhooks through gunicorn + PostgreSQL, against a bare Flask
endpoint served by the same gunicorn configuration, in the same run; then the worker that
routes what the webhooks kept.

    .venv/bin/python bench/webhooks.py                       # rates 50,100,200,400 req/s
    .venv/bin/python bench/webhooks.py --rates 50,100 --duration 5 --flat-duration 5

Both servers are started from gunicorn.conf.py (WEB_CONCURRENCY workers, GUNICORN_THREADS
threads) on loopback ports. The app runs as in production (APP_ENV=production, a real
SECRET_KEY, DATABASE_URL to the seeded database, no in-process dispatcher), except that
the fake Twilio is allowed. Each request is a signed, Twilio-shaped inbound text from one
of the seeded customers (5% from unknown numbers) to one of the companies' numbers, with a
new MessageSid, one in five with a photo (MediaUrl0, as Twilio posts an MMS): the app
verifies the signature, keeps the text (an inbound receipt) and answers empty TwiML. The
baseline parses the same form and answers the same TwiML.

Measurements alternate between the two servers so a change in background load hits both:
first flat out (`--connections` connections back to back) for throughput, then each fixed
rate for latency (counted from each request's scheduled send time). No worker runs during
these, so the figures are the web tier's alone.

Then `--route-workers` `flask outbox work` processes route the backlog the runs left
(store, opt-out keywords, rule 4, recipients): texts routed per second and CPU per text.
Last, `--sustained-rate` texts/s are sent with those workers running beside gunicorn, the
production shape on one machine: webhook latency, and how far routing lags behind.

Target (issue 9): at least half the bare endpoint's throughput, and p99 under 50 ms at
200 requests/s. Every text answered 200 is checked to end up stored exactly once.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from dataclasses import dataclass
from urllib.parse import urlencode

import database
import loadgen
import processes
import psycopg
from report import machine, ms, table, verdict
from twilio.request_validator import RequestValidator

PATH = "/webhooks/twilio/sms"
TARGET_RATIO = 0.5
TARGET_P99 = 0.050
TARGET_RATE = 200
ACCOUNT = "AC00000000000000000000000000000000"
# One text in five carries a photo (MediaUrl0), as customers send them (issue 17).
MEDIA_EVERY = 5


def senders(url: str, per_company: int) -> list[tuple[str, list[str]]]:
    """(company number, some of its customers' phones) for every seeded company."""
    with psycopg.connect(database.libpq_url(url)) as conn:
        rows = conn.execute(
            "select p.e164, c.mobile_phone from phone_numbers p join ("
            "  select company_id, mobile_phone, "
            "  row_number() over (partition by company_id order by id) as n from customers"
            ") c on c.company_id = p.company_id where c.n <= %s order by p.company_id, c.n",
            (per_company,),
        ).fetchall()
    grouped: dict[str, list[str]] = {}
    for number, phone in rows:
        grouped.setdefault(number, []).append(phone)
    return list(grouped.items())


class InboundTexts:
    """The n-th signed inbound text (deterministic per run; each with its own SID)."""

    def __init__(self, companies, *, token: str, public_base_url: str, run: str) -> None:
        self.companies = companies
        self.validator = RequestValidator(token)
        self.url = public_base_url + PATH
        self.run = run

    def sid(self, n: int) -> str:
        # Twilio names a text with media MM..., one without SM...
        return f"{'MM' if self.has_media(n) else 'SM'}{self.run}{n:020x}"

    @staticmethod
    def has_media(n: int) -> bool:
        return n % MEDIA_EVERY == 1

    def __call__(self, n: int) -> tuple[str, bytes, dict[str, str]]:
        number, phones = self.companies[(n * 7) % len(self.companies)]
        sender = f"+1512999{n % 10000:04d}" if n % 20 == 0 else phones[(n * 13) % len(phones)]
        sid = self.sid(n)
        media = {}
        if self.has_media(n):
            # A photo as Twilio posts it: the webhook only keeps the URL (the worker fetches).
            media = {
                "MediaUrl0": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/"
                f"{sid}/Media/ME{n:032x}",
                "MediaContentType0": "image/jpeg",
            }
        form = {
            "ToCountry": "US",
            "SmsMessageSid": sid,
            "NumMedia": str(len(media) // 2),
            **media,
            "SmsSid": sid,
            "SmsStatus": "received",
            "Body": f"Bench text {n}: is the tech still coming today?",
            "FromCountry": "US",
            "To": number,
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT,
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(self.url, form),
            "User-Agent": "TwilioProxy/1.1",
        }
        return PATH, urlencode(form).encode(), headers


def pending(url: str, run: str) -> int:
    """This run's texts kept by the webhook and not routed yet."""
    with psycopg.connect(database.libpq_url(url)) as conn:
        return conn.execute(
            "select count(*) from inbound_receipts where twilio_sid like %s", (f"_M{run}%",)
        ).fetchone()[0]


@dataclass
class Drain:
    texts: int
    seconds: float
    cpu_seconds: float


def drain(url: str, run: str, workers: list[processes.Process], limit: float = 900) -> Drain:
    """Wait until the workers have routed every receipt of this run."""
    cpu_before = sum(w.cpu_seconds() for w in workers)
    started, texts = time.monotonic(), pending(url, run)
    while (left := pending(url, run)) and time.monotonic() - started < limit:
        if not all(w.alive() for w in workers):
            raise SystemExit("a worker died:\n" + "\n".join(w.tail() for w in workers))
        time.sleep(0.25)
    if left:
        raise SystemExit(f"{left} receipts still unrouted after {limit:.0f} s")
    cpu = sum(w.cpu_seconds() for w in workers) - cpu_before
    return Drain(texts, time.monotonic() - started, cpu)


def latency_cells(outcome: loadgen.Outcome, cpu_seconds: float) -> list[str]:
    return [
        f"{outcome.throughput:.0f}",
        f"{ms(outcome.p(50))} / {ms(outcome.p(95))} / {ms(outcome.p(99))}",
        f"{cpu_seconds / max(outcome.completed, 1) * 1000:.1f}",
        str(outcome.errors + outcome.bad_statuses),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=database.default_url())
    parser.add_argument("--rates", default="50,100,200,400", help="fixed rates, req/s")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per fixed rate")
    parser.add_argument("--flat-duration", type=float, default=20.0)
    parser.add_argument("--connections", type=int, default=16, help="for the flat-out run")
    parser.add_argument("--max-requests", type=int, default=50_000, help="per measurement")
    parser.add_argument(
        "--route-workers", type=int, default=1, help="flask outbox work processes that route"
    )
    parser.add_argument(
        "--sustained-rate", type=float, default=50.0, help="req/s with the workers running"
    )
    parser.add_argument("--sustained-duration", type=float, default=30.0)
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",") if r.strip()]
    url = args.database_url
    database.database_name(url)

    from app.config import FAKE_TWILIO_AUTH_TOKEN

    app_port, bare_port = processes.free_port(), processes.free_port()
    public = f"http://127.0.0.1:{app_port}"
    env = processes.production_env(url, public)
    companies = senders(url, per_company=50)
    if not companies:
        raise SystemExit("the benchmark database is not seeded: run bench/seed.py first")
    run = secrets.token_hex(6)
    texts = InboundTexts(companies, token=FAKE_TWILIO_AUTH_TOKEN, public_base_url=public, run=run)
    offset = {"app": 0, "bare": 0}

    def shifted(server: str):
        # Every measurement sends texts no earlier measurement sent (new SIDs).
        base = offset[server]
        return lambda n: texts(base + n)

    print(f"gunicorn: {processes.gunicorn_workers(env)} (gunicorn.conf.py)", flush=True)
    servers = {
        "bare": processes.gunicorn("bench-bare", "bare_app:app", bare_port, env),
        "app": processes.gunicorn("bench-app", "wsgi:app", app_port, env),
    }
    ports = {"bare": bare_port, "app": app_port}
    results: dict[tuple[str, str], loadgen.Outcome] = {}
    cpu: dict[tuple[str, str], float] = {}
    try:
        for server in ("bare", "app"):
            warm = loadgen.fixed_rate(
                "127.0.0.1", ports[server], shifted(server), rate=50, duration=3
            )
            offset[server] += warm.completed + warm.errors + 10
        plans = [("flat out", None)] + [(f"{rate:.0f} req/s", rate) for rate in rates]
        for label, rate in plans:
            for server in ("bare", "app"):
                print(f"  {server}: {label} ...", flush=True)
                cpu_before = servers[server].cpu_seconds()
                if rate is None:
                    outcome = loadgen.flat_out(
                        "127.0.0.1",
                        ports[server],
                        shifted(server),
                        connections=args.connections,
                        duration=args.flat_duration,
                        max_requests=args.max_requests,
                    )
                else:
                    outcome = loadgen.fixed_rate(
                        "127.0.0.1",
                        ports[server],
                        shifted(server),
                        rate=rate,
                        duration=args.duration,
                        max_requests=args.max_requests,
                    )
                offset[server] += args.max_requests
                results[(label, server)] = outcome
                cpu[(label, server)] = servers[server].cpu_seconds() - cpu_before
        servers.pop("bare").stop()

        print(f"  routing the backlog with {args.route_workers} worker(s) ...", flush=True)
        workers = [
            processes.outbox_worker(f"bench-route-{n}", env, concurrency=8)
            for n in range(args.route_workers)
        ]
        servers.update({f"worker {n}": w for n, w in enumerate(workers)})
        backlog = drain(url, run, workers)
        sustained = None
        if args.sustained_rate:
            label = f"{args.sustained_rate:.0f} req/s + routing"
            print(f"  app: {label} ...", flush=True)
            outcome = loadgen.fixed_rate(
                "127.0.0.1",
                app_port,
                shifted("app"),
                rate=args.sustained_rate,
                duration=args.sustained_duration,
                max_requests=args.max_requests,
            )
            results[(label, "app")] = outcome
            waiting = pending(url, run)
            lag = drain(url, run, workers)
            sustained = (label, outcome, waiting, lag)
    finally:
        for process in servers.values():
            process.stop()

    sent_ok = sum(
        o.statuses.get(200, 0) for (label, server), o in results.items() if server == "app"
    )
    with psycopg.connect(database.libpq_url(url)) as conn:
        stored = conn.execute(
            "select count(*), count(distinct twilio_sid) from messages where twilio_sid like %s",
            (f"_M{run}%",),
        ).fetchone()
        stored += conn.execute(
            "select count(*) from unrouted_inbound where twilio_sid like %s", (f"_M{run}%",)
        ).fetchone()
    left = pending(url, run)

    rows = []
    for label, _rate in plans:
        bare, app = results[(label, "bare")], results[(label, "app")]
        rows.append(
            [
                label,
                *latency_cells(bare, cpu[(label, "bare")]),
                *latency_cells(app, cpu[(label, "app")]),
                f"{app.throughput / bare.throughput:.2f}",
            ]
        )
    print()
    counts = database.counts(url)
    workers = processes.gunicorn_workers(env)
    print(
        f"Inbound webhooks: {counts['customers']:,} customers, {counts['jobs']:,} jobs, "
        f"{counts['messages']:,} messages in PostgreSQL; gunicorn {workers}; "
        f"flat out = {args.connections} connections for {args.flat_duration:.0f} s; each rate "
        f"for {args.duration:.0f} s. Latencies in ms (p50 / p95 / p99); CPU = gunicorn's "
        "processes (not PostgreSQL's) per request."
    )
    print(
        table(
            [
                "load",
                "bare req/s",
                "bare latency",
                "bare CPU ms/req",
                "bare errors",
                "app req/s",
                "app latency",
                "app CPU ms/req",
                "app errors",
                "app/bare",
            ],
            rows,
        )
    )
    print()
    print(
        f"Routing the backlog: {args.route_workers} `flask outbox work` process(es), "
        "nothing else running but PostgreSQL."
    )
    print(
        table(
            ["texts waiting", "routed in s", "texts/s", "worker CPU ms/text"],
            [
                [
                    f"{backlog.texts:,}",
                    f"{backlog.seconds:.1f}",
                    f"{backlog.texts / max(backlog.seconds, 1e-9):.0f}",
                    f"{backlog.cpu_seconds / max(backlog.texts, 1) * 1000:.1f}",
                ]
            ],
        )
    )
    if sustained:
        label, outcome, waiting, lag = sustained
        print()
        print(
            f"Sustained: {label} for {args.sustained_duration:.0f} s, webhooks and routing "
            "on the same machine."
        )
        print(
            table(
                [
                    "load",
                    "answered req/s",
                    "latency p50 / p95 / p99",
                    "errors",
                    "waiting at end",
                    "routed all after s",
                ],
                [
                    [
                        label,
                        f"{outcome.throughput:.0f}",
                        f"{ms(outcome.p(50))} / {ms(outcome.p(95))} / {ms(outcome.p(99))}",
                        str(outcome.errors + outcome.bad_statuses),
                        f"{waiting:,}",
                        f"{lag.seconds:.1f}",
                    ]
                ],
            )
        )
    flat_ratio = results[("flat out", "app")].throughput / results[("flat out", "bare")].throughput
    at_target = next((r for r in rates if r == TARGET_RATE), None)
    p99 = results[(f"{at_target:.0f} req/s", "app")].p(99) if at_target else float("nan")
    # Each SID stored at most once, every text answered 200 is stored, none left waiting.
    once = stored[0] == stored[1] and stored[0] + stored[2] >= sent_ok and left == 0
    print(
        f"Throughput ratio app/bare (flat out): {flat_ratio:.2f} "
        f"(target >= {TARGET_RATIO}: {verdict(flat_ratio >= TARGET_RATIO)}). "
        + (
            f"p99 at {TARGET_RATE} req/s: {ms(p99)} ms "
            f"(target < 50 ms: {verdict(p99 < TARGET_P99)})."
            if at_target
            else f"({TARGET_RATE} req/s not in --rates: p99 target not checked.)"
        )
    )
    print(
        f"Stored: {stored[0]:,} messages with {stored[1]:,} distinct SIDs + {stored[2]:,} "
        f"quarantined, for {sent_ok:,} texts answered 200; {left:,} receipts left unrouted."
    )
    print(machine(url))
    ok = flat_ratio >= TARGET_RATIO and (not at_target or p99 < TARGET_P99) and once
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

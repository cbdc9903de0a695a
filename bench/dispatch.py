"""Benchmark 2: outbound dispatch. 10,000 queued texts sent by `flask outbox work` through
the real twilio SDK to the fake Twilio (served on loopback) answering each send after
200 ms; first with 1 worker process, then with 2, each on its own 10,000 texts.

    .venv/bin/python bench/dispatch.py
    .venv/bin/python bench/dispatch.py --messages 500 --concurrency 8

The baseline is the bound the design allows: each worker keeps `--concurrency` sends in
flight, each takes `--latency` seconds, so N workers can send at most
N x concurrency / latency texts per second. The texts are written straight into the
outbox (`messages`, status pending) of the seeded database, due in the future; the workers
start, and the clock starts when the texts are made due. It stops when none of them is
pending or sending any more. The texts are deleted afterwards.

Target (issue 9): at least 80% of the bound, and 2 workers nearly twice 1.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
import urllib.request

import database
import processes
import psycopg
from report import machine, table, verdict

TARGET_SHARE = 0.8


def queue_texts(url: str, run: str, count: int) -> None:
    """`count` pending texts from the companies' numbers to their customers, due tomorrow
    (so nothing sends them before the clock starts)."""
    with psycopg.connect(database.libpq_url(url)) as conn:
        conn.execute(
            """
            with convs as (
                select c.id, c.company_id, c.phone, p.e164,
                       row_number() over (order by c.id) - 1 as rn
                from conversations c join phone_numbers p on p.company_id = c.company_id
                where c.customer_id is not null
                order by c.id limit 5000
            ), total as (select count(*) as n from convs)
            insert into messages (
                company_id, conversation_id, direction, kind, from_phone, to_phone, body,
                media_urls, status, attempts, next_attempt_at, extra, created_at, updated_at
            )
            select convs.company_id, convs.id, 'out', 'manual', convs.e164, convs.phone,
                   'Bench dispatch ' || %(run)s || ' #' || g || ': your visit is confirmed.',
                   '[]', 'pending', 0,
                   (now() at time zone 'utc') + interval '1 day', '{}',
                   now() at time zone 'utc', now() at time zone 'utc'
            from generate_series(0, %(count)s - 1) as g
            join convs on convs.rn = g %% (select n from total)
            """,
            {"run": run, "count": count},
        )


def release(url: str, run: str) -> None:
    with psycopg.connect(database.libpq_url(url)) as conn:
        conn.execute(
            "update messages set next_attempt_at = (now() at time zone 'utc') "
            "- interval '1 second' where body like %s and status = 'pending'",
            (f"Bench dispatch {run} #%",),
        )


def progress(url: str, run: str) -> dict[str, int]:
    with psycopg.connect(database.libpq_url(url)) as conn:
        return dict(
            conn.execute(
                "select status, count(*) from messages where body like %s group by status",
                (f"Bench dispatch {run} #%",),
            ).fetchall()
        )


def other_pending(url: str) -> int:
    with psycopg.connect(database.libpq_url(url)) as conn:
        return conn.execute(
            "select count(*) from messages where status in ('pending', 'sending') "
            "and body not like 'Bench dispatch %%'"
        ).fetchone()[0]


def delete_run(url: str, run: str) -> None:
    with psycopg.connect(database.libpq_url(url)) as conn:
        conn.execute("delete from messages where body like %s", (f"Bench dispatch {run} #%",))


def fake_stats(port: int) -> dict:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_bench/stats", timeout=10) as answer:
        return json.loads(answer.read())


def run_once(
    url: str, *, workers: int, messages: int, concurrency: int, latency: float, timeout: float
) -> dict[str, float]:
    run = secrets.token_hex(4)
    fake_port = processes.free_port()
    env = processes.production_env(
        url,
        "http://127.0.0.1:9",  # status callbacks are not delivered in this benchmark
        TWILIO_API_BASE_URL=f"http://127.0.0.1:{fake_port}",
        OUTBOX_CONCURRENCY=str(concurrency),
    )
    queue_texts(url, run, messages)
    fake = processes.fake_twilio(
        f"bench-fake-twilio-{workers}", fake_port, env, "--latency", str(latency)
    )
    started_workers = []
    try:
        for index in range(workers):
            started_workers.append(
                processes.outbox_worker(f"bench-outbox-{workers}-{index}", env, concurrency)
            )
        cpu_before = [w.cpu_seconds() for w in started_workers], fake.cpu_seconds()
        busy_before = processes.machine_busy_seconds()
        release(url, run)
        started = time.perf_counter()
        deadline = started + timeout
        while True:
            state = progress(url, run)
            waiting = state.get("pending", 0) + state.get("sending", 0)
            if not waiting:
                break
            if time.perf_counter() > deadline:
                raise SystemExit(f"gave up after {timeout:.0f} s: {state}")
            for worker in started_workers:
                if not worker.alive():
                    raise SystemExit(f"{worker.name} died:\n{worker.tail()}")
            time.sleep(0.25)
        elapsed = time.perf_counter() - started
        busy_after = processes.machine_busy_seconds()
        worker_cpu = sum(w.cpu_seconds() for w in started_workers) - sum(cpu_before[0])
        fake_cpu = fake.cpu_seconds() - cpu_before[1]
        stats = fake_stats(fake_port)
    finally:
        for worker in started_workers:
            worker.stop()
        fake.stop()
    state = progress(url, run)
    delete_run(url, run)
    sent = state.get("queued", 0) + state.get("sent", 0) + state.get("delivered", 0)
    accepted = stats["requests"].get("POST 201", 0)
    return {
        "elapsed": elapsed,
        "sent": sent,
        "failed": messages - sent,
        "rate": sent / elapsed,
        "bound": workers * concurrency / latency,
        "api_sends": accepted,
        "worker_cpu_ms": worker_cpu / max(sent, 1) * 1000,
        "fake_cpu_ms": fake_cpu / max(sent, 1) * 1000,
        "machine_busy": (busy_after[0] - busy_before[0])
        / max(busy_after[1] - busy_before[1], 1e-9),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=database.default_url())
    parser.add_argument("--messages", type=int, default=10_000, help="texts per run")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per send")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=8,
        help="sends in flight per worker (OUTBOX_CONCURRENCY; 8 is its default)",
    )
    parser.add_argument("--workers", default="1,2", help="worker counts to run, in turn")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per run, at most")
    args = parser.parse_args(argv)
    url = args.database_url
    database.database_name(url)
    others = other_pending(url)
    if others:
        print(f"Note: {others} other texts are waiting in the outbox; the workers send them too.")

    results = []
    for workers in [int(w) for w in args.workers.split(",")]:
        print(f"  {workers} worker(s), {args.messages:,} texts ...", flush=True)
        results.append(
            (
                workers,
                run_once(
                    url,
                    workers=workers,
                    messages=args.messages,
                    concurrency=args.concurrency,
                    latency=args.latency,
                    timeout=args.timeout,
                ),
            )
        )

    rows = []
    for workers, r in results:
        share = r["rate"] / r["bound"]
        rows.append(
            [
                workers,
                f"{r['sent']:,}",
                f"{r['elapsed']:.1f}",
                f"{r['rate']:.1f}",
                f"{r['bound']:.0f}",
                f"{share:.0%}",
                f"{r['api_sends']:,}",
                f"{r['worker_cpu_ms']:.1f} / {r['fake_cpu_ms']:.1f}",
                f"{r['machine_busy']:.0%}",
                verdict(share >= TARGET_SHARE),
            ]
        )
    print()
    print(
        f"Outbound dispatch: {args.messages:,} texts per run, fake Twilio answering after "
        f"{args.latency * 1000:.0f} ms, {args.concurrency} sends in flight per worker; "
        "bound = workers x concurrency / latency."
    )
    print(
        table(
            [
                "workers",
                "texts sent",
                "seconds",
                "texts/s",
                "bound texts/s",
                "share of bound",
                "sends at fake",
                "CPU ms/text workers / fake",
                "machine busy",
                ">= 80%",
            ],
            rows,
        )
    )
    ok = all(r["rate"] / r["bound"] >= TARGET_SHARE and not r["failed"] for _w, r in results)
    if len(results) >= 2:
        (w1, r1), (w2, r2) = results[0], results[1]
        scaling = r2["rate"] / r1["rate"]
        print(
            f"{w2} workers send {scaling:.2f}x as fast as {w1} "
            f"(target: nearly {w2 / w1:.0f}x: {verdict(scaling >= 0.85 * w2 / w1)})."
        )
        ok = ok and scaling >= 0.85 * w2 / w1
    print(machine(url))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

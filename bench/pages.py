"""Benchmark 3: the pages people look at all day, on the seeded database.

    .venv/bin/python bench/pages.py                    # 200 requests per page
    .venv/bin/python bench/pages.py --requests 30 --show-queries

Each page is requested through the app's WSGI interface in this process (Flask's test
client: no network, no gunicorn), logged in as company 1's owner (office pages) or one of
its technicians (tech pages). Server time is the time from the request entering the app to
the full response body; SQL queries are counted on the engine. The baseline is the login
page, which renders a template and touches no table, measured the same way in the same run.

Target (issue 9): p95 under 50 ms, and a query count that does not grow with the rows
shown (tests/test_performance_pins.py pins that with 10 vs 100 rows).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import database
import psycopg
import sqlalchemy as sa
from report import machine, ms, percentile, table, verdict

TARGET_P95 = 0.050


@dataclass
class PageResult:
    name: str
    path: str
    times: list[float]
    queries: list[int]
    rows: int | None = None

    @property
    def p50(self) -> float:
        return percentile(self.times, 50)

    @property
    def p95(self) -> float:
        return percentile(self.times, 95)


class QueryCounter:
    def __init__(self, engine: sa.Engine) -> None:
        self.count = 0
        self.statements: list[str] = []
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, _conn, _cursor, statement, _params, _context, _many) -> None:
        self.count += 1
        self.statements.append(statement)

    def reset(self) -> None:
        self.count = 0
        self.statements = []


def build_app(url: str):
    from app import create_app

    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database.sqlalchemy_url(url),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "TWILIO_FAKE": True,
            "OUTBOX_THREAD": False,
            "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        }
    )


def log_in(app, email: str):
    client = app.test_client()
    response = client.post("/login", data={"email": email, "password": database.PASSWORD})
    if response.status_code != 302:
        raise SystemExit(f"could not log in as {email}: HTTP {response.status_code}")
    return client


def measure(
    client, counter: QueryCounter, name: str, path: str, requests: int, warmup: int
) -> PageResult:
    result = PageResult(name, path, [], [])
    for index in range(warmup + requests):
        counter.reset()
        started = time.perf_counter()
        response = client.get(path)
        body = response.get_data()
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"{path} answered HTTP {response.status_code}: {body[:300]!r}")
        if index >= warmup:
            result.times.append(elapsed)
            result.queries.append(counter.count)
    return result


def busiest_conversation(url: str, company_id: int) -> tuple[int, int]:
    """(id, message count) of company 1's conversation with the most texts."""
    with psycopg.connect(database.libpq_url(url)) as conn:
        return conn.execute(
            "select conversation_id, count(*) from messages where company_id = %s "
            "group by conversation_id order by count(*) desc, conversation_id limit 1",
            (company_id,),
        ).fetchone()


def tech_with_jobs_today(url: str, company_id: int) -> tuple[str, int]:
    """A technician of company 1 with an open job, and that job's id."""
    with psycopg.connect(database.libpq_url(url)) as conn:
        row = conn.execute(
            "select u.email, j.id from jobs j join job_assignments a on a.job_id = j.id "
            "join users u on u.id = a.user_id where j.company_id = %s and u.role = 'tech' "
            "and j.status in ('on_my_way', 'started') order by j.scheduled_start desc limit 1",
            (company_id,),
        ).fetchone()
        if row is None:
            row = conn.execute(
                "select u.email, j.id from jobs j join job_assignments a on a.job_id = j.id "
                "join users u on u.id = a.user_id where j.company_id = %s and u.role = 'tech' "
                "order by j.scheduled_start desc limit 1",
                (company_id,),
            ).fetchone()
    return row[0], row[1]


def deep_finished_cursor(url: str, company_id: int, depth: int) -> tuple[datetime, int]:
    """(scheduled_start, id) of company 1's finished job `depth` rows down the Finished
    tab (newest first): where the board's "Older" links get to after depth/25 pages."""
    with psycopg.connect(database.libpq_url(url)) as conn:
        start, job_id = conn.execute(
            "select scheduled_start, id from jobs where company_id = %s and status = 'finished' "
            "order by scheduled_start desc, id desc offset %s limit 1",
            (company_id, depth - 1),
        ).fetchone()
    return start.replace(tzinfo=UTC), job_id


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=database.default_url())
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--show-queries", action="store_true", help="print each page's SQL")
    parser.add_argument(
        "--only",
        metavar="TEXT",
        action="append",
        help="measure only the pages whose name contains TEXT (repeatable)",
    )
    args = parser.parse_args(argv)

    url = args.database_url
    company = database.big_company(url, phones=1)
    counts = database.counts(url)
    conversation_id, thread_length = busiest_conversation(url, company.id)
    tech_email, tech_job_id = tech_with_jobs_today(url, company.id)
    deep_start, deep_id = deep_finished_cursor(url, company.id, 10_000)

    app = build_app(url)
    from app.extensions import db
    from app.services.job_queries import BoardCursor

    deep_token = BoardCursor(deep_start, deep_id).token

    with app.app_context():
        counter = QueryCounter(db.engine)
    anonymous = app.test_client()
    office = log_in(app, company.owner_email)
    point_of_contact = log_in(app, company.office_email)
    tech = log_in(app, tech_email)

    pages: list[tuple[str, Callable, str]] = [
        ("baseline: login page (no tables)", anonymous, "/login"),
        ("jobs board, Today", office, "/jobs"),
        ("jobs board, Finished (page 1)", office, "/jobs?tab=finished"),
        # Keyset paging: the "Older" link 400 pages (10,000 rows) down the tab.
        (
            "jobs board, Finished (10,000 rows deep)",
            office,
            f"/jobs?tab=finished&after={deep_token}",
        ),
        ("jobs board, search a name", office, "/jobs?tab=finished&q=Customer+1-17"),
        ("inbox (100 conversations)", office, "/inbox"),
        ("inbox, mine (the Point of Contact)", point_of_contact, "/inbox?mine=1"),
        (f"inbox, thread of {thread_length} texts", office, f"/inbox/{conversation_id}"),
        ("booking form (customer picker)", office, "/jobs/new"),
        ("new estimate form (customer picker)", office, "/estimates/new"),
        ("customer picker: newest customers", office, "/customers/search?q="),
        ("customer picker: a name", office, "/customers/search?q=Customer+1-17"),
        ("customer picker: a phone number", office, "/customers/search?q=(214)+201-7"),
        ("estimates list", office, "/estimates"),
        ("invoices list", office, "/invoices"),
        ("tech page (a tech's day)", tech, "/tech"),
        ("tech job page", tech, f"/tech/jobs/{tech_job_id}"),
    ]
    if args.only:
        pages = [pages[0]] + [p for p in pages[1:] if any(text in p[0] for text in args.only)]
    results = []
    for name, client, path in pages:
        print(f"  {name} ...", flush=True)
        results.append(measure(client, counter, name, path, args.requests, args.warmup))
        if args.show_queries:
            print("\n".join(f"      {s.splitlines()[0][:150]}" for s in counter.statements))

    baseline = results[0]
    rows = []
    for result in results:
        spread = sorted(set(result.queries))
        queries = str(spread[0]) if len(spread) == 1 else f"{spread[0]}-{spread[-1]}"
        rows.append(
            [
                result.name,
                ms(result.p50),
                ms(result.p95),
                f"{result.p95 / baseline.p95:.1f}x",
                queries,
                "-" if result is baseline else verdict(result.p95 < TARGET_P95),
            ]
        )
    print()
    print(
        f"Pages, {args.requests} requests each after {args.warmup} warm-up, in-process; "
        f"database: {counts['customers']:,} customers, {counts['jobs']:,} jobs, "
        f"{counts['messages']:,} messages (company 1 holds the share shown by bench/seed.py)."
    )
    print(
        table(["page", "p50 ms", "p95 ms", "p95 vs baseline", "SQL queries", "p95 < 50 ms"], rows)
    )
    print(machine(url))
    return 0 if all(r.p95 < TARGET_P95 for r in results[1:]) else 1


if __name__ == "__main__":
    sys.exit(main())

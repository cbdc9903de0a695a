"""Bulk-load a benchmark database: companies, users, numbers, customers, jobs, conversations,
messages and their recipients, written with PostgreSQL COPY (not the ORM, row by row).

    .venv/bin/python bench/seed.py --recreate              # 100k customers, 100k jobs, 1M texts
    .venv/bin/python bench/seed.py --recreate --scale 0.02 # 2k / 2k / 20k, for a quick try

The schema comes from the models (`db.create_all()`, the same schema the migration makes).
Company 1 is a large business holding `--big-share` of everything (20% by default: 20k
customers, 20k jobs, 200k messages); the page benchmarks look at it. The other companies
share the rest evenly, like a hosting provider's long tail. Every user's password is
`bench-password-2026`; company 1's owner is owner1@bench.example.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import database
import psycopg
from werkzeug.security import generate_password_hash

TIME_ZONE = "America/Chicago"
CUSTOMER_AREA_CODES = ("512", "214", "713", "210", "817", "972", "281", "832")
OUTBOUND_KINDS = ("manual", "job_scheduled", "reminder", "on_my_way", "job_finished")
HISTORY = timedelta(days=730)
FUTURE = timedelta(days=30)


@dataclass
class CompanyPlan:
    id: int
    customers: int
    jobs: int
    messages: int
    techs: int
    first_customer_id: int = 0
    first_job_id: int = 0
    first_user_id: int = 0
    user_ids: dict[str, list[int]] = field(default_factory=dict)
    number: str = ""
    # customer id -> (job id, job status) of the customer's latest job
    latest_job: dict[int, tuple[int, str]] = field(default_factory=dict)


def split(total: int, companies: int, big_share: float) -> list[int]:
    """Company 1 gets `big_share` of `total`; the others share the rest evenly."""
    if companies == 1:
        return [total]
    big = round(total * big_share)
    rest = total - big
    base, extra = divmod(rest, companies - 1)
    return [big] + [base + (1 if i < extra else 0) for i in range(companies - 1)]


def plan(args: argparse.Namespace) -> list[CompanyPlan]:
    customers = split(round(args.customers * args.scale), args.companies, args.big_share)
    jobs = split(round(args.jobs * args.scale), args.companies, args.big_share)
    messages = split(round(args.messages * args.scale), args.companies, args.big_share)
    plans = []
    next_customer = next_job = next_user = 1
    for index in range(args.companies):
        company = CompanyPlan(
            id=index + 1,
            customers=max(customers[index], 1),
            jobs=jobs[index],
            messages=messages[index],
            techs=args.big_techs if index == 0 else 2,
        )
        company.first_customer_id = next_customer
        company.first_job_id = next_job
        company.first_user_id = next_user
        next_customer += company.customers
        next_job += company.jobs
        next_user += 2 + company.techs
        company.number = f"+1737{200 + company.id // 10000:03d}{company.id % 10000:04d}"
        plans.append(company)
    return plans


def customer_phone(company: CompanyPlan, local_index: int) -> str:
    area = CUSTOMER_AREA_CODES[company.id % len(CUSTOMER_AREA_CODES)]
    return f"+1{area}{200 + local_index // 10000:03d}{local_index % 10000:04d}"


def today_bounds(now: datetime) -> tuple[datetime, datetime]:
    tz = ZoneInfo(TIME_ZONE)
    local = now.astimezone(tz).date()
    start = datetime(local.year, local.month, local.day, tzinfo=tz).astimezone(UTC)
    return start, start + timedelta(days=1)


def naive(value: datetime | None) -> datetime | None:
    """UTCDateTime columns hold naive UTC."""
    return None if value is None else value.astimezone(UTC).replace(tzinfo=None)


# --- rows --------------------------------------------------------------------------------


def company_rows(plans: Sequence[CompanyPlan], now: datetime) -> Iterator[tuple]:
    for c in plans:
        name = "Big Bench Plumbing" if c.id == 1 else f"Bench Company {c.id}"
        # Every tenth company escalates unread texts after 30 minutes (the worker looks).
        escalation = 30 if c.id % 10 == 0 else None
        yield (
            c.id, name, "+15125550100", TIME_ZONE, "tech", False, escalation,
            naive(now - HISTORY),
        )  # fmt: skip


def user_rows(plans: Sequence[CompanyPlan], password_hash: str, now: datetime) -> Iterator[tuple]:
    for c in plans:
        uid = c.first_user_id
        people = [("owner", f"owner{c.id}@bench.example", f"Olivia Owner {c.id}")]
        people.append(("office", f"office{c.id}@bench.example", f"Oscar Office {c.id}"))
        people += [
            ("tech", f"tech{c.id}-{t + 1}@bench.example", f"Tina Tech {c.id}-{t + 1}")
            for t in range(c.techs)
        ]
        c.user_ids = {"owner": [], "office": [], "tech": []}
        for role, email, name in people:
            mobile = f"+1469{200 + uid // 10000:03d}{uid % 10000:04d}"
            yield (
                uid,
                c.id,
                name,
                email,
                password_hash,
                role,
                mobile,
                secrets.token_urlsafe(32),
                True,
                1,
                False,
                naive(now - HISTORY),
            )
            c.user_ids[role].append(uid)
            uid += 1


def number_rows(plans: Sequence[CompanyPlan], now: datetime) -> Iterator[tuple]:
    for c in plans:
        yield (c.id, c.id, c.number, "PN" + secrets.token_hex(16), "Austin", "TX", naive(now))


def registration_rows(plans: Sequence[CompanyPlan], now: datetime) -> Iterator[tuple]:
    # Every seeded company may text: its registration is approved (texts sent from the
    # number, no Messaging Service, as the test factories do).
    for c in plans:
        yield (
            c.id, c.id, "10dlc_standard", "approved", secrets.token_urlsafe(12), "{}", "[]",
            "[]", naive(now - HISTORY), naive(now - HISTORY), naive(now - HISTORY),
        )  # fmt: skip


def customer_rows(plans: Sequence[CompanyPlan], now: datetime) -> Iterator[tuple]:
    for c in plans:
        for k in range(c.customers):
            yield (
                c.first_customer_id + k,
                c.id,
                f"Customer {c.id}-{k + 1}",
                customer_phone(c, k),
                None,
                f"{100 + k} Bench Street, Austin TX",
                naive(now - HISTORY),
            )


def _customer_of_job(c: CompanyPlan, j: int) -> int:
    # Spread each customer's jobs over time (a prime stride), not one block per customer.
    stride = 7919 if math.gcd(7919, c.customers) == 1 else 1
    return c.first_customer_id + (j * stride) % c.customers


def job_rows(plans: Sequence[CompanyPlan], now: datetime) -> Iterator[tuple]:
    day_start, day_end = today_bounds(now)
    span = HISTORY + FUTURE
    for c in plans:
        techs = c.user_ids["tech"]
        for j in range(c.jobs):
            job_id = c.first_job_id + j
            start = now - HISTORY + span * ((j + 0.5) / c.jobs)
            start = start.replace(minute=(start.minute // 30) * 30, second=0, microsecond=0)
            end = start + timedelta(hours=2)
            if start < day_start:
                status = "canceled" if j % 13 == 0 else "finished"
            elif start < day_end:
                status = ("scheduled", "on_my_way", "started", "finished")[j % 4]
            else:
                status = "scheduled"
            progressed = status in ("on_my_way", "started", "finished")
            tech = techs[j % len(techs)]
            customer_id = _customer_of_job(c, j)
            c.latest_job[customer_id] = (job_id, status)
            yield (
                job_id,
                c.id,
                customer_id,
                j + 1,
                f"Fix the water heater ({j + 1})",
                None,
                f"{100 + j} Job Lane, Austin TX",
                naive(start),
                naive(end),
                status,
                naive(start - timedelta(minutes=20)) if progressed else None,
                tech if progressed else None,
                20 if progressed else None,
                naive(start) if status in ("started", "finished") else None,
                naive(start + timedelta(minutes=90)) if status == "finished" else None,
                naive(start - timedelta(days=1)) if status == "canceled" else None,
                naive(start - timedelta(days=7)),
                naive(start),
            )


def assignment_rows(plans: Sequence[CompanyPlan], now: datetime) -> Iterator[tuple]:
    assignment_id = 1
    for c in plans:
        techs = c.user_ids["tech"]
        for j in range(c.jobs):
            chosen = [techs[j % len(techs)]]
            if j % 7 == 0 and len(techs) > 1:
                chosen.append(techs[(j + 1) % len(techs)])
            for tech in chosen:
                yield (assignment_id, c.first_job_id + j, tech, naive(now - HISTORY))
                assignment_id += 1


@dataclass(frozen=True)
class Thread:
    conversation_id: int
    customer_index: int
    count: int  # messages in it
    last_at: datetime


def threads(plans: Sequence[CompanyPlan], now: datetime) -> Iterator[tuple[CompanyPlan, Thread]]:
    """One conversation per customer who has texts, in a fixed order (conversation ids are
    handed out here, so conversations and messages agree)."""
    conversation_id = 0
    for c in plans:
        if not c.messages:
            continue
        talkers = min(c.customers, c.messages)
        base, extra = divmod(c.messages, talkers)
        for k in range(talkers):
            conversation_id += 1
            last_at = now - timedelta(minutes=5 + (k * 37) % 100_000)
            yield c, Thread(conversation_id, k, base + (1 if k < extra else 0), last_at)


def conversation_rows(plans: Sequence[CompanyPlan], now: datetime) -> Iterator[tuple]:
    for c, thread in threads(plans, now):
        yield (
            thread.conversation_id,
            c.id,
            c.first_customer_id + thread.customer_index,
            customer_phone(c, thread.customer_index),
            None,
            naive(thread.last_at),
            naive(now),
        )


def message_rows(
    plans: Sequence[CompanyPlan], now: datetime, recipients: list[tuple]
) -> Iterator[tuple]:
    """Each conversation's texts, inbound and outbound alternating a few days apart; each
    inbound text's recipient is appended to `recipients`."""
    message_id = 0
    for c, thread in threads(plans, now):
        k = thread.customer_index
        poc = c.user_ids["office"][0]
        techs = c.user_ids["tech"]
        phone = customer_phone(c, k)
        job = c.latest_job.get(c.first_customer_id + k)
        routed_to = techs[k % len(techs)] if k % 10 == 0 else poc
        extra_json = json.dumps(
            {"media": [], "routing_rule": "point_of_contact", "routed_to": [routed_to]}
        )
        for i in range(thread.count):
            message_id += 1
            at = thread.last_at - timedelta(days=3) * (thread.count - 1 - i)
            sid = f"SM{message_id:032x}"
            if i % 2 == 0:
                # Every 20th conversation ends with a text nobody has read yet.
                unread = i == thread.count - 1 and k % 20 == 0
                read_at = None if unread else naive(at + timedelta(minutes=10))
                recipients.append((len(recipients) + 1, message_id, routed_to, read_at))
                yield (
                    message_id, c.id, thread.conversation_id, "in", "inbound", phone, c.number,
                    f"Hi, this is customer {k + 1}: is Tuesday still good? ({i})",
                    "[]", "received", sid, None, None, None, None, None, 0,
                    None, None, None, None,
                    "No job in progress. Point of Contact -> Oscar Office",
                    extra_json, read_at, naive(at), None, None, naive(at),
                )  # fmt: skip
            else:
                kind = OUTBOUND_KINDS[(i // 2) % len(OUTBOUND_KINDS)]
                yield (
                    message_id, c.id, thread.conversation_id, "out", kind, c.number, phone,
                    f"Hello from Bench Company {c.id}: your visit is confirmed. ({i})",
                    "[]", "delivered", sid, None, None, None,
                    job[0] if job and kind != "manual" else None,
                    poc if kind == "manual" else None, 1,
                    None, None, naive(at), None, None, "{}", None,
                    naive(at), naive(at + timedelta(seconds=1)),
                    naive(at + timedelta(seconds=3)), naive(at + timedelta(seconds=3)),
                )  # fmt: skip


# --- COPY --------------------------------------------------------------------------------

COLUMNS = {
    "companies": (
        "id", "name", "business_phone", "time_zone", "sender_identity",
        "finished_text_invoice_link", "escalation_minutes", "created_at",
    ),
    "users": (
        "id", "company_id", "name", "email", "password_hash", "role", "mobile_phone",
        "photo_token", "active", "session_version", "forward_texts", "created_at",
    ),
    "phone_numbers": (
        "id", "company_id", "e164", "twilio_sid", "locality", "region", "created_at",
    ),
    "messaging_registrations": (
        "id", "company_id", "kind", "status", "public_token", "details", "done_steps",
        "todo_steps", "approved_at", "created_at", "updated_at",
    ),
    "customers": (
        "id", "company_id", "name", "mobile_phone", "email", "address", "created_at",
    ),
    "jobs": (
        "id", "company_id", "customer_id", "number", "description", "notes", "address",
        "scheduled_start", "scheduled_end", "status", "on_my_way_at", "on_my_way_by_id",
        "eta_minutes", "started_at", "finished_at", "canceled_at", "created_at", "updated_at",
    ),
    "job_assignments": ("id", "job_id", "user_id", "created_at"),
    "conversations": (
        "id", "company_id", "customer_id", "phone", "assigned_user_id", "last_message_at",
        "created_at",
    ),
    "messages": (
        "id", "company_id", "conversation_id", "direction", "kind", "from_phone", "to_phone",
        "body", "media_urls", "status", "twilio_sid", "error_code", "error_message",
        "dedupe_key", "job_id", "author_id", "attempts", "next_attempt_at", "claimed_until",
        "last_attempt_at", "reconcile_since", "routing_reason", "extra", "read_at",
        "created_at", "sent_at", "delivered_at", "updated_at",
    ),
    "message_recipients": ("id", "message_id", "user_id", "read_at"),
}  # fmt: skip


def check_columns(metadata) -> None:
    """Fail loudly when a model gained a required column this seeder does not fill."""
    for name, columns in COLUMNS.items():
        table = metadata.tables[name]
        missing = [
            column.name
            for column in table.columns
            if not column.nullable
            and column.server_default is None
            and column.name not in columns
            and not column.primary_key
        ]
        unknown = [c for c in columns if c not in table.columns]
        if missing or unknown:
            raise SystemExit(
                f"bench/seed.py is out of date for table {name}: "
                f"required columns not filled {missing}, unknown columns {unknown}"
            )


def copy_rows(conn: psycopg.Connection, table: str, rows: Iterable[tuple]) -> int:
    started = time.monotonic()
    written = 0
    columns = ", ".join(COLUMNS[table])
    with conn.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            written += 1
    print(f"  {table:<20} {written:>9,} rows in {time.monotonic() - started:6.1f} s", flush=True)
    return written


def seed(url: str, plans: list[CompanyPlan], *, now: datetime) -> None:
    from app import create_app
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": database.sqlalchemy_url(url)})
    with app.app_context():
        check_columns(db.metadata)
        db.create_all()
        db.engine.dispose()

    password_hash = generate_password_hash(database.PASSWORD)
    with psycopg.connect(database.libpq_url(url)) as conn:
        if conn.execute("select exists (select 1 from companies)").fetchone()[0]:
            raise SystemExit("the database already holds data: use --recreate")
        copy_rows(conn, "companies", company_rows(plans, now))
        copy_rows(conn, "users", user_rows(plans, password_hash, now))
        conn.execute(
            "update companies c set poc_user_id = u.id from users u "
            "where u.company_id = c.id and u.role = 'office'"
        )
        copy_rows(conn, "phone_numbers", number_rows(plans, now))
        copy_rows(conn, "messaging_registrations", registration_rows(plans, now))
        copy_rows(conn, "customers", customer_rows(plans, now))
        copy_rows(conn, "jobs", job_rows(plans, now))
        copy_rows(conn, "job_assignments", assignment_rows(plans, now))
        copy_rows(conn, "conversations", conversation_rows(plans, now))
        recipients: list[tuple] = []
        copy_rows(conn, "messages", message_rows(plans, now, recipients))
        copy_rows(conn, "message_recipients", recipients)
        for table in COLUMNS:
            conn.execute(
                f"select setval(pg_get_serial_sequence('{table}', 'id'), "
                f"coalesce((select max(id) from {table}), 1))"
            )
        conn.commit()
    with psycopg.connect(database.libpq_url(url), autocommit=True) as conn:
        started = time.monotonic()
        conn.execute("vacuum analyze")
        print(f"  vacuum analyze{'':>22} in {time.monotonic() - started:6.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=database.default_url())
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--companies", type=int, default=200)
    parser.add_argument("--big-share", type=float, default=0.2, help="company 1's share")
    parser.add_argument("--big-techs", type=int, default=25, help="technicians of company 1")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every count")
    parser.add_argument("--recreate", action="store_true", help="drop the database first")
    args = parser.parse_args(argv)
    if args.companies < 1 or not 0 < args.big_share <= 1:
        parser.error("need at least one company and 0 < --big-share <= 1")

    database.create_database(args.database_url, recreate=args.recreate)
    plans = plan(args)
    now = datetime.now(UTC).replace(microsecond=0)
    print(f"Seeding {database.database_name(args.database_url)}:")
    started = time.monotonic()
    seed(args.database_url, plans, now=now)
    counted = database.counts(args.database_url)
    print(
        "Done in {:.0f} s: {}".format(
            time.monotonic() - started, ", ".join(f"{v:,} {k}" for k, v in counted.items())
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

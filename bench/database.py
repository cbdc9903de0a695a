"""The benchmark database: its URL in the forms SQLAlchemy and psycopg want, creating it,
and the few facts about the seeded data the benchmarks need.

Benchmarks only ever touch a database whose name starts with `bench_`, so a typo cannot
empty a development or test database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5433/bench_prosms"
# Every seeded user has this password (the benchmarks log in with it).
PASSWORD = "bench-password-2026"
BIG_COMPANY_OWNER = "owner1@bench.example"


def default_url() -> str:
    return os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)


def sqlalchemy_url(url: str) -> str:
    """postgresql+psycopg://... (what the app's DATABASE_URL handling produces too)."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    raise SystemExit(f"not a PostgreSQL URL: {url}")


def libpq_url(url: str) -> str:
    return "postgresql://" + sqlalchemy_url(url).removeprefix("postgresql+psycopg://")


def database_name(url: str) -> str:
    name = sa.make_url(sqlalchemy_url(url)).database or ""
    if not name.startswith("bench_"):
        raise SystemExit(f"refusing to use database {name!r}: benchmark databases are bench_*")
    return name


def admin_url(url: str) -> str:
    return libpq_url(
        sa.make_url(sqlalchemy_url(url))
        .set(database="postgres", drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def create_database(url: str, *, recreate: bool) -> None:
    name = database_name(url)
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if exists and recreate:
            conn.execute(f'drop database "{name}" with (force)')
            exists = None
        if not exists:
            conn.execute(f'create database "{name}"')


def drop_database(url: str) -> None:
    name = database_name(url)
    with psycopg.connect(admin_url(url), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@dataclass(frozen=True)
class SeededCompany:
    id: int
    number: str  # the company's custom number (E.164)
    owner_email: str
    office_email: str
    tech_emails: tuple[str, ...]
    customer_phones: tuple[str, ...]


def big_company(url: str, *, phones: int = 2000) -> SeededCompany:
    """Company 1, the large one the page benchmarks look at (see bench/seed.py)."""
    return company_facts(url, 1, phones=phones)


def company_facts(url: str, company_id: int, *, phones: int = 2000) -> SeededCompany:
    database_name(url)
    with psycopg.connect(libpq_url(url)) as conn:
        number = conn.execute(
            "select e164 from phone_numbers where company_id = %s", (company_id,)
        ).fetchone()
        if number is None:
            raise SystemExit("the benchmark database is not seeded: run bench/seed.py first")
        users = conn.execute(
            "select email, role from users where company_id = %s order by id", (company_id,)
        ).fetchall()
        customer_phones = [
            row[0]
            for row in conn.execute(
                "select mobile_phone from customers where company_id = %s order by id limit %s",
                (company_id, phones),
            )
        ]
    return SeededCompany(
        id=company_id,
        number=number[0],
        owner_email=next(email for email, role in users if role == "owner"),
        office_email=next(email for email, role in users if role == "office"),
        tech_emails=tuple(email for email, role in users if role == "tech"),
        customer_phones=tuple(customer_phones),
    )


def all_numbers(url: str) -> list[tuple[int, str]]:
    """(company id, custom number) of every seeded company."""
    with psycopg.connect(libpq_url(url)) as conn:
        return [
            (row[0], row[1])
            for row in conn.execute(
                "select company_id, e164 from phone_numbers order by company_id"
            )
        ]


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(libpq_url(url)) as conn:
        return {
            table: conn.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("companies", "customers", "jobs", "messages")
        }

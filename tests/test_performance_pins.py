"""Pins for what the benchmarks (bench/, docs/performance.md) rely on. Tests, not timings:

- each busy page runs the same number of SQL queries whether it has 5 rows or 60, more
  than any page shows at once (no query per row: an N+1 would make the count grow with
  the data);
- the indexes the inbound webhook, the status callbacks and the routing rule look rows up
  by exist in the models (the migration is generated from the models, and
  tests/test_migrations.py checks the two agree);
- on PostgreSQL, every SELECT the inbound webhook and a status callback run can be
  answered through an index (no sequential scan of a table that grows with the data).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
import sqlalchemy as sa
from flask import current_app
from twilio.request_validator import RequestValidator

from app.extensions import db
from app.models import (
    Company,
    Conversation,
    Customer,
    Direction,
    Job,
    JobStatus,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    Role,
    User,
    utcnow,
)
from app.services import billing
from app.services.job_queries import local_day_bounds
from app.services.routing import apply_routing
from app.services.texting import queue_text
from tests.fixtures.queries import recorded_statements
from tests.fixtures.sms import route_received

# --- counting queries --------------------------------------------------------------------


def queries_for(client, path: str) -> int:
    """SQL statements one GET of `path` runs (after a first request, which may set up
    things once, e.g. a company's billing settings)."""
    app = current_app._get_current_object()
    # A fresh app context per request gives the request a session of its own, with
    # nothing the test loaded in its identity map (which could hide a query per row).
    with app.app_context():
        first = client.get(path)
    assert first.status_code == 200, first.get_data(as_text=True)[:300]
    with app.app_context(), recorded_statements() as statements:
        response = client.get(path)
    assert response.status_code == 200
    return len(statements)


# 60 is past every list's limit (25 a page, 30 upcoming jobs, 50 conversations).
def assert_flat(client, path: str, add_rows: Callable[[int], object], *, small=5, big=60):
    """The query count of `path` is the same with `small` rows as with `big` rows."""
    add_rows(small)
    db.session.commit()
    with_small = queries_for(client, path)
    add_rows(big - small)
    db.session.commit()
    with_big = queries_for(client, path)
    assert with_big == with_small, (
        f"{path}: {with_small} queries with {small} rows but {with_big} with {big}: "
        "something is loaded once per row"
    )


# --- a company with people ---------------------------------------------------------------


@pytest.fixture
def company_office_techs(make):
    company = make.company("Pinned Plumbing")
    make.number(company, e164="+15126667000")
    office = make.user(company, Role.OFFICE, name="Olive Office")
    techs = [make.user(company, Role.TECH, name=f"Tech {i}") for i in range(4)]
    company.poc_user_id = office.id
    db.session.commit()
    return company, office, techs


def _today_noon(company: Company):
    start, _end = local_day_bounds(company.tz, utcnow())
    return start + timedelta(hours=12)


def _jobs_adder(make, company, techs, *, finished: bool = False) -> Callable[[int], list[Job]]:
    """Adds jobs today (or, with `finished`, finished jobs of past days)."""
    made: list[Job] = []

    def add(count: int) -> list[Job]:
        for _ in range(count):
            n = len(made)
            start = _today_noon(company) + timedelta(minutes=n)
            if finished:
                start -= timedelta(days=1 + n)
            job = make.job(
                company,
                customer=make.customer(company, phone=f"+1512777{n:04d}"),
                techs=list(dict.fromkeys([techs[n % len(techs)], techs[(n + 1) % len(techs)]])),
                start=start,
                description=f"Job {n}",
            )
            if finished:
                job.status = JobStatus.FINISHED
            made.append(job)
        return made

    return add


def test_jobs_board_queries_do_not_grow_with_rows(make, client, log_in, company_office_techs):
    company, _office, techs = company_office_techs
    log_in(client, company.owner)
    assert_flat(client, "/jobs?tab=today", _jobs_adder(make, company, techs))


def test_jobs_board_search_queries_do_not_grow_with_rows(
    make, client, log_in, company_office_techs
):
    company, _office, techs = company_office_techs
    log_in(client, company.owner)
    assert_flat(client, "/jobs?tab=today&q=Customer", _jobs_adder(make, company, techs))


@pytest.mark.parametrize(
    "path",
    [
        "/jobs?tab=finished",
        # An "Older" link: every finished job is older than this cursor.
        "/jobs?tab=finished&after=29990101T000000.000000-1",
        "/jobs?tab=finished&q=Customer",
        "/jobs?tab=finished&q=Customer&after=29990101T000000.000000-1",
    ],
)
def test_jobs_board_finished_tab_queries_do_not_grow_with_rows(
    make, client, log_in, company_office_techs, path
):
    company, _office, techs = company_office_techs
    log_in(client, company.owner)
    assert_flat(client, path, _jobs_adder(make, company, techs, finished=True))


def test_tech_page_queries_do_not_grow_with_rows(make, client, log_in, company_office_techs):
    company, _office, techs = company_office_techs
    log_in(client, techs[0])
    # Every job is techs[0]'s, so all of them are on that tech's day.
    assert_flat(client, "/tech", _jobs_adder(make, company, [techs[0]]))


def _conversations_adder(make, inbound, company) -> Callable[[int], None]:
    made = [0]

    def add(count: int) -> None:
        for _ in range(count):
            n = made[0]
            made[0] += 1
            phone = f"+1512888{n:04d}"
            if n % 3:  # a third are unknown numbers (no customer)
                make.customer(company, phone=phone, name=f"Customer {n}")
            message = inbound(company, phone, f"Question {n}")
            apply_routing(message=message)
            if n % 2:
                queue_text(
                    company=company, to_phone=phone, body=f"Answer {n}", kind=MessageKind.MANUAL
                )

    return add


def test_inbox_list_queries_do_not_grow_with_rows(
    make, inbound, client, log_in, company_office_techs
):
    company, _office, _techs = company_office_techs
    log_in(client, company.owner)
    assert_flat(client, "/inbox", _conversations_adder(make, inbound, company))


def test_inbox_mine_filter_queries_do_not_grow_with_rows(
    make, inbound, client, log_in, company_office_techs
):
    company, office, _techs = company_office_techs
    log_in(client, office)
    assert_flat(client, "/inbox?mine=1", _conversations_adder(make, inbound, company))


def _thread_adder(company, conversation, users) -> Callable[[int], None]:
    made = [0]

    def add(count: int) -> None:
        for _ in range(count):
            n = made[0]
            made[0] += 1
            inbound = n % 2 == 0
            message = Message(
                company_id=company.id,
                conversation_id=conversation.id,
                direction=Direction.IN if inbound else Direction.OUT,
                kind=MessageKind.INBOUND if inbound else MessageKind.MANUAL,
                from_phone=conversation.phone if inbound else "+15126667000",
                to_phone="+15126667000" if inbound else conversation.phone,
                body=f"Text {n}",
                status=MessageStatus.RECEIVED if inbound else MessageStatus.DELIVERED,
                twilio_sid=f"SM{company.id:08x}{n:024x}",
                author_id=None if inbound else users[n % len(users)].id,
                created_at=utcnow() - timedelta(minutes=1000 - n),
            )
            db.session.add(message)
            db.session.flush()
            if inbound:
                db.session.add(MessageRecipient(message_id=message.id, user_id=users[n % 4].id))
        conversation.last_message_at = utcnow()

    return add


def test_inbox_thread_queries_do_not_grow_with_rows(make, client, log_in, company_office_techs):
    company, office, techs = company_office_techs
    customer = make.customer(company, phone="+15129990000", name="Chatty Customer")
    conversation = Conversation(company_id=company.id, phone=customer.mobile_phone)
    conversation.customer_id = customer.id
    db.session.add(conversation)
    db.session.flush()
    log_in(client, company.owner)
    users = [office, *techs]
    assert_flat(client, f"/inbox/{conversation.id}", _thread_adder(company, conversation, users))


def test_tech_job_page_queries_do_not_grow_with_rows(make, client, log_in, company_office_techs):
    company, office, techs = company_office_techs
    customer = make.customer(company, phone="+15129990001", name="Chatty Customer")
    job = make.job(company, customer=customer, techs=[techs[0]], start=_today_noon(company))
    conversation = db.session.scalar(
        sa.select(Conversation).filter_by(company_id=company.id, phone=customer.mobile_phone)
    )
    if conversation is None:
        conversation = Conversation(
            company_id=company.id, phone=customer.mobile_phone, customer_id=customer.id
        )
        db.session.add(conversation)
        db.session.flush()
    log_in(client, techs[0])
    users = [techs[0], office, *techs[1:]]
    assert_flat(client, f"/tech/jobs/{job.id}", _thread_adder(company, conversation, users))


def _documents_adder(make, company, kind: str) -> Callable[[int], None]:
    made = [0]

    def add(count: int) -> None:
        for _ in range(count):
            n = made[0]
            made[0] += 1
            customer = make.customer(company, phone=f"+1512444{n:04d}", name=f"Billed {n}")
            create = billing.create_estimate if kind == "estimate" else billing.create_invoice
            document = create(company=company, customer=customer, title=f"Work {n}")
            billing.add_line_item(
                document=document,
                description="Labor",
                quantity_milli=1000 + n,
                unit_price_cents=9500,
            )

    return add


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_billing_lists_queries_do_not_grow_with_rows(
    make, client, log_in, company_office_techs, kind
):
    company, _office, _techs = company_office_techs
    log_in(client, company.owner)
    assert_flat(client, f"/{kind}s", _documents_adder(make, company, kind))


def _customers_adder(make, company) -> Callable[[int], None]:
    made = [0]

    def add(count: int) -> None:
        for _ in range(count):
            n = made[0]
            made[0] += 1
            make.customer(company, phone=f"+1512333{n:04d}", name=f"Smith {n}", address=f"{n} Elm")

    return add


# The booking, estimate and invoice forms pick the customer with a search (the customer
# picker) instead of listing every customer; opened for a customer, they load that one.
@pytest.mark.parametrize(
    "path",
    [
        "/jobs/new",
        "/estimates/new",
        "/invoices/new",
        "/jobs/new?customer_id={first}",
        "/estimates/new?customer_id={first}",
        "/customers/search?q=smith",
        "/customers/search?q=",
    ],
)
def test_new_job_and_document_forms_queries_do_not_grow_with_customers(
    make, client, log_in, company_office_techs, path
):
    company, _office, _techs = company_office_techs
    first = make.customer(company, phone="+15123339999", name="First Customer")
    db.session.commit()
    log_in(client, company.owner)
    assert_flat(client, path.format(first=first.id), _customers_adder(make, company))


# --- indexes -----------------------------------------------------------------------------

# (table, columns an index must start with, who needs it)
NEEDED_INDEXES = [
    ("inbound_receipts", ("twilio_sid",), "SMS webhook: a repeated delivery kept once"),
    ("inbound_receipts", ("next_attempt_at", "id"), "worker: the oldest due receipts"),
    ("phone_numbers", ("e164",), "inbound routing: the company by the number texted"),
    ("messages", ("twilio_sid",), "inbound webhook and status callbacks: a text by its SID"),
    ("customers", ("company_id", "mobile_phone"), "routing: the customer by From"),
    ("conversations", ("company_id", "phone"), "inbound webhook: the conversation"),
    ("conversations", ("company_id", "last_message_at"), "inbox: newest conversations"),
    ("jobs", ("customer_id", "status"), "routing: the customer's job in progress"),
    ("jobs", ("company_id", "scheduled_start"), "tech page: a day's jobs"),
    (
        "jobs",
        ("company_id", "status", "scheduled_start", "id"),
        "jobs board: a tab's page in order, its keyset paging and its capped count",
    ),
    ("customers", ("company_id", "name"), "jobs board search: any part of a name (trigram)"),
    ("customers", ("company_id", "mobile_phone"), "jobs board search: digits of a number"),
    ("jobs", ("company_id", "description"), "jobs board search: any part of a description"),
    ("job_assignments", ("job_id",), "routing: the techs on the job"),
    ("job_assignments", ("user_id",), "tech page: a tech's jobs"),
    ("message_recipients", ("message_id",), "routing: recipients of a text"),
    ("message_recipients", ("user_id",), "tech page: a tech's unread texts"),
    ("messages", ("conversation_id", "created_at"), "inbox: a thread, its last text"),
    ("messages", ("status", "next_attempt_at"), "outbox: due texts"),
    ("messages", ("job_id",), "job timeline"),
    ("messages", ("dedupe_key",), "queue_text: at most one text per key"),
    ("opt_outs", ("company_id", "phone"), "every send: has this number opted out"),
    ("unrouted_inbound", ("twilio_sid",), "inbound webhook: quarantine once per SID"),
    ("customers", ("company_id", "id"), "customer picker: a company's newest customers"),
    ("users", ("email",), "login"),
]


def _leading_column_sets(table: sa.Table) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for index in table.indexes:
        found.append(tuple(c.name for c in index.columns))
    for constraint in table.constraints:
        if isinstance(constraint, sa.UniqueConstraint | sa.PrimaryKeyConstraint):
            found.append(tuple(c.name for c in constraint.columns))
    for column in table.columns:
        if column.unique or column.index:
            found.append((column.name,))
    return found


@pytest.mark.parametrize(("table", "columns", "why"), NEEDED_INDEXES)
def test_lookup_index_exists_in_the_models(table, columns, why):
    candidates = _leading_column_sets(db.metadata.tables[table])
    assert any(found[: len(columns)] == columns for found in candidates), (
        f"{table}{columns} needs an index ({why}); indexes found: {candidates}"
    )


@pytest.mark.parametrize(
    ("table", "index"),
    [
        ("customers", "ix_customers_name_trgm"),
        ("customers", "ix_customers_phone_trgm"),
        ("jobs", "ix_jobs_description_trgm"),
    ],
)
def test_search_indexes_are_trigram_indexes_on_postgresql(table, index):
    # A B-tree cannot serve ILIKE '%...%'; a GIN index with pg_trgm's operator class can,
    # and with the company id in it (btree_gin) it finds one company's matches.
    [found] = [i for i in db.metadata.tables[table].indexes if i.name == index]
    company_id, column = found.columns
    assert company_id.name == "company_id"
    assert found.dialect_options["postgresql"]["using"] == "gin"
    assert found.dialect_options["postgresql"]["ops"] == {column.name: "gin_trgm_ops"}


def test_twilio_sids_are_unique():
    # A unique index, not only an index: it is what stores a retried webhook once.
    assert db.metadata.tables["messages"].c.twilio_sid.unique
    assert db.metadata.tables["inbound_receipts"].c.twilio_sid.unique


# --- the webhook path uses indexes (PostgreSQL) ------------------------------------------

GROWING_TABLES = (
    "messages",
    "customers",
    "conversations",
    "jobs",
    "job_assignments",
    "message_recipients",
    "opt_outs",
    "phone_numbers",
    "unrouted_inbound",
)


def _signed_post(app, client, path: str, form: dict[str, str]):
    url = app.config["PUBLIC_BASE_URL"] + path
    signature = RequestValidator(app.config["TWILIO_AUTH_TOKEN"]).compute_signature(url, form)
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def _full_scans(plan: dict) -> list[str]:
    """Scans in an EXPLAIN (FORMAT JSON) plan that read a growing table from end to end:
    a sequential scan, or an index scan without an index condition."""
    found = []
    table = plan.get("Relation Name")
    if table in GROWING_TABLES:
        kind = plan["Node Type"]
        if kind == "Seq Scan":
            found.append(f"Seq Scan on {table}")
        elif kind in ("Index Scan", "Index Only Scan") and "Index Cond" not in plan:
            found.append(f"full {kind} on {table} using {plan.get('Index Name')}")
    for child in plan.get("Plans", ()):
        found.extend(_full_scans(child))
    return found


def _sequential_scans(statements: list[tuple[str, object]]) -> list[str]:
    problems = []
    with db.engine.connect() as conn:
        # Tiny test tables would make a scan the cheapest plan: ask for an index wherever
        # one can serve, and see whether one can. Hash and merge joins read their inner
        # side whole, which on tiny tables is as cheap as a lookup, so the choice between
        # them and an indexed nested loop was a coin toss: ask for the lookup too.
        conn.exec_driver_sql("SET enable_seqscan = off")
        conn.exec_driver_sql("SET enable_hashjoin = off")
        conn.exec_driver_sql("SET enable_mergejoin = off")
        for statement, params in statements:
            if not statement.lstrip().upper().startswith(("SELECT", "WITH", "UPDATE")):
                continue
            [[plan]] = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params)
            for scan in _full_scans(plan[0]["Plan"]):
                problems.append(f"{scan}: {' '.join(statement.split())[:300]}")
        conn.rollback()
    return problems


@pytest.mark.postgres
def test_inbound_webhook_and_status_callback_lookups_use_indexes(
    truncated_tables, app, client, make, company_office_techs
):
    company, _office, techs = company_office_techs
    customer = make.customer(company, phone="+15125550188", name="Indexed Customer")
    job = make.job(company, customer=customer, techs=techs[:2])
    job.status = "on_my_way"
    job.on_my_way_at = utcnow()
    outbound = queue_text(
        company=company, to_phone=customer.mobile_phone, body="On the way", kind=MessageKind.MANUAL
    )
    outbound.twilio_sid = "SM" + "e" * 32
    outbound.status = MessageStatus.QUEUED
    db.session.commit()

    inbound_form = {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": app.config["TWILIO_ACCOUNT_SID"],
        "From": customer.mobile_phone,
        "To": "+15126667000",
        "Body": "Gate code is 1234",
        "NumMedia": "0",
    }
    status_form = {
        "MessageSid": outbound.twilio_sid,
        "MessageStatus": "delivered",
        "From": "+15126667000",
        "To": customer.mobile_phone,
    }
    unknown_number_form = {**inbound_form, "MessageSid": "SM" + "b" * 32, "To": "+15126667999"}
    with recorded_statements(with_params=True) as statements:
        assert _signed_post(app, client, "/webhooks/twilio/sms", inbound_form).status_code == 200
        assert _signed_post(app, client, "/webhooks/twilio/status", status_form).status_code == 204
        response = _signed_post(app, client, "/webhooks/twilio/sms", unknown_number_form)
        assert response.status_code == 200
        # ... and the worker's half: storing and routing what the SMS webhook kept.
        assert route_received() == 2
    assert statements, "the webhooks ran no SQL?"
    problems = _sequential_scans(statements)
    assert not problems, "sequential scans in the webhook path:\n\n" + "\n\n".join(problems)
    stored = db.session.scalar(sa.select(Message).filter_by(twilio_sid=inbound_form["MessageSid"]))
    assert stored is not None
    assert {r.user_id for r in stored.recipients} == {t.id for t in techs[:2]}
    assert db.session.get(User, techs[0].id) is not None


@pytest.mark.postgres
def test_outbox_worker_periodic_queries_use_indexes(
    truncated_tables, inbound, company_office_techs
):
    """What every `flask outbox work` runs over and over (claiming due texts, looking for
    unread texts to escalate) never scans the whole messages table."""
    from app.services import outbox
    from app.services.escalation import escalate_unread

    company, _office, _techs = company_office_techs
    company.escalation_minutes = 15
    message = inbound(company, "+15125550177", "Anyone there?")
    message.created_at = utcnow() - timedelta(minutes=30)
    queue_text(company=company, to_phone="+15125550177", body="Yes!", kind=MessageKind.MANUAL)
    db.session.commit()
    with recorded_statements(with_params=True) as statements:
        escalate_unread(now=utcnow())
        claimed = outbox.claim_due(
            now=utcnow() + timedelta(seconds=5), limit=4, lease=timedelta(minutes=2)
        )
    db.session.rollback()
    assert len(claimed) == 1
    problems = _sequential_scans(statements)
    assert not problems, "sequential scans in the worker's loop:\n\n" + "\n\n".join(problems)


@pytest.mark.postgres
def test_customer_picker_reads_only_the_companys_customers(
    truncated_tables, client, log_in, make, company_office_techs
):
    """The picker's search scans one company's customers at most (through the company_id
    index), never the whole table; the forms read no list of customers at all."""
    company, _office, _techs = company_office_techs
    customer = make.customer(company, phone="+15125550166", name="Searched Customer")
    make.customer(make.company(), phone="+15125550167", name="Searched Elsewhere")
    db.session.commit()
    log_in(client, company.owner)
    # Not the empty box (newest customers, ORDER BY id DESC LIMIT 10): on tiny tables
    # PostgreSQL tosses a coin between the primary key backwards and (company_id, id);
    # that index is pinned in NEEDED_INDEXES instead.
    paths = [
        "/customers/search?q=searched",
        "/customers/search?q=(512) 555-01",
        "/customers/search?q=searched customer 12",
        f"/jobs/new?customer_id={customer.id}",
        "/estimates/new",
    ]
    with recorded_statements(with_params=True) as statements:
        for path in paths:
            assert client.get(path).status_code == 200, path
    problems = _sequential_scans(statements)
    assert not problems, "sequential scans in the customer picker:\n\n" + "\n\n".join(problems)


def _index_names(plan: dict) -> set[str]:
    names = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", ()):
        names |= _index_names(child)
    return names


@pytest.mark.postgres
def test_customer_picker_finds_a_word_through_the_trigram_index(
    client, log_in, make, company_office_techs
):
    """A word typed into the picker reads its matches through ix_customers_search_trgm, not
    every customer of the company (what it cost before the index: 56-72 ms p95 at 20,000)."""
    company, _office, _techs = company_office_techs
    make.customer(company, phone="+15125550166", name="Wilhelmina Searched")
    # The shape of a shared database: this company holds a fifth of the customers.
    others = make.company()
    db.session.execute(
        sa.insert(Customer),
        [
            {
                "company_id": company.id if n % 5 == 0 else others.id,
                "name": f"Customer {n}",
                "mobile_phone": f"+151266{n:05d}",
            }
            for n in range(10_000)
        ],
    )
    db.session.commit()
    # As autovacuum would have by now: rows inserted after a GIN index was built wait in
    # its pending list, which PostgreSQL prices as a full read.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE customers")
    log_in(client, company.owner)
    with recorded_statements(with_params=True) as statements:
        response = client.get("/customers/search?q=wilhelmina")
    assert response.status_code == 200 and "Wilhelmina Searched" in response.text
    [(statement, params)] = [s for s in statements if "FROM customers" in s[0]]
    with db.engine.connect() as conn:
        [[plan]] = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params)
    assert "ix_customers_search_trgm" in _index_names(plan[0]["Plan"]), (statement, params, plan)

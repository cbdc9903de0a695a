"""Customer import from a CSV: upload, map the columns, a dry run, the import itself (in
batches, inline for small files and in the worker for large ones), its undo within 24
hours, and the export of a company's customers.

Each row of the file becomes one of:
- new: a customer is created;
- merge: it is the customer who already has this mobile number (or, failing that, this
  email): fields the customer lacks are filled in, other phones and tags they lack are
  added, nothing they have is overwritten;
- skipped, with the reason: no name, no usable mobile number (missing, invalid, or a kind
  of number that cannot take texts), or the same person as an earlier row of the file.

The dry run and the import decide with the same code (`_plan_batch`), so what the dry run
shows is what the import does, unless customers change in between.

An import never texts anyone: it writes customers and nothing else. Consent is not
recorded here: `customers_imported` is sent when an import finishes (in its transaction),
and `imported_customer_ids` gives the customers it created and merged into. The undo is
app.services.customer_import_undo; a row's cells become a customer in
app.services.customer_files.row_values.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from blinker import Namespace
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    Company,
    Customer,
    CustomerImport,
    CustomerImportChange,
    ImportStatus,
    User,
    utcnow,
)
from app.services.consent import record_imported_consent
from app.services.customer_export import neutralise
from app.services.customer_files import (
    RowValues,
    check_mapping,
    data_rows,
    read_csv,
    row_values,
    suggest_mapping,
)
from app.services.customers import MAX_OTHER_PHONES, added_tags
from app.services.errors import Conflict
from app.services.phones import format_other_phone, format_phone

log = logging.getLogger(__name__)

UNDO_WINDOW = timedelta(hours=24)
BATCH_SIZE = 1000
# A worker holds a running import this long past its last batch.
LEASE = timedelta(minutes=2)
# The worker writes batches for this long per call, then gets back to sending texts.
WORKER_BUDGET_SECONDS = 2.0
# An uploaded file nobody imported is discarded after this; the worker looks hourly.
DRAFT_KEPT = timedelta(hours=24)
CLEANUP_INTERVAL = timedelta(hours=1)
_next_cleanup: datetime | None = None
REVIEW_ROWS = 20
REVIEW_PROBLEMS = 100

_signals = Namespace()
# Sent with the CustomerImport as sender when an import has finished, before its last
# commit: a receiver's writes land in the same transaction.
customers_imported = _signals.signal("customers-imported")


class Action:
    NEW = "new"
    MERGE = "merge"
    SKIP = "skip"
    LABELS = {NEW: "New", MERGE: "Merge", SKIP: "Skipped"}


# -- upload and mapping ----------------------------------------------------------------------


def remembered_mapping(*, company: Company) -> dict[str, str]:
    """Header name -> field, as this company last mapped its columns."""
    last = db.session.scalar(
        sa.select(CustomerImport)
        .where(
            CustomerImport.company_id == company.id,
            CustomerImport.status != ImportStatus.UPLOADED,
        )
        .order_by(CustomerImport.id.desc())
        .limit(1)
    )
    if last is None:
        return {}
    pairs = zip(last.header, last.mapping, strict=False)
    return {name: chosen for name, chosen in pairs if name}


def start_import(*, company: Company, actor: User, filename: str, data: bytes) -> CustomerImport:
    """Check the uploaded file and keep it, with its columns mapped as well as we can guess.
    Nothing about customers is written."""
    shape = read_csv(data)
    customer_import = CustomerImport(
        company_id=company.id,
        created_by_id=actor.id,
        filename=(filename or "customers.csv")[:255],
        size_bytes=len(data),
        encoding=shape.encoding,
        delimiter=shape.delimiter,
        header=shape.header,
        mapping=suggest_mapping(shape.header, remembered=remembered_mapping(company=company)),
        row_count=shape.row_count,
        content=data,
        status=ImportStatus.UPLOADED,
    )
    db.session.add(customer_import)
    db.session.flush()
    return customer_import


def _rows(customer_import: CustomerImport) -> Iterator[tuple[int, list[str]]]:
    if customer_import.content is None:
        raise Conflict("This import's file is no longer kept: upload it again.")
    return data_rows(
        customer_import.content,
        encoding=customer_import.encoding,
        delimiter=customer_import.delimiter,
    )


def preview_rows(*, customer_import: CustomerImport, limit: int = 5) -> list[list[str]]:
    """The first rows, one cell per column of the header."""
    width = len(customer_import.header)
    rows = []
    for _number, cells in _rows(customer_import):
        rows.append([*cells[:width], *[""] * (width - len(cells))])
        if len(rows) >= limit:
            break
    return rows


# -- deciding, for a batch of rows -----------------------------------------------------------


@dataclass
class RowPlan:
    row: int
    action: str
    values: RowValues
    cells: list[str]
    reason: str | None = None
    customer: Customer | None = None  # the one merged into
    # A merge's changes: field -> (before, after).
    changes: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        if self.action == Action.MERGE and self.customer is not None:
            changed = ", ".join(sorted(CHANGE_LABELS.get(k, k) for k in self.changes))
            detail = f"Into {self.customer.name} ({self.reason}); adds: {changed or 'nothing new'}"
        else:
            detail = self.reason or ""
        values = self.values
        extra = []
        if values.company_name:
            extra.append(values.company_name)
        if values.other_phones:
            extra.append("Other phones: " + ", ".join(map(format_other_phone, values.other_phones)))
        if values.tags:
            extra.append("Tags: " + ", ".join(values.tags))
        return {
            "row": self.row,
            "action": self.action,
            "name": values.name,
            "mobile": format_phone(values.mobile) if values.mobile else "",
            "detail": detail,
            "extra": " · ".join(extra),
        }


CHANGE_LABELS = {"company_name": "company name", "other_phones": "other phones"}


@dataclass
class _Seen:
    """Who the rows so far became, by mobile and email: (row, customer id or None for a
    customer still to be created)."""

    phones: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    emails: dict[str, tuple[int, int | None]] = field(default_factory=dict)
    customers: dict[int, int] = field(default_factory=dict)  # customer id -> row


def _merge_changes(customer: Customer, values: RowValues) -> dict[str, tuple[Any, Any]]:
    """Fill in what the customer lacks; never overwrite what they have."""
    changes: dict[str, tuple[Any, Any]] = {}
    if values.email and not customer.email:
        changes["email"] = (customer.email, values.email)
    if values.address and not customer.address:
        changes["address"] = (customer.address, values.address)
    if values.company_name and not customer.company_name:
        changes["company_name"] = (customer.company_name, values.company_name)
    notes = values.notes
    # Lists grow by what they lack (new lists, never changed in place: see JSONList).
    known = customer.other_phones or []
    phones = [p for p in values.other_phones if p not in known and p != customer.mobile_phone]
    room = max(MAX_OTHER_PHONES - len(known), 0)
    if phones[:room]:
        changes["other_phones"] = (known, [*known, *phones[:room]])
    if phones[room:]:
        notes = "\n".join(filter(None, (notes, "Other phones: " + ", ".join(phones[room:]))))
    tags = added_tags(customer.tags or [], values.tags)
    if len(tags) > len(customer.tags or []):
        changes["tags"] = (customer.tags or [], tags)
    if notes and notes not in (customer.notes or ""):
        combined = f"{customer.notes}\n{notes}" if customer.notes else notes
        changes["notes"] = (customer.notes, combined)
    return changes


def _plan_batch(
    *,
    company_id: int,
    rows: list[tuple[int, list[str]]],
    mapping: list[str],
    seen: _Seen,
    import_id: int | None,
) -> list[RowPlan]:
    values = [(number, cells, row_values(cells, mapping)) for number, cells in rows]
    phones = {v.mobile for _, _, v in values if v.mobile and not v.problem}
    emails = {v.email.lower() for _, _, v in values if v.email and not v.problem}
    by_phone: dict[str, Customer] = {}
    by_email: dict[str, Customer] = {}
    if phones or emails:
        # Two queries, each on its index: an OR of the two makes PostgreSQL scan the
        # company's customers for every batch.
        postgres = db.session.get_bind().dialect.name == "postgresql"
        if postgres:
            # The lookups must read the unique (company_id, mobile_phone) btree and the
            # email index. PostgreSQL misjudges the customer search's trigram GIN index
            # (which also answers "=") as cheaper for 1,000 numbers: 4-6 s a batch at
            # 50,000 customers instead of milliseconds. A GIN index is only read through
            # a bitmap scan, so no bitmap scans here; and no generic plan kept from when
            # the table was nearly empty (psycopg prepares a statement run five times).
            db.session.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
            db.session.execute(sa.text("SET LOCAL plan_cache_mode = force_custom_plan"))
        scoped = sa.select(Customer).where(Customer.company_id == company_id)
        found = set(db.session.scalars(scoped.where(Customer.mobile_phone.in_(phones))))
        if emails:
            found.update(
                db.session.scalars(scoped.where(sa.func.lower(Customer.email).in_(emails)))
            )
        if postgres:
            db.session.execute(sa.text("SET LOCAL enable_bitmapscan TO DEFAULT"))
            db.session.execute(sa.text("SET LOCAL plan_cache_mode TO DEFAULT"))
        matches = sorted(found, key=lambda customer: customer.id)
        for customer in matches:
            by_phone.setdefault(customer.mobile_phone, customer)
            if customer.email:
                by_email.setdefault(customer.email.lower(), customer)
    # Customers an earlier call of this same import created or merged into: a row that
    # matches one is a duplicate inside the file.
    earlier: dict[int, int] = {}
    if import_id is not None and (by_phone or by_email):
        ids = {c.id for c in (*by_phone.values(), *by_email.values())}
        earlier = dict(
            db.session.execute(
                sa.select(CustomerImportChange.customer_id, CustomerImportChange.row_number).where(
                    CustomerImportChange.import_id == import_id,
                    CustomerImportChange.customer_id.in_(ids),
                )
            ).all()
        )

    plans = []
    for number, cells, row in values:
        plan = RowPlan(row=number, action=Action.SKIP, values=row, cells=cells)
        plans.append(plan)
        if row.problem:
            plan.reason = row.problem
            continue
        email = row.email.lower() if row.email else None
        assert row.mobile is not None
        duplicate = seen.phones.get(row.mobile) or (seen.emails.get(email) if email else None)
        if duplicate is not None:
            what = "mobile" if row.mobile in seen.phones else "email"
            plan.reason = f"Same {what} as row {duplicate[0]}."
            continue
        customer, matched_by = by_phone.get(row.mobile), "same mobile"
        if customer is None and email:
            customer, matched_by = by_email.get(email), "same email"
        if customer is not None and (customer.id in earlier or customer.id in seen.customers):
            first = earlier.get(customer.id) or seen.customers[customer.id]
            plan.reason = f"Same person as row {first} ({matched_by})."
            continue
        target = customer.id if customer is not None else None
        seen.phones[row.mobile] = (number, target)
        if email:
            seen.emails[email] = (number, target)
        if customer is None:
            plan.action = Action.NEW
            plan.reason = "New customer."
            continue
        seen.customers[customer.id] = number
        plan.action, plan.customer, plan.reason = Action.MERGE, customer, matched_by
        plan.changes = _merge_changes(customer, row)
    return plans


def _batches(
    rows: Iterator[tuple[int, list[str]]], size: int
) -> Iterator[list[tuple[int, list[str]]]]:
    batch: list[tuple[int, list[str]]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def plan_import(*, customer_import: CustomerImport) -> Iterator[RowPlan]:
    """What the import would do with every row, now. Writes nothing."""
    seen = _Seen()
    for batch in _batches(_rows(customer_import), BATCH_SIZE):
        yield from _plan_batch(
            company_id=customer_import.company_id,
            rows=batch,
            mapping=customer_import.mapping,
            seen=seen,
            import_id=None,
        )


# -- the dry run -----------------------------------------------------------------------------


def review_import(*, customer_import: CustomerImport, mapping: list[str]) -> CustomerImport:
    """Keep the mapping and work out, without writing any customer, what would happen."""
    if customer_import.status == ImportStatus.EXPIRED:
        raise Conflict("This file is no longer kept: upload it again.")
    if customer_import.status not in ImportStatus.DRAFTS:
        raise Conflict("This import has already been confirmed.")
    customer_import.mapping = check_mapping(mapping, columns=len(customer_import.header))
    counts = {Action.NEW: 0, Action.MERGE: 0, Action.SKIP: 0}
    first_rows, problems = [], []
    for plan in plan_import(customer_import=customer_import):
        counts[plan.action] += 1
        if len(first_rows) < REVIEW_ROWS:
            first_rows.append(plan.describe())
        if plan.action == Action.SKIP and len(problems) < REVIEW_PROBLEMS:
            problems.append(plan.describe())
    customer_import.planned_new = counts[Action.NEW]
    customer_import.planned_merged = counts[Action.MERGE]
    customer_import.planned_skipped = counts[Action.SKIP]
    customer_import.review = {"rows": first_rows, "problems": problems}
    customer_import.status = ImportStatus.REVIEWED
    db.session.flush()
    return customer_import


def problems_csv(*, customer_import: CustomerImport) -> Iterator[str]:
    """The rows that would be skipped, as they are in the file, with the row number and the
    reason in front: fix them in the spreadsheet and import that file again."""
    width = len(customer_import.header)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Row", "Problem", *customer_import.header])
    yield "\ufeff" + _flush(out)
    for plan in plan_import(customer_import=customer_import):
        if plan.action == Action.SKIP:
            cells = [*plan.cells[:width], *[""] * (width - len(plan.cells))]
            writer.writerow([plan.row, plan.reason, *(neutralise(c) for c in cells)])
            yield _flush(out)


def _flush(out: io.StringIO) -> str:
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text


# -- the import ------------------------------------------------------------------------------


def confirm_import(
    *, customer_import: CustomerImport, actor: User, now: datetime, inline_row_limit: int
) -> CustomerImport:
    """Start the import the person checked. Up to `inline_row_limit` rows it is done now,
    in the caller's transaction; a larger file is left to the worker (run_queued_imports)."""
    if customer_import.status != ImportStatus.REVIEWED:
        raise Conflict("Check the dry run first: this import is not ready to run.")
    customer_import.status = ImportStatus.QUEUED
    customer_import.confirmed_by_id = actor.id
    customer_import.confirmed_at = now
    if customer_import.row_count <= inline_row_limit:
        customer_import.status = ImportStatus.RUNNING
        _run(customer_import, now=now, deadline=None, commit=False)
    db.session.flush()
    return customer_import


# PostgreSQL takes a batch as one array per column, unnested: one short statement with six
# parameters instead of a VALUES list of thousands (which psycopg has to scan and convert,
# the slowest part of the import before this).
# The lists go as their JSON text, cast to JSONB by PostgreSQL.
_PG_INSERT_CUSTOMERS = sa.text(
    "INSERT INTO customers (company_id, name, mobile_phone, email, address, notes, "
    "company_name, other_phones, tags, created_at) "
    "SELECT :company_id, t.name, t.mobile_phone, t.email, t.address, t.notes, "
    "t.company_name, CAST(t.other_phones AS jsonb), CAST(t.tags AS jsonb), :created_at "
    "FROM unnest(CAST(:names AS text[]), CAST(:phones AS text[]), CAST(:emails AS text[]), "
    "CAST(:addresses AS text[]), CAST(:notes AS text[]), CAST(:company_names AS text[]), "
    "CAST(:other_phones AS text[]), CAST(:tags AS text[])) "
    "AS t(name, mobile_phone, email, address, notes, company_name, other_phones, tags) "
    "RETURNING id, mobile_phone"
)
_PG_INSERT_CREATED = sa.text(
    "INSERT INTO customer_import_changes (import_id, customer_id, row_number, created) "
    "SELECT :import_id, t.customer_id, t.row_number, true "
    "FROM unnest(CAST(:customer_ids AS integer[]), CAST(:rows AS integer[])) "
    "AS t(customer_id, row_number)"
)


def _insert_new(customer_import: CustomerImport, new: list[RowPlan]) -> dict[str, int]:
    """Create the batch's new customers; their ids by mobile number (unique per company)."""
    if db.session.get_bind().dialect.name == "postgresql":
        returned = db.session.execute(
            _PG_INSERT_CUSTOMERS,
            {
                "company_id": customer_import.company_id,
                # The column keeps naive UTC (UTCDateTime).
                "created_at": utcnow().replace(tzinfo=None),
                "names": [plan.values.name for plan in new],
                "phones": [plan.values.mobile for plan in new],
                "emails": [plan.values.email for plan in new],
                "addresses": [plan.values.address for plan in new],
                "notes": [plan.values.notes for plan in new],
                "company_names": [plan.values.company_name for plan in new],
                "other_phones": [json.dumps(plan.values.other_phones) for plan in new],
                "tags": [json.dumps(plan.values.tags) for plan in new],
            },
        ).all()
        ids = {row.mobile_phone: row.id for row in returned}
        db.session.execute(
            _PG_INSERT_CREATED,
            {
                "import_id": customer_import.id,
                "customer_ids": [ids[plan.values.mobile] for plan in new],
                "rows": [plan.row for plan in new],
            },
        )
        return ids
    # Elsewhere (SQLite) an executemany. RETURNING is matched by the mobile number, not
    # by row order: asking for the order makes SQLAlchemy insert one row per statement.
    table = Customer.__table__
    returned = db.session.execute(
        sa.insert(table).returning(table.c.id, table.c.mobile_phone),
        [
            {
                "company_id": customer_import.company_id,
                "name": plan.values.name,
                "mobile_phone": plan.values.mobile,
                "email": plan.values.email,
                "address": plan.values.address,
                "notes": plan.values.notes,
                "company_name": plan.values.company_name,
                "other_phones": plan.values.other_phones,
                "tags": plan.values.tags,
            }
            for plan in new
        ],
    ).all()
    ids = {row.mobile_phone: row.id for row in returned}
    db.session.execute(
        sa.insert(CustomerImportChange.__table__),
        [
            {
                "import_id": customer_import.id,
                "customer_id": ids[plan.values.mobile],
                "row_number": plan.row,
                "created": True,
                "previous": None,
            }
            for plan in new
        ],
    )
    return ids


def _write_batch(customer_import: CustomerImport, plans: list[RowPlan]) -> None:
    new = [plan for plan in plans if plan.action == Action.NEW]
    if new:
        _insert_new(customer_import, new)
    changes: list[dict[str, Any]] = []
    for plan in plans:
        if plan.action != Action.MERGE or plan.customer is None:
            continue
        for key, (_before, after) in plan.changes.items():
            setattr(plan.customer, key, after)
        changes.append(
            {
                "import_id": customer_import.id,
                "customer_id": plan.customer.id,
                "row_number": plan.row,
                "created": False,
                "previous": {key: list(pair) for key, pair in plan.changes.items()},
            }
        )
    if changes:
        db.session.execute(sa.insert(CustomerImportChange.__table__), changes)
    counts = {action: sum(p.action == action for p in plans) for action in Action.LABELS}
    customer_import.created_count += counts[Action.NEW]
    customer_import.merged_count += counts[Action.MERGE]
    customer_import.skipped_count += counts[Action.SKIP]
    customer_import.rows_done += len(plans)


# The rows of the import this worker process is writing, kept between its calls so a
# 50,000-row file is not read again from the top for every few batches. Only a saving:
# where to carry on is always the database's rows_done, whichever process asks.
_parsed: dict[tuple[int, datetime], list[tuple[int, list[str]]]] = {}


def _remaining_rows(customer_import: CustomerImport) -> Iterator[tuple[int, list[str]]]:
    # Keyed by id and upload time: SQLite may give a deleted import's id to a new one.
    key = (customer_import.id, customer_import.created_at)
    rows = _parsed.get(key)
    if rows is None:
        _parsed.clear()
        rows = _parsed[key] = list(_rows(customer_import))
    return iter(rows[customer_import.rows_done :])


def _run(
    customer_import: CustomerImport, *, now: datetime, deadline: float | None, commit: bool
) -> bool:
    """Write batches from where the import stands until the end of the file or the deadline
    (time.monotonic()); with `commit`, each batch commits with its progress. Returns whether
    the import is finished."""
    rows = _remaining_rows(customer_import)
    seen = _Seen()
    for batch in _batches(rows, BATCH_SIZE):
        for attempt in range(3):
            try:
                with db.session.begin_nested():
                    plans = _plan_batch(
                        company_id=customer_import.company_id,
                        rows=batch,
                        mapping=customer_import.mapping,
                        seen=seen,
                        import_id=customer_import.id,
                    )
                    _write_batch(customer_import, plans)
                break
            except IntegrityError:
                # Someone added a customer with one of these numbers meanwhile: decide
                # the batch again, now that they exist.
                if attempt == 2:
                    raise
                seen = _Seen()
        if commit:
            customer_import.lease_until = now + LEASE
            db.session.commit()
        unfinished = customer_import.rows_done < customer_import.row_count
        if deadline is not None and time.monotonic() >= deadline and unfinished:
            # Time is up: let go, so the next round of any worker carries on at once.
            customer_import.lease_until = None
            if commit:
                db.session.commit()
            return False
    _parsed.clear()
    _finish(customer_import, now=now)
    return True


def _finish(customer_import: CustomerImport, *, now: datetime) -> None:
    customer_import.status = ImportStatus.DONE
    customer_import.finished_at = now
    customer_import.undo_until = now + UNDO_WINDOW
    customer_import.lease_until = None
    customer_import.content = None  # the customers are in; the file is not kept
    db.session.flush()
    imported = imported_customer_ids(customer_import=customer_import)
    # Nobody confirmed these customers agreed to texts: the record says so, for an auditor.
    record_imported_consent(
        company_id=customer_import.company_id,
        created_ids=imported.created,
        merged_ids=imported.merged,
        actor_id=customer_import.confirmed_by_id,
        at=now,
    )
    customers_imported.send(customer_import)
    log.info(
        "customer import %s (company %s, confirmed by user %s at %s): %s created, "
        "%s merged, %s skipped",
        customer_import.id,
        customer_import.company_id,
        customer_import.confirmed_by_id,
        customer_import.confirmed_at,
        customer_import.created_count,
        customer_import.merged_count,
        customer_import.skipped_count,
    )


def forget_stale_drafts(*, now: datetime) -> int:
    """Files uploaded and never imported are not kept past DRAFT_KEPT. Returns how many."""
    return db.session.execute(
        sa.update(CustomerImport)
        .where(
            CustomerImport.status.in_(ImportStatus.DRAFTS),
            CustomerImport.created_at < now - DRAFT_KEPT,
        )
        .values(status=ImportStatus.EXPIRED, content=None)
        .execution_options(synchronize_session=False)
    ).rowcount


def run_queued_imports(*, now: datetime, budget_seconds: float = WORKER_BUDGET_SECONDS) -> int:
    """The worker's half: take the oldest confirmed import no other worker holds, write its
    batches for up to `budget_seconds`, committing each. Returns how many rows were read.

    Several workers share the queue: an import is taken by a conditional UPDATE of its
    lease, so one worker writes it at a time. The lease is let go when the time is up, so
    the next call (of any worker) carries on at once; one left behind by a worker that
    stopped mid-call is taken again when its lease expires, from the last committed batch."""
    global _next_cleanup
    if _next_cleanup is None or now >= _next_cleanup:
        _next_cleanup = now + CLEANUP_INTERVAL
        forget_stale_drafts(now=now)
        db.session.commit()
    candidate = db.session.scalar(
        sa.select(CustomerImport.id)
        .where(
            CustomerImport.status.in_(ImportStatus.PENDING),
            sa.or_(CustomerImport.lease_until.is_(None), CustomerImport.lease_until < now),
        )
        .order_by(CustomerImport.id)
        .limit(1)
    )
    if candidate is None:
        db.session.rollback()
        return 0
    taken = db.session.execute(
        sa.update(CustomerImport)
        .where(
            CustomerImport.id == candidate,
            CustomerImport.status.in_(ImportStatus.PENDING),
            sa.or_(CustomerImport.lease_until.is_(None), CustomerImport.lease_until < now),
        )
        .values(status=ImportStatus.RUNNING, lease_until=now + LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if taken != 1:
        return 0
    customer_import = db.session.get(CustomerImport, candidate)
    assert customer_import is not None
    before = customer_import.rows_done
    try:
        _run(
            customer_import,
            now=now,
            deadline=time.monotonic() + budget_seconds,
            commit=True,
        )
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        log.exception("customer import %s failed", candidate)
        failed = db.session.get(CustomerImport, candidate)
        if failed is not None:
            failed.status = ImportStatus.FAILED
            failed.error = f"{type(error).__name__}: {error}"[:2000]
            failed.lease_until = None
            # The batches written before it stopped can be undone like a whole import.
            failed.finished_at = now
            failed.undo_until = now + UNDO_WINDOW
            db.session.commit()
        return 0
    return customer_import.rows_done - before


@dataclass(frozen=True)
class ImportedCustomers:
    created: list[int]
    merged: list[int]


def imported_customer_ids(*, customer_import: CustomerImport) -> ImportedCustomers:
    """The customers this import created and those it merged into (ids, by row order)."""
    rows = db.session.execute(
        sa.select(CustomerImportChange.customer_id, CustomerImportChange.created)
        .where(CustomerImportChange.import_id == customer_import.id)
        .order_by(CustomerImportChange.row_number)
    ).all()
    return ImportedCustomers(
        created=[r.customer_id for r in rows if r.created],
        merged=[r.customer_id for r in rows if not r.created],
    )


def company_imports(*, company: Company, limit: int = 20) -> list[CustomerImport]:
    return list(
        db.session.scalars(
            sa.select(CustomerImport)
            .where(
                CustomerImport.company_id == company.id,
                CustomerImport.status.not_in((*ImportStatus.DRAFTS, ImportStatus.EXPIRED)),
            )
            .order_by(CustomerImport.id.desc())
            .limit(limit)
        )
    )


def company_has_imported(*, company: Company) -> bool:
    return bool(
        db.session.scalar(
            sa.select(
                sa.exists().where(
                    CustomerImport.company_id == company.id,
                    CustomerImport.status == ImportStatus.DONE,
                )
            )
        )
    )

"""Undoing a customer import within 24 hours of its end (app.services.customer_imports):
the customers it created go, unless they have had a job, a document or a text since; the
fields it filled in on existing customers are put back, unless someone changed them since.
What could not be undone is reported, with why."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Conversation,
    Customer,
    CustomerImport,
    CustomerImportChange,
    Estimate,
    ImportStatus,
    Invoice,
    Job,
    Message,
    User,
)
from app.services.errors import Conflict

log = logging.getLogger(__name__)

UNDO_EXAMPLES = 50
# A failed import is undone like a finished one: its batches before the failure are in.
UNDOABLE = (ImportStatus.DONE, ImportStatus.FAILED)


def can_undo(customer_import: CustomerImport, *, now: datetime) -> bool:
    return (
        customer_import.status in UNDOABLE
        and customer_import.undo_until is not None
        and now <= customer_import.undo_until
    )


def _chunks(ids: list[int], size: int = 1000) -> Iterator[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _in_use(company_id: int, ids: list[int]) -> dict[int, str]:
    """Which of these customers have had a job, a document or a text: id -> what."""
    used: dict[int, str] = {}
    texted = sa.exists().where(Message.conversation_id == Conversation.id)
    for chunk in _chunks(ids):
        for what, stmt in (
            ("a job", sa.select(Job.customer_id).where(Job.customer_id.in_(chunk))),
            ("an estimate", sa.select(Estimate.customer_id).where(Estimate.customer_id.in_(chunk))),
            ("an invoice", sa.select(Invoice.customer_id).where(Invoice.customer_id.in_(chunk))),
            (
                "texts",
                sa.select(Conversation.customer_id).where(
                    Conversation.customer_id.in_(chunk), texted
                ),
            ),
            (
                # A conversation not (or no longer) tied to the customer, by the number.
                "texts",
                sa.select(Customer.id)
                .join(
                    Conversation,
                    sa.and_(
                        Conversation.company_id == company_id,
                        Conversation.phone == Customer.mobile_phone,
                    ),
                )
                .where(Customer.id.in_(chunk), texted),
            ),
        ):
            for customer_id in db.session.scalars(stmt.distinct()):
                used.setdefault(customer_id, what)
    return used


def undo_import(*, customer_import: CustomerImport, actor: User, now: datetime) -> dict[str, Any]:
    """Roll the import back as far as it safely can: remove the customers it created that
    have had no job, document or text since, and put back merged fields nobody has changed
    since. What was kept is reported, with why. Flushes only."""
    if customer_import.status not in UNDOABLE:
        raise Conflict("Only a finished import can be undone.")
    if not can_undo(customer_import, now=now):
        raise Conflict(
            "An import can be undone for 24 hours after it finished; this one is older. "
            "Remove customers one by one instead."
        )
    changes = db.session.scalars(
        sa.select(CustomerImportChange)
        .where(CustomerImportChange.import_id == customer_import.id)
        .order_by(CustomerImportChange.row_number)
    ).all()
    created = [c.customer_id for c in changes if c.created]
    used = _in_use(customer_import.company_id, created)
    removable = [customer_id for customer_id in created if customer_id not in used]
    kept: list[dict[str, Any]] = []
    if used:
        names = dict(
            db.session.execute(
                sa.select(Customer.id, Customer.name).where(Customer.id.in_(list(used)[:1000]))
            ).all()
        )
        for change in changes:
            if change.customer_id in used and len(kept) < UNDO_EXAMPLES:
                kept.append(
                    {
                        "row": change.row_number,
                        "name": names.get(change.customer_id, ""),
                        "reason": f"has {used[change.customer_id]} since the import",
                    }
                )
    for chunk in _chunks(removable):
        db.session.execute(
            sa.update(Conversation)
            .where(Conversation.customer_id.in_(chunk))
            .values(customer_id=None)
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.delete(CustomerImportChange)
            .where(CustomerImportChange.customer_id.in_(chunk))
            .execution_options(synchronize_session=False)
        )
        db.session.execute(
            sa.delete(Customer)
            .where(Customer.id.in_(chunk), Customer.company_id == customer_import.company_id)
            .execution_options(synchronize_session=False)
        )

    restored, not_restored = 0, []
    merged = [c for c in changes if not c.created and c.previous]
    customers: dict[int, Customer] = {}
    for chunk in _chunks([c.customer_id for c in merged]):
        customers.update(
            (customer.id, customer)
            for customer in db.session.scalars(sa.select(Customer).where(Customer.id.in_(chunk)))
        )
    for change in merged:
        customer = customers.get(change.customer_id)
        if customer is None:
            continue
        edited = []
        for key, (before, after) in change.previous.items():
            if getattr(customer, key) == after:
                setattr(customer, key, before)
            else:
                edited.append(key)
        if edited:
            if len(not_restored) < UNDO_EXAMPLES:
                not_restored.append(
                    {
                        "row": change.row_number,
                        "name": customer.name,
                        "reason": f"{', '.join(edited)} changed since the import; kept as now",
                    }
                )
        else:
            restored += 1

    report = {
        "removed": len(removable),
        "kept": len(used),
        "kept_examples": kept,
        "restored": restored,
        "not_restored": len(merged) - restored,
        "not_restored_examples": not_restored,
    }
    customer_import.status = ImportStatus.UNDONE
    customer_import.undone_at = now
    customer_import.undone_by_id = actor.id
    customer_import.undo_report = report
    db.session.flush()
    db.session.expire_all()
    log.info(
        "customer import %s undone by user %s: %s removed, %s kept, %s restored",
        customer_import.id,
        actor.id,
        report["removed"],
        report["kept"],
        restored,
    )
    return report

"""Consent to be texted: how and when each customer agreed, and by whom it was recorded.

The record is a history (`Consent` rows, newest is current), so an auditor sees every step.
Other code records consent through `record_consent` only; the customer import, for one,
calls it with `source=ConsentSource.IMPORTED`.

What consent decides (docs/compliance.md): nothing is refused for "unknown" consent. The
product's texts are transactional (the customer's own job: booked, On My Way, finished,
reminders, the estimate or invoice they asked for), which the TCPA lets a business send to
a number the customer gave for the service, and the CTIA asks only for opt-out to be
honoured. The record is for the Pro to prove it, and for texts beyond the job.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime

import sqlalchemy as sa
import sqlalchemy.orm as so

from app.extensions import db
from app.models import Company, Consent, ConsentSource, Customer, OptOut, User, utcnow
from app.services.errors import DomainError

# What the office reads before ticking the box (the customer and booking forms show it).
SCRIPT = "OK to text you about this appointment? Msg & data rates may apply; reply STOP to opt out."

# Sources the product records by itself. They never replace a consent a person recorded:
# an import or a "Hi" does not make a verbal or written consent less certain.
AUTOMATIC = (ConsentSource.TEXTED_US_FIRST, ConsentSource.IMPORTED)


def current_consent(*, customer: Customer) -> Consent | None:
    """The customer's consent now (the newest record), or None: unknown."""
    return db.session.scalar(
        sa.select(Consent)
        .filter_by(customer_id=customer.id)
        .options(so.joinedload(Consent.actor))
        .order_by(Consent.id.desc())
        .limit(1)
    )


def consent_source(*, customer: Customer) -> str:
    consent = current_consent(customer=customer)
    return consent.source if consent else ConsentSource.UNKNOWN


def record_consent(
    *,
    customer: Customer,
    source: str,
    actor: User | None = None,
    at: datetime | None = None,
    note: str | None = None,
) -> Consent | None:
    """Record how `customer` agreed to texts (flushes, never commits).

    Returns the new record, or None when nothing changed: the same source again, or an
    automatic source (texted us first, imported) over a consent a person recorded.
    `at` is when the customer agreed (defaults to now), `actor` who recorded it.
    """
    if source not in ConsentSource.ALL:
        raise DomainError("Pick how the customer agreed to texts.", field="consent_source")
    if actor is not None and actor.company_id != customer.company_id:
        raise DomainError("Only your own team can record consent.")
    now = utcnow()
    if at is not None and at > now:
        raise DomainError("Consent can't be dated in the future.", field="consent_at")
    current = current_consent(customer=customer)
    if current is not None:
        if current.source == source:
            return None
        if source in AUTOMATIC and current.source not in (*AUTOMATIC, ConsentSource.UNKNOWN):
            return None
    consent = Consent(
        company_id=customer.company_id,
        customer_id=customer.id,
        source=source,
        consented_at=at or now,
        recorded_at=now,
        actor_id=actor.id if actor else None,
        note=(note or "").strip()[:500] or None,
    )
    db.session.add(consent)
    db.session.flush()
    return consent


def record_texted_first(*, customer: Customer, at: datetime) -> Consent | None:
    """The customer texted the company: that is consent to answer them (recorded only
    while nothing else is known; see AUTOMATIC)."""
    if current_consent(customer=customer) is not None:
        return None
    return record_consent(customer=customer, source=ConsentSource.TEXTED_US_FIRST, at=at)


def record_imported_consent(
    *,
    company_id: int,
    created_ids: list[int],
    merged_ids: list[int],
    actor_id: int | None,
    at: datetime,
) -> int:
    """ "Imported, not confirmed" for the customers a CSV import created or merged into.
    Created customers have no consent yet, so theirs are inserted in bulk (an import can
    create 50,000); a merged customer keeps a consent a person recorded (record_consent's
    rule). Returns how many records were written."""
    written = 0
    for start in range(0, len(created_ids), 1000):
        chunk = created_ids[start : start + 1000]
        db.session.execute(
            sa.insert(Consent),
            [
                {
                    "company_id": company_id,
                    "customer_id": customer_id,
                    "source": ConsentSource.IMPORTED,
                    "consented_at": at,
                    "recorded_at": at,
                    "actor_id": actor_id,
                }
                for customer_id in chunk
            ],
        )
        written += len(chunk)
    actor = db.session.get(User, actor_id) if actor_id else None
    for start in range(0, len(merged_ids), 1000):
        customers = db.session.scalars(
            sa.select(Customer).where(
                Customer.id.in_(merged_ids[start : start + 1000]),
                Customer.company_id == company_id,
            )
        )
        for customer in customers:
            recorded = record_consent(
                customer=customer, source=ConsentSource.IMPORTED, actor=actor, at=at
            )
            written += recorded is not None
    return written


# ----------------------------------------------------------------------------- export

EXPORT_COLUMNS = (
    "customer_id",
    "customer_name",
    "mobile_phone",
    "consent",
    "consented_at_utc",
    "recorded_at_utc",
    "recorded_by",
    "note",
    "current",
    "opted_out",
    "opt_out_source",
    "opted_out_at_utc",
)


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else ""


def _safe(value: str) -> str:
    """A spreadsheet must not run a cell as a formula (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def consent_export_csv(*, company: Company) -> str:
    """Every customer of the company with every consent record (or one "unknown" row),
    and whether the number is opted out now, as CSV for an auditor."""
    customers = db.session.scalars(
        sa.select(Customer).filter_by(company_id=company.id).order_by(Customer.id)
    ).all()
    consents: dict[int, list[Consent]] = {}
    for consent in db.session.scalars(
        sa.select(Consent)
        .filter_by(company_id=company.id)
        .options(so.joinedload(Consent.actor))
        .order_by(Consent.customer_id, Consent.id)
    ):
        consents.setdefault(consent.customer_id, []).append(consent)
    opt_outs = {
        row.phone: row
        for row in db.session.scalars(sa.select(OptOut).filter_by(company_id=company.id))
    }
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_COLUMNS)
    for customer in customers:
        opt_out = opt_outs.get(customer.mobile_phone)
        tail = [
            "yes" if opt_out else "no",
            opt_out.source if opt_out else "",
            _iso(opt_out.created_at) if opt_out else "",
        ]
        head = [str(customer.id), _safe(customer.name), customer.mobile_phone]
        rows = consents.get(customer.id) or [None]
        for index, consent in enumerate(rows):
            if consent is None:
                body = [ConsentSource.UNKNOWN, "", "", "", "", "yes"]
            else:
                body = [
                    consent.source,
                    _iso(consent.consented_at),
                    _iso(consent.recorded_at),
                    _safe(consent.actor.name) if consent.actor else "(automatic)",
                    _safe(consent.note or ""),
                    "yes" if index == len(rows) - 1 else "no",
                ]
            writer.writerow([*head, *body, *tail])
    return out.getvalue()

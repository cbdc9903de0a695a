"""Customers out as CSV, for a Pro leaving (or checking): the columns the import reads back
(app.services.customer_files knows these header names), every cell safe to open in a
spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import sqlalchemy as sa

from app.extensions import db
from app.models import Company, Customer
from app.services.customer_files import FORMULA_START
from app.services.phones import format_other_phone, format_phone


def flush(out: io.StringIO) -> str:
    """What the csv writer wrote into `out` since the last call (for streaming)."""
    text = out.getvalue()
    out.seek(0)
    out.truncate()
    return text


# The import's own field names, so an exported file imports back with no mapping to fix.
# Lists are one cell each, comma-separated: a tag never holds a comma, and the import splits
# an "Other phones" cell at commas.
EXPORT_HEADER = [
    "Name",
    "Company name",
    "Mobile phone",
    "Other phones",
    "Email",
    "Address",
    "Tags",
    "Notes",
    "Added",
]


def neutralise(cell: str | None) -> str:
    """A cell a spreadsheet will show as text: one that starts like a formula (= + - @ or a
    tab/CR, which Excel also evaluates) gets a ' in front (OWASP "CSV injection")."""
    text = cell or ""
    return "'" + text if text.startswith(FORMULA_START) else text


def export_customers_csv(*, company: Company) -> Iterator[str]:
    """Every customer of the company as CSV (UTF-8 with a byte-order mark, which Excel needs
    to show accents), oldest first, read in chunks so a big list is streamed."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    yield "\ufeff" + flush(out)
    columns = (
        Customer.id,
        Customer.name,
        Customer.mobile_phone,
        Customer.email,
        Customer.address,
        Customer.notes,
        Customer.company_name,
        Customer.other_phones,
        Customer.tags,
        Customer.created_at,
    )
    last_id = 0
    while True:
        chunk = db.session.execute(
            sa.select(*columns)
            .where(Customer.company_id == company.id, Customer.id > last_id)
            .order_by(Customer.id)
            .limit(1000)
        ).all()
        if not chunk:
            return
        for row in chunk:
            writer.writerow(
                [
                    neutralise(row.name),
                    neutralise(row.company_name),
                    neutralise(format_phone(row.mobile_phone)),
                    neutralise(", ".join(map(format_other_phone, row.other_phones or []))),
                    neutralise(row.email),
                    neutralise(row.address),
                    neutralise(", ".join(row.tags or [])),
                    neutralise(row.notes),
                    row.created_at.astimezone(company.tz).date().isoformat(),
                ]
            )
        last_id = chunk[-1].id
        yield flush(out)

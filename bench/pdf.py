"""Benchmark 4: an invoice's PDF, rendered cold (WeasyPrint) and served from the cache.

    .venv/bin/python bench/pdf.py
    .venv/bin/python bench/pdf.py --cold 5 --cached 50 --lines 30

An invoice with `--lines` line items (tax, notes, terms) is made for one of company 1's
customers in the seeded database, then its public PDF link (GET /i/<token>.pdf) is
requested through the app's WSGI interface in this process:
- first render: the very first PDF of this process (WeasyPrint loads its fonts);
- cold: the PDF cache emptied before each request, so each one renders;
- cached: the PDF read from the cache (UPLOAD_FOLDER/pdf-cache).
The baseline is the same invoice's phone page (GET /i/<token>, HTML), measured the same way.

Target (issue 9): cold under 400 ms, cached under 10 ms (p95 of each).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import database
from report import machine, ms, percentile, table, verdict

TARGET_COLD = 0.400
TARGET_CACHED = 0.010


def timed(client, path: str) -> tuple[float, bytes]:
    started = time.perf_counter()
    response = client.get(path)
    body = response.get_data()
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{path} answered HTTP {response.status_code}: {body[:300]!r}")
    return elapsed, body


def make_invoice(app, lines: int) -> str:
    """A realistic invoice for company 1's first customer; returns its public token."""
    import sqlalchemy as sa

    from app.extensions import db
    from app.models import Company, Customer
    from app.services import billing

    with app.app_context():
        company = db.session.get(Company, 1)
        customer = db.session.scalar(
            sa.select(Customer).filter_by(company_id=company.id).order_by(Customer.id).limit(1)
        )
        invoice = billing.create_invoice(
            company=company, customer=customer, title="Water heater replacement"
        )
        discount_kind, discount_value = billing.parse_discount("5%")
        billing.update_invoice_details(
            invoice=invoice,
            title="Water heater replacement",
            tax_rate_mpct=billing.parse_tax_rate("8.25"),
            discount_kind=discount_kind,
            discount_value=discount_value,
            notes="Old unit hauled away. 6-year parts warranty on the new heater.",
            internal_notes=None,
            terms="Due within 15 days.",
            payment_instructions="Pay by card at the link, or checks payable to the company.",
            due_on=invoice.due_on,
        )
        for n in range(lines):
            billing.add_line_item(
                document=invoice,
                description=f"Part or labor line {n + 1}: 3/4 in. copper fitting and install",
                quantity_milli=1000 + 250 * (n % 4),
                unit_price_cents=1250 + 375 * n,
                taxable=n % 3 != 0,
            )
        db.session.commit()
        return invoice.public_token


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=database.default_url())
    parser.add_argument("--cold", type=int, default=20, help="cold renders")
    parser.add_argument("--cached", type=int, default=300, help="cached downloads")
    parser.add_argument("--lines", type=int, default=12, help="line items on the invoice")
    args = parser.parse_args(argv)
    url = args.database_url
    database.database_name(url)

    from app import create_app

    uploads = Path(tempfile.mkdtemp(prefix="prosms-bench-pdf-"))
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": database.sqlalchemy_url(url),
            "UPLOAD_FOLDER": str(uploads),
            "TWILIO_FAKE": True,
            "OUTBOX_THREAD": False,
        }
    )
    cache = uploads / "pdf-cache"
    try:
        token = make_invoice(app, args.lines)
        client = app.test_client()
        pdf_path, page_path = f"/i/{token}.pdf", f"/i/{token}"
        first, body = timed(client, pdf_path)
        if not body.startswith(b"%PDF"):
            raise SystemExit("the PDF link did not answer a PDF")
        cold = []
        for _ in range(args.cold):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(timed(client, pdf_path)[0])
        cached = [timed(client, pdf_path)[0] for _ in range(args.cached)]
        page = [timed(client, page_path)[0] for _ in range(args.cached)]
    finally:
        shutil.rmtree(uploads, ignore_errors=True)

    baseline = percentile(page, 95)
    rows = [
        ["baseline: invoice phone page (HTML)", len(page), ms(percentile(page, 50)),
         ms(baseline), "1.0x", "-"],
        ["PDF, first render of the process", 1, ms(first), ms(first),
         f"{first / baseline:.1f}x", "-"],
        ["PDF cold (cache emptied each time)", len(cold), ms(percentile(cold, 50)),
         ms(percentile(cold, 95)), f"{percentile(cold, 95) / baseline:.1f}x",
         f"< 400 ms: {verdict(percentile(cold, 95) < TARGET_COLD)}"],
        ["PDF cached", len(cached), ms(percentile(cached, 50)), ms(percentile(cached, 95)),
         f"{percentile(cached, 95) / baseline:.1f}x",
         f"< 10 ms: {verdict(percentile(cached, 95) < TARGET_CACHED)}"],
    ]  # fmt: skip
    print()
    print(
        f"Invoice PDF ({args.lines} line items, {len(body):,} bytes), in-process through "
        "GET /i/<token>.pdf; server time in ms."
    )
    print(table(["request", "n", "p50 ms", "p95 ms", "p95 vs baseline", "target"], rows))
    print(machine(url))
    ok = percentile(cold, 95) < TARGET_COLD and percentile(cached, 95) < TARGET_CACHED
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

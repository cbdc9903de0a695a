"""PDFs: the text a customer reads, page breaks for long lists, the per-version cache."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader

from app.extensions import db
from app.models import PaymentMethod, utcnow
from app.services import billing, documents_pdf


def pdf_pages(data: bytes) -> list[str]:
    assert data.startswith(b"%PDF-")
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def flat(text: str) -> str:
    return " ".join(text.split())


def test_estimate_pdf_has_number_every_item_and_total(make, bill):
    company = make.company(name="Rapid Rooter Plumbing")
    customer = make.customer(company, name="Dana Whitfield")
    estimate = bill.estimate(
        company,
        customer,
        tax="8.25",
        discount="10%",
        options={
            "Repair": [("Patch the tank seam", "1", "240.00", True)],
            "Replace": [
                ("50 gallon gas water heater", "1", "1,150.00", True),
                ("Labor", "3.5", "95.00", False),
                ("Haul away the old unit", "1", "45.00", False),
            ],
        },
    )
    text = flat(" ".join(pdf_pages(documents_pdf.document_pdf(estimate))))
    assert f"#{estimate.number}" in text
    assert "Rapid Rooter Plumbing" in text and "Dana Whitfield" in text
    for option in estimate.options:
        assert option.title in text
        for item in option.items:
            assert item.description in text
        assert billing.money(billing.option_totals(option).total_cents) in text
    # Replace: 1150 + 332.50 + 45 = 1527.50; -10 % = 152.75; tax 8.25 % of (1150 - 115) = 85.39
    assert billing.option_totals(estimate.options[1]).total_cents == 152750 - 15275 + 8539
    assert "$1,460.14" in text
    assert "Internal" not in text  # internal notes never reach the customer


def test_sixty_item_invoice_spans_pages_with_repeated_headers(make, bill):
    company = make.company()
    lines = [(f"Part number {n:03d} fitting", "2", f"{n}.25", n % 3 != 0) for n in range(1, 61)]
    invoice = bill.invoice(company, lines=lines, tax="8.875")
    pages = pdf_pages(documents_pdf.document_pdf(invoice))
    assert len(pages) > 1
    for page in pages:
        # The table header repeats on every page that holds rows.
        if "Part number" in page:
            # (The print CSS sets the header in capitals.)
            assert "DESCRIPTION" in page and "UNIT PRICE" in page and "AMOUNT" in page
    text = flat(" ".join(pages))
    for description, *_ in lines:
        assert text.count(description) == 1  # every line, once: no row lost or split twice
    total = billing.invoice_totals(invoice).total_cents
    assert billing.money(total) in flat(pages[-1])
    assert f"Page {len(pages)} of {len(pages)}" in flat(pages[-1])


def test_repeat_download_reads_the_cache_without_weasyprint(make, bill, monkeypatch):
    invoice = bill.invoice(make.company())
    calls = []
    real = documents_pdf.render_pdf_bytes

    def counting(html: str) -> bytes:
        calls.append(html)
        return real(html)

    monkeypatch.setattr(documents_pdf, "render_pdf_bytes", counting)
    first = documents_pdf.document_pdf(invoice)
    assert len(calls) == 1
    assert documents_pdf.pdf_cache_path(invoice).is_file()

    def refuse(html: str) -> bytes:
        raise AssertionError("WeasyPrint called for a cached version")

    monkeypatch.setattr(documents_pdf, "render_pdf_bytes", refuse)
    assert documents_pdf.document_pdf(invoice) == first


def test_a_new_version_or_payment_renders_a_new_pdf(make, bill, monkeypatch):
    invoice = bill.invoice(make.company(), lines=[("Service call", "1", "100", True)])
    first = documents_pdf.document_pdf(invoice)
    first_path = documents_pdf.pdf_cache_path(invoice)
    billing.add_line_item(
        document=invoice, description="Wax ring", quantity_milli=1000, unit_price_cents=899
    )
    db.session.flush()
    assert documents_pdf.pdf_cache_path(invoice) != first_path
    second = documents_pdf.document_pdf(invoice)
    assert second != first
    assert not first_path.exists()  # an old version is never served again
    assert "Wax ring" in flat(" ".join(pdf_pages(second)))
    billing.record_payment(
        invoice=invoice, amount_cents=10899, method=PaymentMethod.CARD, received_at=utcnow()
    )
    paid = flat(" ".join(pdf_pages(documents_pdf.document_pdf(invoice))))
    assert "PAID" in paid.upper() and "Balance due $0.00" in paid


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_pdf_filename(make, bill, kind):
    document = getattr(bill, kind)(make.company())
    assert documents_pdf.pdf_filename(document) == f"{kind.title()}-{document.number}.pdf"


def test_company_logo_is_on_the_pdf_and_a_new_logo_renders_anew(app, make, bill):
    from PIL import Image

    from app.services.company_profile import store_company_logo

    company = make.company(name="Logo Plumbing")
    invoice = bill.invoice(company)
    without_logo = documents_pdf.pdf_cache_path(invoice)
    image = io.BytesIO()
    Image.new("RGB", (120, 60), (11, 92, 173)).save(image, format="PNG")
    store_company_logo(
        company=company, data=image.getvalue(), upload_folder=app.config["UPLOAD_FOLDER"]
    )
    db.session.flush()
    assert documents_pdf.pdf_cache_path(invoice) != without_logo
    reader = PdfReader(io.BytesIO(documents_pdf.document_pdf(invoice)))
    assert len(reader.pages[0].images) == 1


def test_each_thread_renders_with_its_own_font_configuration(app):
    # Pango font maps are not thread-safe: gunicorn's threads must not share one, while
    # renders on one thread reuse theirs (loading Fontconfig's fonts each time was slow).
    import threading

    mine = documents_pdf._font_configuration()
    assert documents_pdf._font_configuration() is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(documents_pdf._font_configuration()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    assert documents_pdf._print_stylesheet() is documents_pdf._print_stylesheet()


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_a_customer_edit_renders_a_new_pdf_with_the_new_name_and_address(make, bill, kind):
    """The cache key is what the PDF prints: renaming the customer (no new document
    version) must not serve the old name and address."""
    customer = make.customer(make.company(), name="Avery Johnson", address="1 Old Rd")
    document = getattr(bill, kind)(customer.company, customer)
    first = flat(" ".join(pdf_pages(documents_pdf.document_pdf(document))))
    assert "Avery Johnson" in first and "1 Old Rd" in first
    customer.name, customer.address = "Avery Johnson-Reyes", "22 New Ave"
    db.session.flush()
    second = flat(" ".join(pdf_pages(documents_pdf.document_pdf(document))))
    assert "Avery Johnson-Reyes" in second and "22 New Ave" in second
    assert "1 Old Rd" not in second


@pytest.mark.parametrize(
    "change",
    [
        lambda d: setattr(d.customer, "name", "Someone Else"),
        lambda d: setattr(d.customer, "address", "9 Elsewhere"),
        lambda d: setattr(d.customer, "mobile_phone", "+15125559999"),
        lambda d: setattr(d.company, "name", "Renamed Plumbing"),
        lambda d: setattr(d.company, "address", "7 Shop St"),
        lambda d: setattr(d.company, "business_phone", "+15125558888"),
        lambda d: setattr(d.company, "email", "new@example.com"),
        lambda d: setattr(d.company, "website", "https://new.example.com"),
        lambda d: setattr(d, "title", "Another title"),
        lambda d: setattr(d, "notes", "Another note"),
        lambda d: setattr(d, "terms", "Other terms"),
        lambda d: setattr(d.items[0], "description", "Another item"),
    ],
)
def test_the_cache_key_changes_with_whatever_the_pdf_prints(make, bill, change):
    invoice = bill.invoice(make.company(), lines=[("Service call", "1", "100", True)])
    invoice.terms = "Net 30"
    db.session.flush()
    before = documents_pdf.pdf_cache_path(invoice)
    change(invoice)
    db.session.flush()
    assert documents_pdf.pdf_cache_path(invoice) != before

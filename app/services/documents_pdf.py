"""PDFs of estimates and invoices (WeasyPrint), cached on disk per document version.

The PDF is rendered from the same totals as the phone page (app/services/billing/totals.py) with
a print stylesheet: company branding at the top, a line-item table whose header row
repeats on every page, rows that never split across pages, and the totals kept together.

Cache: UPLOAD_FOLDER/pdf-cache/<company id>/<kind>-<id>-<digest>.pdf, where `digest` is a
hash of the HTML the PDF is rendered from (and of the print stylesheet). The key is what the
PDF prints, by construction: a renamed customer, a new address, logo or company phone, an
edited line, a payment, a status, an approval all change the HTML, so they change the file;
no list of fields to keep in step with the template. Rendering the template costs about a
millisecond; WeasyPrint, which a repeat download never calls, a tenth of a second or more.
Files are written to a temporary name and renamed, so a reader never sees half a PDF, even
with several workers.
"""

from __future__ import annotations

import hashlib
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from flask import current_app, render_template

from app.atomic_files import write_atomically
from app.models import Estimate, Invoice
from app.services import billing
from app.services.texting import company_number

if TYPE_CHECKING:
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

Document = Estimate | Invoice
PRINT_STYLESHEET = Path(__file__).parent.parent / "static" / "document-print.css"


def pdf_filename(document: Document) -> str:
    return f"{document.label.replace(' #', '-')}.pdf"


def pdf_cache_path(document: Document, html: str | None = None) -> Path:
    """Where the PDF of `document` as it is now is cached (`html`: its `document_html`,
    when the caller has it already)."""
    if html is None:
        html = document_html(document)
    digest = hashlib.sha256(_stylesheet_digest() + html.encode()).hexdigest()[:20]
    folder = Path(current_app.config["UPLOAD_FOLDER"]) / "pdf-cache" / str(document.company_id)
    return folder / f"{document.kind}-{document.id}-{digest}.pdf"


@cache
def _stylesheet_digest() -> bytes:
    # A deploy that changes the print stylesheet changes every PDF.
    return hashlib.sha256(PRINT_STYLESHEET.read_bytes()).digest()


def document_html(document: Document) -> str:
    company = document.company
    logo_path = None
    if company.logo_filename:
        from app.services.company_profile import logo_folder

        candidate = logo_folder(current_app.config["UPLOAD_FOLDER"]) / company.logo_filename
        logo_path = candidate.resolve().as_uri() if candidate.is_file() else None
    number = company_number(company)
    if isinstance(document, Estimate):
        sections = [(option, billing.option_totals(option)) for option in document.options]
        extra = {"display_status": billing.estimate_display_status(document)}
    else:
        sections = [(None, billing.invoice_totals(document))]
        extra = {"balance_cents": billing.invoice_balance_cents(document)}
    return render_template(
        "public/document_pdf.html",
        document=document,
        company=company,
        sms_number=number.e164 if number else None,
        logo_path=logo_path,
        sections=sections,
        **extra,
    )


def render_pdf_bytes(html: str) -> bytes:
    """The only call into WeasyPrint (about a tenth of a second for a one-page invoice)."""
    from weasyprint import HTML

    return HTML(string=html, base_url=str(Path(current_app.root_path))).write_pdf(
        stylesheets=[_print_stylesheet()], font_config=_font_configuration()
    )


@cache
def _print_stylesheet() -> CSS:
    # Parsed once: tokenizing the stylesheet and compiling its selectors was a tenth of
    # every render. A parsed stylesheet is only read while rendering.
    from weasyprint import CSS

    return CSS(filename=str(PRINT_STYLESHEET))


_fonts = threading.local()


def _font_configuration() -> FontConfiguration:
    """This thread's WeasyPrint font configuration. Building one loads Fontconfig's
    configuration and fonts, and it keeps line-metrics caches warm between renders. One per
    thread, because a Pango font map is not safe to share between threads."""
    if not hasattr(_fonts, "configuration"):
        from weasyprint.text.fonts import FontConfiguration

        _fonts.configuration = FontConfiguration()
    return _fonts.configuration


def document_pdf(document: Document) -> bytes:
    """The PDF of the document as it is now, from the cache when it was rendered before."""
    html = document_html(document)
    path = pdf_cache_path(document, html)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data = render_pdf_bytes(html)
    write_atomically(path, data)
    _drop_older_versions(document, keep=path)
    return data


def _drop_older_versions(document: Document, *, keep: Path) -> None:
    """Earlier renders of this document are never served again: free their space."""
    for old in keep.parent.glob(f"{document.kind}-{document.id}-*.pdf"):
        if old != keep:
            old.unlink(missing_ok=True)

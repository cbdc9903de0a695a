"""Public estimate and invoice pages (/e/<token>, /i/<token>): what the customer opens
from the text on their phone.

- The token is compared exactly (case-sensitive); an unknown token is 404; a revoked link,
  a void invoice or a superseded estimate is 410 with the company's contact details.
- Misses are rate limited per address: only 404 answers count (`deduct_when`), so a
  customer opening their own link over and over is never limited, while someone
  guessing tokens is stopped after DOCUMENT_MISS_LIMIT misses.
- A GET never changes anything except "viewed" (first view time, sent -> viewed). Link
  preview bots (the fetch a messaging app makes to draw a preview card) and HEAD requests
  do not even set that, and neither does the office opening its own customer's link.
  Approve, decline and "request changes" are POSTs with a CSRF token, and repeating one
  changes nothing.
"""

from __future__ import annotations

import re

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from app.actions import service_call
from app.extensions import db, limiter
from app.models import Estimate, EstimateStatus, Invoice
from app.models.billing import DocumentType
from app.public import bp
from app.services import billing, online_payments
from app.services.documents_pdf import document_pdf, pdf_filename
from app.services.errors import DomainError
from app.services.texting import company_number
from app.tenancy import parse_id

DEFAULT_MISS_LIMIT = "20 per 10 minutes"

# Fetchers that draw link previews or index pages: they must never count as the customer
# opening the link. (iMessage previews announce themselves as facebookexternalhit.)
PREVIEW_AGENTS = re.compile(
    r"bot\b|bot/|crawler|spider|preview|facebookexternalhit|facebot|slack|whatsapp|"
    r"telegram|discord|skypeuri|embedly|iframely|google-pagerenderer|curl/|wget/|"
    r"python-requests|go-http-client",
    re.IGNORECASE,
)


def _miss_limit() -> str:
    return current_app.config.get("DOCUMENT_MISS_LIMIT", DEFAULT_MISS_LIMIT)


# One counter per address shared by every public document URL, fed only by 404s.
miss_limited = limiter.shared_limit(
    _miss_limit,
    scope="public-document-miss",
    deduct_when=lambda response: response.status_code == 404,
)


def _lookup(kind: str, token: str) -> Estimate | Invoice:
    lookup = billing.find_public_document(kind=kind, token=token)
    if lookup.document is None:
        abort(404)
    if lookup.gone is not None:
        abort(_gone_response(lookup.document, lookup.gone))
    return lookup.document


def _gone_response(document: Estimate | Invoice, why: str) -> Response:
    company = document.company
    response = current_app.make_response(
        (
            render_template(
                "public/gone.html",
                company=company,
                contact=_contact(company),
                why=why,
                document_kind=document.kind,
            ),
            410,
        )
    )
    return _private(response)


def _contact(company) -> dict[str, str | None]:
    """How the customer reaches the company: text the custom number, call the business."""
    number = company_number(company)
    return {
        "sms": number.e164 if number else None,
        "call": company.business_phone or (number.e164 if number else None),
        "email": company.email,
        "website": company.website,
        "address": company.address,
        "logo_url": (
            url_for("public.logo", filename=company.logo_filename)
            if company.logo_filename
            else None
        ),
    }


def _private(response: Response) -> Response:
    # The token in the URL is the key to the page: keep it out of caches, search engines
    # and the Referer header of any link the page holds.
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _is_real_view() -> bool:
    if request.method != "GET":
        return False
    if PREVIEW_AGENTS.search(request.headers.get("User-Agent", "")):
        return False
    # Purpose "prefetch" / "prerender": the browser fetched speculatively, nobody looked.
    if request.headers.get("Purpose", "").lower() in {"prefetch", "prerender"}:
        return False
    if request.headers.get("Sec-Purpose", "").lower().startswith("prefetch"):
        return False
    return not (current_user.is_authenticated and current_user.company_id is not None)


def _record_view(document: Estimate | Invoice) -> None:
    if _is_real_view() and billing.mark_viewed(document=document):
        db.session.commit()


def _render(template: str, document: Estimate | Invoice, status: int = 200, **context):
    response = current_app.make_response(
        (
            render_template(
                template,
                document=document,
                company=document.company,
                contact=_contact(document.company),
                **context,
            ),
            status,
        )
    )
    return _private(response)


def estimate_context(estimate: Estimate, form_errors: dict[str, str] | None = None) -> dict:
    options = [(option, billing.option_totals(option)) for option in estimate.options]
    return {
        "options": options,
        "priced_options": [(o, t) for o, t in options if o.items],
        "display_status": billing.estimate_display_status(estimate),
        "can_decide": estimate.status in EstimateStatus.OPEN
        and not billing.estimate_is_expired(estimate),
        "errors": form_errors or {},
        "request_key": billing.new_send_key(),
        # The deposit online (app/public/payments.py) once approved; None = nothing to show.
        "deposit": online_payments.deposit_option(estimate),
        "checkout_return": request.args.get("checkout"),
        "checkout_canceled": request.args.get("canceled") == "1",
    }


# ----------------------------------------------------------------------------- estimate


@bp.get("/e/<token>")
@miss_limited
def estimate_page(token: str):
    estimate = _lookup(DocumentType.ESTIMATE, token)
    _record_view(estimate)
    return _render("public/estimate.html", estimate, **estimate_context(estimate))


@bp.get("/e/<token>.pdf")
@miss_limited
def estimate_pdf(token: str):
    return _pdf(_lookup(DocumentType.ESTIMATE, token))


def _form_option_id() -> int | None:
    return parse_id(request.form.get("option_id", "").strip())


def _form_version() -> int:
    # "²" is a digit to str.isdigit but not to int; 30 digits are no version either.
    return parse_id(request.form.get("version", "").strip()) or -1


def _estimate_refused(estimate: Estimate, error: DomainError, *, action: str):
    """The estimate page again, with the refusal next to the form it came from (the
    refusal already rolled back and reloaded the estimate: `service_call`)."""
    return _render(
        "public/estimate.html",
        estimate,
        status=error.status_code if error.status_code != 400 else 422,
        **estimate_context(estimate, {error.field or action: error.message}),
    )


@bp.post("/e/<token>/approve")
@miss_limited
def estimate_approve(token: str):
    """Two steps without JavaScript: the first POST shows what is being approved and
    asks to confirm; the second (confirm=yes) approves."""
    estimate = _lookup(DocumentType.ESTIMATE, token)
    if estimate.status == EstimateStatus.APPROVED:
        # Repeating an approval changes nothing.
        return redirect(url_for("public.estimate_page", token=token), code=303)
    option_id = _form_option_id()
    signed_name = request.form.get("signed_name", "")
    accepted = request.form.get("accept_terms") in {"y", "yes", "on", "1"}
    version = _form_version()
    confirming = request.form.get("confirm") != "yes"
    with service_call(refresh=(estimate,)) as call:
        if confirming:
            # check_approval may store an expiry; nothing else changes before confirm.
            option, name = billing.check_approval(
                estimate=estimate,
                option_id=option_id,
                signed_name=signed_name,
                accepted_terms=accepted,
                version=version,
            )
        else:
            billing.approve_estimate(
                estimate=estimate,
                option_id=option_id,
                signed_name=signed_name,
                accepted_terms=accepted,
                version=version,
                ip_address=request.remote_addr,
                user_agent=request.headers.get("User-Agent"),
            )
    if not call.ok:
        return _estimate_refused(estimate, call.error, action="approve")
    if confirming:
        return _render(
            "public/estimate_confirm.html",
            estimate,
            option=option,
            totals=billing.option_totals(option),
            signed_name=name,
            version=version,
        )
    flash("Thank you! Your approval was sent to " + estimate.company.name + ".", "success")
    return redirect(url_for("public.estimate_page", token=token), code=303)


@bp.post("/e/<token>/decline")
@miss_limited
def estimate_decline(token: str):
    estimate = _lookup(DocumentType.ESTIMATE, token)
    with service_call(refresh=(estimate,)) as call:
        changed = billing.decline_estimate(estimate=estimate, reason=request.form.get("reason"))
    if not call.ok:
        return _estimate_refused(estimate, call.error, action="decline")
    if changed:
        flash(f"Thanks for letting us know. {estimate.company.name} has been told.", "info")
    return redirect(url_for("public.estimate_page", token=token), code=303)


@bp.post("/e/<token>/changes")
@miss_limited
def estimate_changes(token: str):
    estimate = _lookup(DocumentType.ESTIMATE, token)
    with service_call(refresh=(estimate,)) as call:
        billing.request_estimate_changes(
            estimate=estimate,
            message=request.form.get("message", ""),
            request_key=request.form.get("request_key", ""),
        )
    if not call.ok:
        return _estimate_refused(estimate, call.error, action="changes")
    flash(f"Your message was sent to {estimate.company.name}. They will get back to you.", "info")
    return redirect(url_for("public.estimate_page", token=token), code=303)


# ------------------------------------------------------------------------------ invoice


@bp.get("/i/<token>")
@miss_limited
def invoice_page(token: str):
    invoice = _lookup(DocumentType.INVOICE, token)
    _record_view(invoice)
    return _render("public/invoice.html", invoice, **invoice_context(invoice))


def invoice_context(invoice: Invoice, pay_errors: dict[str, str] | None = None) -> dict:
    balance = billing.invoice_balance_cents(invoice)
    overdue = bool(
        balance and invoice.due_on and billing.company_today(invoice.company) > invoice.due_on
    )
    return {
        "totals": billing.invoice_totals(invoice),
        "balance_cents": balance,
        "overdue": overdue,
        # Online payment (app/public/payments.py): the amount, or why not; None = off.
        "pay": online_payments.pay_option(invoice),
        "pay_errors": pay_errors or {},
        "checkout_return": request.args.get("checkout"),
        "checkout_canceled": request.args.get("canceled") == "1",
    }


@bp.get("/i/<token>.pdf")
@miss_limited
def invoice_pdf(token: str):
    return _pdf(_lookup(DocumentType.INVOICE, token))


def _pdf(document: Estimate | Invoice) -> Response:
    response = Response(document_pdf(document), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{pdf_filename(document)}"'
    return _private(response)

"""The customer's pages: /e/<token>, /i/<token>, their PDFs and the estimate decisions."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    EstimateApproval,
    EstimateStatus,
    InvoiceStatus,
    Message,
    MessageKind,
    PaymentMethod,
    utcnow,
)
from app.services import billing

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile"


def sent(estimate):
    estimate.status = EstimateStatus.SENT
    db.session.commit()
    return estimate


def notices():
    return list(db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.NOTICE)))


def approve(client, estimate, *, confirm=True, **fields):
    data = {
        "version": str(estimate.version),
        "option_id": str(estimate.options[0].id),
        "signed_name": "Dana Whitfield",
        "accept_terms": "yes",
        **fields,
    }
    if confirm:
        data["confirm"] = "yes"
    return client.post(
        f"/e/{estimate.public_token}/approve",
        data=data,
        headers={"User-Agent": IPHONE},
        environ_base={"REMOTE_ADDR": "203.0.113.50"},
    )


@pytest.fixture
def company(make):
    company = make.company(name="Rapid Rooter", business_phone="+15125550199")
    make.number(company, e164="+15126660123")
    return company


def test_estimate_page_shows_what_the_customer_should_see(client, make, bill, company):
    customer = make.customer(company, name="Dana Whitfield")
    other = make.customer(company, name="Other Person")
    bill.estimate(company, other, lines=[("Secret other job", "1", "999", True)])
    estimate = bill.estimate(
        company,
        customer,
        tax="8.25",
        lines=[("Replace shutoff valve", "1", "180.00", True), ("Labor", "1.5", "95", False)],
        terms="50% deposit before work starts.",
    )
    db.session.commit()
    response = client.get(f"/e/{estimate.public_token}", headers={"User-Agent": IPHONE})
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    totals = billing.option_totals(estimate.options[0])
    for text in (
        "Rapid Rooter",
        f"#{estimate.number}",
        "Dana Whitfield",
        "Replace shutoff valve",
        "1.5 \N{MULTIPLICATION SIGN} $95.00",
        billing.money(totals.total_cents),
        "50% deposit before work starts.",
        'href="sms:+15126660123"',
        'href="tel:+15125550199"',
        f"/e/{estimate.public_token}.pdf",
    ):
        assert text in html, text
    assert "$337.35" in html  # 180 + 142.50 + 14.85 (8.25 % of 180 only)
    assert "Internal" not in html and "haggles" not in html
    assert "Secret other job" not in html and "Other Person" not in html
    assert 'class="mainnav"' not in html  # no office navigation
    assert response.headers["Cache-Control"] == "private, no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response.headers["X-Robots-Tag"]


def test_a_real_get_marks_viewed_but_previews_and_head_do_not(client, bill, company):
    estimate = sent(bill.estimate(company))
    token = estimate.public_token
    for agent in (
        "facebookexternalhit/1.1 Facebot Twitterbot/1.0",  # iMessage's link preview
        "WhatsApp/2.23.20.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    ):
        assert client.get(f"/e/{token}", headers={"User-Agent": agent}).status_code == 200
    assert client.head(f"/e/{token}", headers={"User-Agent": IPHONE}).status_code == 200
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.SENT and estimate.viewed_at is None
    client.get(f"/e/{token}", headers={"User-Agent": IPHONE})
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.VIEWED and estimate.viewed_at is not None


def test_office_user_opening_the_link_is_not_a_view(client, bill, company, log_in):
    estimate = sent(bill.estimate(company))
    log_in(client, company.owner)
    client.get(f"/e/{estimate.public_token}", headers={"User-Agent": IPHONE})
    db.session.refresh(estimate)
    assert estimate.viewed_at is None


def test_approve_needs_a_confirmation_then_records_evidence(client, bill, company):
    estimate = sent(bill.estimate(company))
    review = approve(client, estimate, confirm=False)
    assert review.status_code == 200
    assert "Confirm your approval" in review.get_data(as_text=True)
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.SENT  # nothing approved yet
    done = approve(client, estimate)
    assert done.status_code == 303
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.APPROVED
    evidence = db.session.scalars(sa.select(EstimateApproval)).one()
    assert evidence.signed_name == "Dana Whitfield"
    assert evidence.ip_address == "203.0.113.50"
    assert evidence.user_agent == IPHONE
    assert evidence.document_version == estimate.version
    assert evidence.terms_snapshot == estimate.terms
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Approved" in page and "by Dana Whitfield" in page
    assert "Review and approve" not in page
    # Repeating the POST changes nothing.
    assert approve(client, estimate, signed_name="Someone Else").status_code == 303
    assert db.session.scalar(sa.select(sa.func.count(EstimateApproval.id))) == 1
    assert len(notices()) == 1


def test_approve_form_errors_name_the_field(client, bill, company):
    estimate = sent(bill.estimate(company))
    response = approve(client, estimate, confirm=False, signed_name=" ")
    assert response.status_code == 422
    assert "Type your full name to sign." in response.get_data(as_text=True)
    response = approve(client, estimate, confirm=False, accept_terms="")
    assert response.status_code == 422
    assert "accept the terms" in response.get_data(as_text=True)
    stale = approve(client, estimate, version=str(estimate.version - 1))
    assert stale.status_code == 409
    assert "updated since you opened it" in stale.get_data(as_text=True)
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.SENT


def test_several_options_ask_which_one(client, bill, company):
    estimate = sent(
        bill.estimate(
            company,
            options={
                "Repair": [("Patch", "1", "240", True)],
                "Replace": [("New", "1", "900", True)],
            },
        )
    )
    html = client.get(f"/e/{estimate.public_token}").get_data(as_text=True)
    assert html.count('type="radio" name="option_id"') == 2
    response = approve(client, estimate, option_id="")
    assert response.status_code == 422
    assert "Choose the option you approve." in response.get_data(as_text=True)
    assert approve(client, estimate, option_id=str(estimate.options[1].id)).status_code == 303
    db.session.refresh(estimate)
    assert estimate.approved_option_id == estimate.options[1].id


def test_decline_then_no_approval(client, bill, company):
    estimate = sent(bill.estimate(company))
    url = f"/e/{estimate.public_token}/decline"
    assert client.post(url, data={"reason": "Going with another plumber"}).status_code == 303
    assert client.post(url, data={"reason": "again"}).status_code == 303
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.DECLINED
    assert estimate.decline_reason == "Going with another plumber"
    assert len(notices()) == 1
    refused = approve(client, estimate)
    assert refused.status_code == 409
    assert "This estimate was declined, so it can't be approved." in refused.get_data(
        as_text=True
    ).replace("&#39;", "'")
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.DECLINED


def test_request_changes_goes_to_the_inbox(client, bill, company):
    estimate = sent(bill.estimate(company))
    page = client.get(f"/e/{estimate.public_token}").get_data(as_text=True)
    key = re.search(r'name="request_key" value="([^"]+)"', page).group(1)
    url = f"/e/{estimate.public_token}/changes"
    data = {"message": "Could you quote a tankless heater?", "request_key": key}
    assert client.post(url, data=data).status_code == 303
    assert client.post(url, data=data).status_code == 303  # a double tap: one notice
    (notice,) = notices()
    assert "tankless" in notice.body
    assert notice.conversation.customer_id == estimate.customer_id
    empty = client.post(url, data={"message": "", "request_key": key})
    assert empty.status_code == 422


def test_decisions_need_the_csrf_token(client, bill, company, csrf_enabled):
    estimate = sent(bill.estimate(company))
    assert client.post(f"/e/{estimate.public_token}/decline", data={}).status_code == 400
    page = client.get(f"/e/{estimate.public_token}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(f"/e/{estimate.public_token}/decline", data={"csrf_token": token})
    assert response.status_code == 303
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.DECLINED


def test_unknown_and_case_flipped_tokens_are_404(client, bill, company):
    estimate = bill.estimate(company)
    invoice = bill.invoice(company)
    db.session.commit()
    assert client.get("/e/" + "x" * 24).status_code == 404
    assert client.get(f"/e/{estimate.public_token.swapcase()}").status_code == 404
    assert client.get(f"/e/{estimate.public_token.swapcase()}.pdf").status_code == 404
    assert client.get(f"/i/{estimate.public_token}").status_code == 404
    assert client.get(f"/e/{invoice.public_token}").status_code == 404
    assert client.post(f"/e/{invoice.public_token}/approve").status_code == 404


def test_revoked_void_and_superseded_links_are_410_with_contact(client, bill, company):
    estimate = bill.estimate(company)
    old_token = estimate.public_token
    billing.revoke_link(document=estimate)
    invoice = bill.invoice(company)
    billing.void_invoice(invoice=invoice)
    replaced = bill.estimate(company)
    billing.revise_estimate(estimate=replaced)
    db.session.commit()
    for url in (
        f"/e/{old_token}",
        f"/e/{old_token}.pdf",
        f"/i/{invoice.public_token}",
        f"/e/{replaced.public_token}",
    ):
        response = client.get(url)
        assert response.status_code == 410, url
        html = response.get_data(as_text=True)
        assert "no longer valid" in html
        assert "contact Rapid Rooter" in html and "(512) 555-0199" in html
        assert "Replace shutoff valve" not in html  # nothing of the document itself
    assert client.get(f"/e/{estimate.public_token}").status_code == 200
    assert client.post(f"/e/{old_token}/decline").status_code == 410


def test_pdf_download(client, bill, company):
    estimate = bill.estimate(company)
    db.session.commit()
    response = client.get(f"/e/{estimate.public_token}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert (
        response.headers["Content-Disposition"]
        == f'attachment; filename="Estimate-{estimate.number}.pdf"'
    )
    db.session.refresh(estimate)
    assert estimate.viewed_at is None  # a download is not a state change


def test_invoice_page_amount_due_instructions_and_paid_state(client, bill, company):
    invoice = bill.invoice(company, lines=[("Drain cleaning", "1", "200", True)], tax="8.25")
    invoice.status = InvoiceStatus.SENT
    db.session.commit()
    url = f"/i/{invoice.public_token}"
    html = client.get(url, headers={"User-Agent": IPHONE}).get_data(as_text=True)
    assert "Amount due" in html and "$216.50" in html
    assert "Checks payable to the company." in html
    assert "Internal" not in html
    db.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.VIEWED
    billing.record_payment(
        invoice=invoice, amount_cents=6500, method=PaymentMethod.CASH, received_at=utcnow()
    )
    db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert "$151.50" in html and "Balance due" in html
    billing.record_payment(
        invoice=invoice, amount_cents=15150, method=PaymentMethod.CHECK, received_at=utcnow()
    )
    db.session.commit()
    html = client.get(url).get_data(as_text=True)
    assert "Paid in full" in html and "Amount due" not in html
    assert "How to pay" not in html


def test_the_page_shows_the_company_logo(app, client, bill, company):
    import io

    from PIL import Image

    from app.services.company_profile import store_company_logo

    image = io.BytesIO()
    Image.new("RGB", (64, 64), (11, 92, 173)).save(image, format="PNG")
    store_company_logo(
        company=company, data=image.getvalue(), upload_folder=app.config["UPLOAD_FOLDER"]
    )
    estimate = bill.estimate(company)
    db.session.commit()
    html = client.get(f"/e/{estimate.public_token}").get_data(as_text=True)
    src = re.search(r'<img class="pub-logo" src="([^"]+)" alt="Rapid Rooter logo">', html).group(1)
    assert client.get(src).mimetype == "image/png"


def test_expired_estimate_says_so_and_cannot_be_approved(client, bill, company):
    from datetime import timedelta

    estimate = sent(bill.estimate(company))
    estimate.valid_until = billing.company_today(company) - timedelta(days=1)
    db.session.commit()
    html = client.get(f"/e/{estimate.public_token}").get_data(as_text=True)
    assert "This estimate has expired." in html
    assert "Review and approve" not in html and "Decline estimate" not in html
    refused = approve(client, estimate, confirm=False)
    assert refused.status_code == 409
    assert "expired" in refused.get_data(as_text=True)
    db.session.refresh(estimate)
    assert estimate.approved_at is None


def test_an_unpaid_invoice_past_its_due_date_says_so(client, bill, company):
    from datetime import timedelta

    invoice = bill.invoice(company)
    invoice.due_on = billing.company_today(company) - timedelta(days=3)
    db.session.commit()
    html = client.get(f"/i/{invoice.public_token}").get_data(as_text=True)
    assert "Past due: was due" in html

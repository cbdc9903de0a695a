"""Office estimate and invoice pages."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Estimate,
    EstimateStatus,
    Invoice,
    InvoiceStatus,
    Job,
    LineItem,
    Message,
    MessageKind,
    OptOut,
    Role,
)
from app.services import billing
from tests.support import HX


@pytest.fixture
def office(make, client, log_in):
    company = make.company(name="Rapid Rooter")
    user = make.user(company, role=Role.OFFICE)
    db.session.commit()
    log_in(client, user)
    return company


def send_key(html: str) -> str:
    return re.search(r'name="send_key" type="hidden" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("path", ["/estimates", "/invoices", "/estimates/new", "/invoices/new"])
def test_pages_need_an_office_login(client, make, log_in, path):
    assert client.get(path).status_code == 302  # to the login page
    company = make.company()
    tech = make.user(company, role=Role.TECH)
    db.session.commit()
    log_in(client, tech)
    assert client.get(path).status_code == 403


def test_lists_show_numbers_customers_and_totals(client, office, bill, make):
    customer = make.customer(office, name="Dana Whitfield")
    estimate = bill.estimate(office, customer, tax="8.25")
    invoice = bill.invoice(office, customer)
    bill.estimate(make.company(), title="Other company's estimate")
    db.session.commit()
    html = client.get("/estimates").get_data(as_text=True)
    assert f"#{estimate.number}" in html and "Dana Whitfield" in html and "$194.85" in html
    assert "Other company" not in html
    html = client.get("/invoices").get_data(as_text=True)
    assert f"#{invoice.number}" in html and "$95.00" in html
    assert client.get("/estimates?status=draft").status_code == 200


def test_create_estimate_for_a_customer(client, office, make):
    customer = make.customer(office, name="Dana Whitfield")
    job = make.job(office, customer=customer, description="Water heater leaking")
    db.session.commit()
    form = client.get(f"/estimates/new?job_id={job.id}").get_data(as_text=True)
    # The job's customer is picked already.
    assert f'name="customer_id" id="customer_id" value="{customer.id}"' in form
    assert '<span class="picker-name">Dana Whitfield</span>' in form
    response = client.post(
        "/estimates/new", data={"customer_id": customer.id, "job_id": job.id, "title": ""}
    )
    assert response.status_code == 303
    estimate = db.session.scalars(sa.select(Estimate)).one()
    assert response.headers["Location"].endswith(f"/estimates/{estimate.id}")
    assert estimate.title == "Water heater leaking"
    assert estimate.job_id == job.id


def _job_options(html: str) -> list[str]:
    select = re.search(r'<select[^>]*name="job_id".*?</select>', html, re.S).group(0)
    return re.findall(r"<option[^>]*>([^<]*)</option>", select)


@pytest.mark.parametrize("kind", ["estimate", "invoice"])
def test_the_job_select_lists_only_the_chosen_customers_jobs(client, office, make, kind):
    dana, eli = make.customer(office, name="Dana"), make.customer(office, name="Eli")
    danas = make.job(office, customer=dana, description="Water heater")
    elis = make.job(office, customer=eli, description="Garbage disposal")
    db.session.commit()

    # Before a customer is chosen: no jobs to pick from.
    assert _job_options(client.get(f"/{kind}s/new").get_data(as_text=True)) == ["— No job —"]
    # With Dana chosen (from her page): only her jobs.
    page = client.get(f"/{kind}s/new?customer_id={dana.id}").get_data(as_text=True)
    assert _job_options(page) == ["— No job —", f"#{danas.number} · Water heater"]
    # The picker choosing Eli refreshes only the job select (htmx), keeping no stale job.
    fragment = client.get(
        f"/{kind}s/new?customer_id={eli.id}&job_id={danas.id}",
        headers={**HX, "HX-Target": "job-field"},
    ).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="job-field"')
    assert _job_options(fragment) == ["— No job —", f"#{elis.number} · Garbage disposal"]
    assert "selected" not in fragment.split("Garbage disposal")[0].split("No job")[1]

    # A posted job of another customer is refused on the job field.
    response = client.post(
        f"/{kind}s/new", data={"customer_id": dana.id, "job_id": elis.id, "title": "x"}
    )
    assert response.status_code == 422
    assert "Choose one of this customer&#39;s jobs, or no job." in response.get_data(as_text=True)


def test_create_refuses_another_companys_customer(client, office, make):
    stranger = make.customer(make.company())
    db.session.commit()
    response = client.post("/invoices/new", data={"customer_id": stranger.id, "job_id": 0})
    assert response.status_code == 422
    assert '<p class="error" id="customer_id-error">That customer was not found.</p>' in (
        response.get_data(as_text=True)
    )
    assert db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 0


def test_other_companies_documents_are_404(client, office, make, bill):
    other = make.company()
    estimate = bill.estimate(other)
    invoice = bill.invoice(other)
    item = estimate.options[0].items[0]
    db.session.commit()
    for method, url in [
        ("get", f"/estimates/{estimate.id}"),
        ("get", f"/invoices/{invoice.id}"),
        ("get", f"/estimates/{estimate.id}/progress"),
        ("post", f"/estimates/{estimate.id}/send"),
        ("post", f"/invoices/{invoice.id}/payments"),
        ("post", f"/invoices/{invoice.id}/void"),
        ("post", f"/estimates/{estimate.id}/revoke"),
        ("post", f"/estimates/{estimate.id}/options/{estimate.options[0].id}/items"),
        ("post", f"/billing/items/{item.id}"),
        ("post", f"/billing/items/{item.id}/remove"),
    ]:
        assert getattr(client, method)(url).status_code == 404, url
    db.session.refresh(estimate)
    assert len(estimate.options[0].items) == 1


def test_line_items_with_htmx(client, office, bill):
    estimate = bill.estimate(office, tax="8.25", lines=[("Shutoff valve", "1", "180", True)])
    option = estimate.options[0]
    db.session.commit()
    page = client.get(f"/estimates/{estimate.id}").get_data(as_text=True)
    assert f'id="items-o{option.id}"' in page and "$194.85" in page
    url = f"/estimates/{estimate.id}/options/{option.id}/items"
    added = client.post(
        url,
        data={"description": "Labor", "quantity": "1.5", "unit_price": "95", "taxable": ""},
        headers=HX,
    )
    assert added.status_code == 200
    fragment = added.get_data(as_text=True)
    assert fragment.lstrip().startswith(f'<section id="items-o{option.id}"')
    assert "Labor" in fragment and "$142.50" in fragment and "$337.35" in fragment
    bad = client.post(
        url, data={"description": "Pipe", "quantity": "1", "unit_price": "12.345"}, headers=HX
    )
    assert bad.status_code == 422
    assert "Unit price: enter an amount" in bad.get_data(as_text=True)
    labor = db.session.scalars(sa.select(LineItem).filter_by(description="Labor")).one()
    updated = client.post(
        f"/billing/items/{labor.id}",
        data={"description": "Labor (2 techs)", "quantity": "3", "unit_price": "95"},
        headers=HX,
    )
    assert "Labor (2 techs)" in updated.get_data(as_text=True)
    removed = client.post(f"/billing/items/{labor.id}/remove", headers=HX)
    assert "Labor" not in removed.get_data(as_text=True)
    # Without htmx the same form redirects back to the page.
    plain = client.post(url, data={"description": "Permit", "quantity": "1", "unit_price": "50"})
    assert plain.status_code == 303
    db.session.refresh(estimate)
    assert [i.description for i in estimate.options[0].items] == ["Shutoff valve", "Permit"]


def test_options_add_and_remove(client, office, bill):
    estimate = bill.estimate(office)
    db.session.commit()
    response = client.post(f"/estimates/{estimate.id}/options", data={"title": "Replace"})
    assert response.status_code == 303
    db.session.refresh(estimate)
    assert [o.title for o in estimate.options] == ["Option 1", "Replace"]
    replace = estimate.options[1]
    client.post(f"/estimates/{estimate.id}/options/{replace.id}/remove")
    db.session.refresh(estimate)
    assert len(estimate.options) == 1


def test_send_by_text_and_resend(client, office, make, bill):
    make.number(office)
    estimate = bill.estimate(office, make.customer(office, name="Dana Whitfield"))
    db.session.commit()
    page = client.get(f"/estimates/{estimate.id}").get_data(as_text=True)
    assert "Send by text" in page and billing.public_url(estimate) in page
    assert "Copy link" in page
    key = send_key(page)
    first = client.post(f"/estimates/{estimate.id}/send", data={"send_key": key}, headers=HX)
    assert first.status_code == 200
    assert "Resend text" in first.get_data(as_text=True)
    assert first.headers["HX-Trigger"] == "billing-progress-changed"
    client.post(f"/estimates/{estimate.id}/send", data={"send_key": key}, headers=HX)
    texts = list(db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.ESTIMATE)))
    assert len(texts) == 1  # the same form twice: one text
    assert billing.public_url(estimate) in texts[0].body
    client.post(f"/estimates/{estimate.id}/send", data={"send_key": send_key(page) + "x"})
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 2
    db.session.refresh(estimate)
    assert estimate.status == EstimateStatus.SENT
    progress = client.get(f"/estimates/{estimate.id}/progress").get_data(as_text=True)
    assert "Sent" in progress and "Delivered" in progress and "Viewed" in progress
    assert "every 5s" in progress  # the text is on its way: the fragment polls


def test_send_without_a_number_says_why_and_links_to_setup(client, office, bill):
    estimate = bill.estimate(office)
    db.session.commit()
    page = client.get(f"/estimates/{estimate.id}").get_data(as_text=True)
    assert "has no custom SMS number yet" in page and "/settings/number" in page
    response = client.post(
        f"/estimates/{estimate.id}/send", data={"send_key": "abcdefghijkl"}, headers=HX
    )
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "has no custom SMS number yet" in html and "Set up your custom number" in html
    assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0


def test_send_to_an_opted_out_customer_is_refused(client, office, make, bill):
    make.number(office)
    invoice = bill.invoice(office)
    phone = invoice.customer.mobile_phone
    db.session.add(OptOut(company_id=office.id, phone=phone, keyword="STOP"))
    db.session.commit()
    response = client.post(
        f"/invoices/{invoice.id}/send", data={"send_key": "abcdefghijkl"}, headers=HX
    )
    assert response.status_code == 409
    assert "opted out" in response.get_data(as_text=True)


def test_revoke_issues_a_new_link(client, office, bill):
    invoice = bill.invoice(office)
    old = invoice.public_token
    db.session.commit()
    assert client.post(f"/invoices/{invoice.id}/revoke").status_code == 303
    db.session.refresh(invoice)
    assert invoice.public_token != old
    assert client.get(f"/i/{old}").status_code == 410
    assert client.get(f"/i/{invoice.public_token}").status_code == 200
    again = client.post(f"/invoices/{invoice.id}/revoke", headers=HX)
    assert "The old link no longer works" in again.get_data(as_text=True)
    db.session.refresh(invoice)
    assert again.get_data(as_text=True).count(invoice.public_token) >= 1


def test_details_save_and_errors(client, office, bill):
    invoice = bill.invoice(office, lines=[("Drain cleaning", "1", "200", True)])
    db.session.commit()
    version = invoice.version
    data = {
        "title": "Kitchen drain",
        "tax_rate": "8.25",
        "discount": "10%",
        "due_on": invoice.due_on.isoformat(),
        "notes": "Thanks!",
        "terms": "Net 14",
        "payment_instructions": "Zelle to pay@rapid.test",
        "internal_notes": "gate code 1234",
    }
    assert client.post(f"/invoices/{invoice.id}/details", data=data).status_code == 303
    db.session.refresh(invoice)
    assert (invoice.tax_rate_mpct, invoice.discount_value) == (8250, 1000)
    assert invoice.version == version + 1
    assert billing.invoice_totals(invoice).total_cents == 18000 + 1485
    bad = client.post(
        f"/invoices/{invoice.id}/details", data={**data, "tax_rate": "eight"}, follow_redirects=True
    )
    assert "Tax rate: enter a percent" in bad.get_data(as_text=True)
    public = client.get(f"/i/{invoice.public_token}").get_data(as_text=True)
    assert "gate code" not in public and "Zelle to pay@rapid.test" in public


def test_record_payments_and_void(client, office, bill):
    invoice = bill.invoice(office, lines=[("Drain cleaning", "1", "200", True)])
    db.session.commit()
    url = f"/invoices/{invoice.id}/payments"
    today = billing.company_today(office).isoformat()
    client.post(url, data={"amount": "50", "method": "cash", "received_on": today})
    db.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID and invoice.paid_cents == 5000
    too_much = client.post(
        url, data={"amount": "151", "method": "check", "received_on": today}, follow_redirects=True
    )
    assert "more than the balance due ($150.00)" in too_much.get_data(as_text=True)
    client.post(url, data={"amount": "150.00", "method": "check", "received_on": today})
    db.session.refresh(invoice)
    assert invoice.status == InvoiceStatus.PAID
    void = client.post(f"/invoices/{invoice.id}/void", follow_redirects=True)
    assert "has payments recorded" in void.get_data(as_text=True)
    other = bill.invoice(office)
    db.session.commit()
    client.post(f"/invoices/{other.id}/void", data={"reason": "Duplicate"})
    db.session.refresh(other)
    assert other.status == InvoiceStatus.VOID
    assert client.get(f"/i/{other.public_token}").status_code == 410


def test_convert_approved_estimate_in_one_click(client, office, bill):
    estimate = bill.estimate(office, lines=[("New water heater", "1", "1150", True)])
    billing.approve_estimate(
        estimate=estimate,
        option_id=None,
        signed_name="Dana Whitfield",
        accepted_terms=True,
        version=estimate.version,
        ip_address="203.0.113.1",
        user_agent="test",
    )
    db.session.commit()
    page = client.get(f"/estimates/{estimate.id}").get_data(as_text=True)
    assert "Approved" in page and "Dana Whitfield" in page and "203.0.113.1" in page
    made = client.post(f"/estimates/{estimate.id}/convert", data={"to": "invoice"})
    invoice = db.session.scalars(sa.select(Invoice)).one()
    assert made.headers["Location"].endswith(f"/invoices/{invoice.id}")
    assert [i.description for i in invoice.items] == ["New water heater"]
    client.post(f"/estimates/{estimate.id}/convert", data={"to": "invoice"})
    assert db.session.scalar(sa.select(sa.func.count(Invoice.id))) == 1
    day = billing.company_today(office).isoformat()
    booked = client.post(
        f"/estimates/{estimate.id}/convert",
        data={"to": "job", "day": day, "start_time": "09:00", "end_time": "11:00"},
    )
    job = db.session.scalars(sa.select(Job)).one()
    assert booked.headers["Location"].endswith(f"/jobs/{job.id}")
    assert job.customer_id == estimate.customer_id


def test_billing_settings_are_the_defaults(client, make, log_in):
    company = make.company()
    db.session.commit()
    log_in(client, company.owner)
    response = client.post(
        "/billing/settings",
        data={
            "payment_instructions": "Checks to Rapid Rooter LLC",
            "estimate_terms": "Valid 30 days.",
            "invoice_terms": "Net 14.",
            "default_tax_rate": "8.25",
            "invoice_due_days": "7",
            "estimate_valid_days": "15",
        },
    )
    assert response.status_code == 303
    customer = make.customer(company)
    invoice = billing.create_invoice(company=company, customer=customer)
    assert invoice.payment_instructions == "Checks to Rapid Rooter LLC"
    assert invoice.tax_rate_mpct == 8250
    assert (invoice.due_on - invoice.issued_on).days == 7
    bad = client.post("/billing/settings", data={"invoice_due_days": "soon"})
    assert bad.status_code == 422
    assert "whole number of days" in bad.get_data(as_text=True)


def test_expired_tab_follows_the_date(client, office, bill):
    from datetime import timedelta

    old = bill.estimate(office, title="Old quote")
    old.valid_until = billing.company_today(office) - timedelta(days=1)
    bill.estimate(office, title="Fresh quote")
    db.session.commit()
    expired = client.get("/estimates?status=expired").get_data(as_text=True)
    assert "Old quote" in expired and "Fresh quote" not in expired
    drafts = client.get("/estimates?status=draft").get_data(as_text=True)
    assert "Fresh quote" in drafts and "Old quote" not in drafts

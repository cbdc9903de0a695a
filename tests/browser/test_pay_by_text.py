"""Issue 18 end to end at phone size: the invoice link texted to the simulated phone, the
customer taps Pay, pays by card on the fake Stripe's hosted page, lands back on the
invoice showing Paid, and the receipt text arrives on the simulated phone. axe-core checks
the invoice page, the hosted page and the paid invoice."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from app.extensions import db
from app.models import Invoice, InvoiceStatus, Message, MessageKind
from app.services import billing
from tests.fixtures.live import PHONE, screenshot
from tests.fixtures.live import serious_axe_violations as serious_violations
from tests.fixtures.payments import connect_company

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("inbound_worker")]


def test_customer_pays_the_texted_invoice_on_the_phone(
    live_server, browser, browser_login, sms_world, bill, fake, dispatcher, stripe_fake
):
    company, customer = sms_world.company, sms_world.customer
    connect_company(company, stripe_fake)
    stripe_fake.auto_deliver = True  # Stripe sends its events on its own, a moment later
    invoice = bill.invoice(
        company,
        customer,
        lines=[("Service call", "1", "89.00", True), ("Drain valve gasket", "2", "12.50", True)],
        tax="8.25",
    )
    billing.send_document(document=invoice, actor=company.owner, send_key=billing.new_send_key())
    db.session.commit()
    assert dispatcher().run_once() == 1
    fake.run_all_callbacks()
    total = billing.money(billing.invoice_totals(invoice).total_cents)

    # The link arrives on the simulated phone (the owner's phone: it shows the office's pages
    # at 390 px below, without logging in again).
    owner_phone = browser.new_context(**PHONE)
    sim = owner_phone.new_page()
    browser_login(sim, company.owner, then=f"/dev/phone?customer={customer.id}")
    link = sim.locator("#sim-thread .sim-theirs").last.locator("a[href*='/i/']")
    href = link.get_attribute("href")
    assert href == billing.public_url(invoice)

    # The customer opens it on their own phone and taps Pay.
    phone_context = browser.new_context(**PHONE)
    phone = phone_context.new_page()
    phone.goto(href)
    pay = phone.locator(f"button:has-text('Pay {total}')")
    expect(pay).to_be_visible()
    screenshot(phone, "pay-invoice-390")
    assert serious_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    pay.click()

    # Stripe's hosted page (the fake's stand-in): a declined card first, then a good one.
    expect(phone.locator("h1")).to_contain_text(f"Pay {company.name}")
    screenshot(phone, "pay-checkout-390")
    assert serious_violations(phone) == []
    phone.click("button:has-text('Use a card that is declined')")
    expect(phone.locator(".pub-error")).to_have_text("Your card was declined.")
    phone.click(f"button:has-text('Pay {total} by card')")

    # Back on the invoice: Paid, with the date (the event may land a moment after).
    phone.wait_for_url("**/i/*?checkout=*")
    deadline = time.monotonic() + 10
    while "Paid in full" not in phone.content() and time.monotonic() < deadline:
        time.sleep(0.1)
        phone.reload()
    expect(phone.locator(".pub-banner-ok")).to_contain_text(
        f"We received your payment of {total} on"
    )
    expect(phone.locator("button:has-text('Pay')")).to_have_count(0)
    screenshot(phone, "pay-paid-390")
    assert serious_violations(phone) == []
    phone_context.close()

    db.session.expire_all()
    paid = db.session.get(Invoice, invoice.id)
    assert paid.status == InvoiceStatus.PAID
    [payment] = paid.payments
    assert payment.method == "card" and payment.stripe_payment_intent_id

    # The receipt text goes out and shows on the simulated phone.
    db.session.scalars(sa.select(Message).filter_by(kind=MessageKind.PAYMENT_RECEIPT)).one()
    assert dispatcher().run_once() == 1
    fake.run_all_callbacks()
    sim.reload()
    expect(sim.locator("#sim-thread .sim-theirs").last).to_contain_text(
        f"received your payment of {total}"
    )
    screenshot(sim, "pay-receipt-on-phone-390")

    # The office sees it on the invoice page.
    office_context = browser.new_context(viewport={"width": 1280, "height": 800})
    office = office_context.new_page()
    browser_login(office, company.owner, then=f"/invoices/{invoice.id}")
    expect(office.locator("#payments")).to_contain_text("online")
    screenshot(office, "pay-office-invoice-1280")
    office.goto(f"{live_server.url}/billing/payments")
    expect(office.locator("#stripe-title + p")).to_contain_text("Connected.")
    screenshot(office, "pay-office-settings-1280")
    assert serious_violations(office) == []
    office_context.close()

    # The same pages at the other size.
    small = sim
    small.goto(f"{live_server.url}/billing/payments")
    screenshot(small, "pay-office-settings-390")
    assert small.evaluate("document.documentElement.scrollWidth") <= 390
    owner_phone.close()
    wide = browser.new_context(viewport={"width": 1280, "height": 800})
    desk = wide.new_page()
    unpaid = bill.invoice(company, customer)
    db.session.commit()
    desk.goto(billing.public_url(unpaid))
    expect(desk.locator("button:has-text('Pay $95.00')")).to_be_visible()
    screenshot(desk, "pay-invoice-1280")
    wide.close()


def test_a_bad_partial_amount_is_explained_beside_the_field(live_server, phone_page, paying):
    from app.services import online_payments

    online_payments.set_partial_payments(company=paying.company, allowed=True)
    db.session.commit()
    phone_page.goto(billing.public_url(paying.invoice))
    phone_page.fill("#pay-amount", "120")
    phone_page.click("button:text-is('Pay')")
    expect(phone_page.locator("#pay-amount-error")).to_have_text(
        "That is more than the balance due ($95.00)."
    )
    expect(phone_page.locator("#pay-amount")).to_have_attribute("aria-invalid", "true")
    screenshot(phone_page, "pay-partial-error-390")
    assert serious_violations(phone_page) == []
    phone_page.fill("#pay-amount", "40.00")
    phone_page.click("button:text-is('Pay')")
    expect(phone_page.locator("h1")).to_contain_text("Pay Pay Plumbing")
    expect(phone_page.locator(".pub-amount-due")).to_contain_text("$40.00")

"""Issue 18, the deposit, at phone size: the customer opens the approved estimate's link,
taps "Pay deposit", pays by card on the fake Stripe's hosted page and lands back on the
estimate showing "Deposit paid", and the receipt text arrives on the simulated phone and
shows on the office's estimate page. axe-core checks each page; the office's deposit setting
is looked at on a phone and a desktop."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from app.extensions import db
from app.models import utcnow
from app.services import billing, online_payments
from tests.fixtures.live import PHONE, screenshot
from tests.fixtures.live import serious_axe_violations as serious_violations
from tests.fixtures.payments import connect_company
from tests.payments.test_deposits import approve

pytestmark = [pytest.mark.browser]


def test_customer_pays_the_deposit_on_the_approved_estimate(
    live_server, browser, browser_login, make, bill, stripe_fake, fake, dispatcher, clock
):
    company = make.company("Deposit Plumbing")
    make.number(company)
    connect_company(company, stripe_fake)
    online_payments.set_deposit(company=company, kind="percent", value="25")
    estimate = approve(bill.estimate(company))  # $180.00 approved: a $45.00 deposit
    db.session.commit()
    stripe_fake.auto_deliver = True  # Stripe sends its events on its own, a moment later

    context = browser.new_context(**PHONE)
    phone = context.new_page()
    phone.goto(billing.public_url(estimate))
    pay = phone.locator("button:has-text('Pay deposit $45.00')")
    expect(pay).to_be_visible()
    screenshot(phone, "deposit-estimate-390")
    assert serious_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    pay.click()

    # The fake's stand-in for Stripe's hosted page: card only for a deposit.
    expect(phone.locator("h1")).to_contain_text("Pay Deposit Plumbing")
    expect(phone.locator("button:has-text('Pay by bank')")).to_have_count(0)
    screenshot(phone, "deposit-checkout-390")
    assert serious_violations(phone) == []
    phone.click("button:has-text('Pay $45.00 by card')")

    phone.wait_for_url("**/e/*?checkout=*")
    deadline = time.monotonic() + 10
    while "Deposit paid" not in phone.content() and time.monotonic() < deadline:
        time.sleep(0.1)
        phone.reload()
    expect(phone.locator("#deposit")).to_contain_text("Deposit paid: $45.00")
    expect(phone.locator("button:has-text('Pay deposit')")).to_have_count(0)
    screenshot(phone, "deposit-paid-390")
    assert serious_violations(phone) == []
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    context.close()

    db.session.expire_all()
    assert online_payments.paid_deposit(estimate).amount_cents == 4500

    # The receipt text goes out through the outbox and arrives on the simulated phone.
    clock.now = utcnow() + timedelta(minutes=1)
    assert dispatcher().run_once() == 1
    fake.run_all_callbacks()
    # The owner, logged in once on a phone and once at a desk, looks at every office page.
    owner_on_phone = browser.new_context(**PHONE)
    owner_at_desk = browser.new_context(viewport={"width": 1280, "height": 800})
    offices = {"390": owner_on_phone.new_page(), "1280": owner_at_desk.new_page()}
    for office in offices.values():
        browser_login(office, company.owner)
    sim = offices["390"]
    sim.goto(f"{live_server.url}/dev/phone?customer={estimate.customer_id}")
    expect(sim.locator("#sim-thread .sim-theirs").last).to_contain_text(
        f"received your deposit of $45.00 for estimate #{estimate.number}"
    )
    screenshot(sim, "deposit-receipt-on-phone-390")

    # The office's estimate page shows the deposit and its receipt in the progress.
    for name, office in offices.items():
        office.goto(f"{live_server.url}/estimates/{estimate.id}")
        progress = office.locator("#doc-progress")
        expect(progress).to_contain_text("Deposit paid")
        expect(progress).to_contain_text("$45.00 online. Receipt text: delivered.")
        progress.scroll_into_view_if_needed()
        screenshot(office, f"deposit-progress-{name}")
        assert serious_violations(office) == []
        assert office.evaluate("document.documentElement.scrollWidth") <= int(name)

    # The office makes the invoice from the estimate: the deposit is on it, $135.00 due.
    invoice = billing.convert_estimate_to_invoice(estimate=estimate)
    db.session.commit()
    context = browser.new_context(**PHONE)
    phone = context.new_page()
    phone.goto(billing.public_url(invoice))
    expect(phone.locator(".pub-amount-due")).to_contain_text("$135.00")
    expect(phone.locator(".pub-payments")).to_contain_text("Deposit paid")
    expect(phone.locator("button:has-text('Pay $135.00')")).to_be_visible()
    screenshot(phone, "deposit-invoice-390")
    assert serious_violations(phone) == []
    context.close()

    # The office's setting, on a phone and a desktop.
    for name, office in offices.items():
        office.goto(f"{live_server.url}/billing/payments")
        expect(office.locator("#deposit-title")).to_be_visible()
        expect(office.locator("#deposit_value")).to_have_value("25")
        office.locator("#deposit-title").scroll_into_view_if_needed()
        screenshot(office, f"deposit-settings-{name}")
        assert serious_violations(office) == []
        assert office.evaluate("document.documentElement.scrollWidth") <= int(name)
    owner_on_phone.close()
    owner_at_desk.close()

"""Billing services: exact totals, state transitions, tokens."""

from __future__ import annotations

import string
import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.models import (
    Direction,
    DiscountKind,
    DocumentText,
    Estimate,
    EstimateApproval,
    EstimateStatus,
    InvoiceStatus,
    Job,
    Message,
    MessageKind,
    MessageRecipient,
    MessageStatus,
    OptionStatus,
    OptOut,
    PaymentMethod,
    utcnow,
)
from app.models.billing import DocumentType
from app.services import billing
from app.services.errors import Conflict, DomainError
from app.services.texting import TextingUnavailable


def line(quantity_milli: int, price: int, taxable: bool = True):
    return SimpleNamespace(quantity_milli=quantity_milli, unit_price_cents=price, taxable=taxable)


# ------------------------------------------------------------------------------ totals


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [(1, 2, 1), (3, 2, 2), (5, 2, 3), (-1, 2, -1), (49, 100, 0), (50, 100, 1), (149, 100, 1)],
)
def test_round_half_up_is_exact(numerator, denominator, expected):
    assert billing.round_half_up(numerator, denominator) == expected


def test_line_amount_rounds_half_up_to_the_cent():
    # 1.5 h x $33.33 = $49.995 -> $50.00; 0.333 x $0.50 = 16.65 cents -> 17 cents.
    assert billing.line_amount_cents(quantity_milli=1500, unit_price_cents=3333) == 5000
    assert billing.line_amount_cents(quantity_milli=333, unit_price_cents=50) == 17
    # 2.5 x $0.01 = 2.5 cents -> 3 cents (half up, not banker's rounding).
    assert billing.line_amount_cents(quantity_milli=2500, unit_price_cents=1) == 3


def test_tax_applies_to_taxable_lines_only():
    totals = billing.compute_totals(
        items=[line(1000, 10000, True), line(2000, 2500, False)], tax_rate_mpct=8250
    )
    assert totals.line_amounts == (10000, 5000)
    assert totals.subtotal_cents == 15000
    assert totals.taxable_subtotal_cents == 10000
    assert totals.tax_cents == 825  # 8.25 % of $100.00, nothing on the $50.00 of labor
    assert totals.total_cents == 15825


def test_tax_with_three_decimal_rate_rounds_half_up():
    # $10.10 at 8.875 % = 89.6375 cents -> 90; $10.00 at 8.875 % = 88.75 -> 89.
    assert billing.compute_totals(items=[line(1000, 1010)], tax_rate_mpct=8875).tax_cents == 90
    assert billing.compute_totals(items=[line(1000, 1000)], tax_rate_mpct=8875).tax_cents == 89


def test_percent_discount_is_spread_before_tax():
    totals = billing.compute_totals(
        items=[line(1000, 10000, True), line(1000, 5000, False)],
        tax_rate_mpct=8250,
        discount_kind=DiscountKind.PERCENT,
        discount_value=1000,  # 10 %
    )
    assert totals.discount_cents == 1500
    assert totals.taxable_discount_cents == 1000  # 2/3 of the discount is on taxable lines
    assert totals.tax_cents == 743  # 8.25 % of $90.00 = 742.5 -> 743
    assert totals.total_cents == 15000 - 1500 + 743 == 14243


def test_fixed_discount_allocation_rounds_and_is_capped():
    totals = billing.compute_totals(
        items=[line(1000, 1000, True), line(1000, 2000, False)],
        tax_rate_mpct=10000,
        discount_kind=DiscountKind.AMOUNT,
        discount_value=100,
    )
    # taxable share of $1.00 = 100 x 1000 / 3000 = 33.33 -> 33 cents
    assert totals.taxable_discount_cents == 33
    assert totals.tax_cents == 97  # 10 % of 967 = 96.7 -> 97
    assert totals.total_cents == 3000 - 100 + 97
    capped = billing.compute_totals(
        items=[line(1000, 500)],
        tax_rate_mpct=0,
        discount_kind=DiscountKind.AMOUNT,
        discount_value=900,
    )
    assert capped.discount_cents == 500
    assert capped.total_cents == 0


def test_parsing_amounts_quantities_rates_and_discounts():
    assert billing.parse_money("$1,234.5", field="x") == 123450
    assert billing.parse_money("0.07", field="x") == 7
    assert billing.parse_quantity("1.5") == 1500
    assert billing.parse_quantity("0.125") == 125
    assert billing.parse_tax_rate("8.875%") == 8875
    assert billing.parse_tax_rate("") == 0
    assert billing.parse_discount("10%") == (DiscountKind.PERCENT, 1000)
    assert billing.parse_discount("$25") == (DiscountKind.AMOUNT, 2500)
    assert billing.parse_discount("") == (DiscountKind.NONE, 0)
    for bad, parse in [
        ("12.345", lambda t: billing.parse_money(t, field="unit_price")),
        ("abc", lambda t: billing.parse_money(t, field="unit_price")),
        ("1.2345", billing.parse_quantity),
        ("0", billing.parse_quantity),
        ("31", billing.parse_tax_rate),
        ("120%", billing.parse_discount),
    ]:
        with pytest.raises(DomainError) as error:
            parse(bad)
        assert error.value.field
    assert billing.format_quantity(1500) == "1.5"
    assert billing.format_tax_rate(8875) == "8.875%"
    assert billing.format_discount(DiscountKind.PERCENT, 1250) == "12.5%"


def test_options_have_their_own_totals(make, bill):
    company = make.company()
    estimate = bill.estimate(
        company,
        tax="8.25",
        options={
            "Repair": [("Patch the tank", "1", "240.00", True)],
            "Replace": [
                ("50 gal water heater", "1", "1,150.00", True),
                ("Labor", "4", "95.00", False),
            ],
        },
    )
    repair, replace = estimate.options
    assert billing.option_totals(repair).total_cents == 24000 + 1980
    assert billing.option_totals(replace).total_cents == 115000 + 38000 + 9488  # 94.875 -> 95
    assert billing.document_amount_text(estimate) == "$259.80 or $1,624.88"


def test_partial_payments_sum_up_and_paid_in_full(make, bill):
    company = make.company()
    invoice = bill.invoice(company, lines=[("Drain cleaning", "1", "100.00", True)], tax="8.25")
    assert billing.invoice_totals(invoice).total_cents == 10825
    now = utcnow()
    billing.record_payment(
        invoice=invoice, amount_cents=4000, method=PaymentMethod.CASH, received_at=now
    )
    assert invoice.status == InvoiceStatus.PARTIALLY_PAID
    assert billing.invoice_balance_cents(invoice) == 6825
    with pytest.raises(DomainError, match=r"more than the balance due \(\$68.25\)"):
        billing.record_payment(
            invoice=invoice, amount_cents=6826, method=PaymentMethod.CHECK, received_at=now
        )
    billing.record_payment(
        invoice=invoice, amount_cents=6825, method=PaymentMethod.CHECK, received_at=now
    )
    assert invoice.status == InvoiceStatus.PAID
    assert invoice.paid_cents == 10825
    assert invoice.paid_at is not None
    assert [p.amount_cents for p in invoice.payments] == [4000, 6825]
    with pytest.raises(Conflict):
        billing.record_payment(
            invoice=invoice, amount_cents=1, method=PaymentMethod.CASH, received_at=now
        )
    with pytest.raises(Conflict):
        billing.void_invoice(invoice=invoice)  # payments recorded
    with pytest.raises(Conflict):
        billing.update_line_item(
            item=invoice.items[0],
            description="x",
            quantity_milli=1000,
            unit_price_cents=1,
            taxable=True,
        )


def test_void_invoice_blocks_payments_and_is_idempotent(make, bill):
    invoice = bill.invoice(make.company())
    assert billing.void_invoice(invoice=invoice, reason="Duplicate") is True
    assert invoice.status == InvoiceStatus.VOID and invoice.voided_at is not None
    assert billing.void_invoice(invoice=invoice) is False
    with pytest.raises(Conflict):
        billing.record_payment(
            invoice=invoice, amount_cents=100, method=PaymentMethod.CASH, received_at=utcnow()
        )


# -------------------------------------------------------------------------- transitions


def _approve(estimate, *, option=None, name="Dana Whitfield", version=None, **extra):
    return billing.approve_estimate(
        estimate=estimate,
        option_id=option.id if option else None,
        signed_name=name,
        accepted_terms=True,
        version=estimate.version if version is None else version,
        ip_address="203.0.113.9",
        user_agent="Mozilla/5.0 (iPhone)",
        **extra,
    )


def _notices(estimate):
    return list(
        db.session.scalars(
            sa.select(Message).filter_by(kind=MessageKind.NOTICE, company_id=estimate.company_id)
        )
    )


def test_approval_records_evidence_declines_other_options_and_notifies(make, bill):
    company = make.company()
    number = make.number(company)
    estimate = bill.estimate(
        company,
        options={
            "Repair": [("Patch", "1", "240.00", True)],
            "Replace": [("New heater", "1", "1150.00", True)],
        },
        terms="50% deposit due at start.",
    )
    repair, replace = estimate.options
    with pytest.raises(DomainError, match="Choose the option"):
        _approve(estimate)
    version = estimate.version
    approval = _approve(estimate, option=replace)
    assert estimate.status == EstimateStatus.APPROVED
    assert estimate.approved_option_id == replace.id
    assert (repair.status, replace.status) == (OptionStatus.DECLINED, OptionStatus.APPROVED)
    assert approval.signed_name == "Dana Whitfield"
    assert approval.ip_address == "203.0.113.9"
    assert approval.user_agent == "Mozilla/5.0 (iPhone)"
    assert approval.document_version == version
    assert approval.terms_snapshot == "50% deposit due at start."
    assert approval.total_cents == 115000
    assert approval.option_title == "Replace"
    (notice,) = _notices(estimate)
    assert notice.direction == Direction.IN
    assert notice.status == MessageStatus.RECEIVED
    assert notice.from_phone == estimate.customer.mobile_phone
    assert notice.to_phone == number.e164
    assert "approved by Dana Whitfield" in notice.body and "$1,150.00" in notice.body
    recipients = db.session.scalars(sa.select(MessageRecipient).filter_by(message_id=notice.id))
    assert [r.user_id for r in recipients] == [company.owner.id]  # no POC: the owner
    assert notice.routing_reason


def test_no_double_approval(make, bill):
    estimate = bill.estimate(make.company())
    first = _approve(estimate)
    again = _approve(estimate, name="Somebody Else")
    assert again.id == first.id
    assert again.signed_name == "Dana Whitfield"
    assert len(_notices(estimate)) == 1
    with pytest.raises(Conflict, match="already approved"):
        billing.decline_estimate(estimate=estimate, reason="changed my mind")


def test_no_approval_after_decline(make, bill):
    estimate = bill.estimate(make.company())
    assert billing.decline_estimate(estimate=estimate, reason="Too expensive") is True
    assert billing.decline_estimate(estimate=estimate, reason="again") is False
    assert estimate.status == EstimateStatus.DECLINED
    assert estimate.decline_reason == "Too expensive"
    with pytest.raises(Conflict, match="declined"):
        _approve(estimate)
    assert estimate.approval is None
    (notice,) = _notices(estimate)
    assert "Too expensive" in notice.body


def test_no_approval_after_expiry(make, bill):
    estimate = bill.estimate(make.company())
    later = utcnow() + timedelta(days=40)  # valid for 30 days by default
    assert billing.estimate_display_status(estimate, later) == EstimateStatus.EXPIRED
    with pytest.raises(Conflict, match="expired"):
        _approve(estimate, now=later)
    assert estimate.status == EstimateStatus.EXPIRED
    assert estimate.expired_at == later
    assert estimate.approval is None


def test_approval_of_a_stale_version_is_refused(make, bill):
    estimate = bill.estimate(make.company())
    shown = estimate.version
    billing.add_line_item(
        document=estimate, description="Permit fee", quantity_milli=1000, unit_price_cents=5000
    )
    assert estimate.version == shown + 1
    with pytest.raises(Conflict, match="updated since you opened it"):
        _approve(estimate, version=shown)
    assert estimate.status == EstimateStatus.DRAFT


def test_approval_needs_a_name_and_the_terms(make, bill):
    estimate = bill.estimate(make.company())
    with pytest.raises(DomainError) as error:
        _approve(estimate, name="  ")
    assert error.value.field == "signed_name"
    with pytest.raises(DomainError) as error:
        billing.approve_estimate(
            estimate=estimate,
            option_id=None,
            signed_name="Dana",
            accepted_terms=False,
            version=estimate.version,
            ip_address=None,
            user_agent=None,
        )
    assert error.value.field == "accept_terms"


def test_approved_estimate_is_locked(make, bill):
    estimate = bill.estimate(make.company())
    _approve(estimate)
    with pytest.raises(Conflict):
        billing.add_line_item(
            document=estimate, description="More", quantity_milli=1000, unit_price_cents=1
        )


def test_viewed_never_overrides_a_decision(make, bill):
    estimate = bill.estimate(make.company())
    estimate.status = EstimateStatus.SENT
    db.session.flush()
    assert billing.mark_viewed(document=estimate) is True
    assert estimate.status == EstimateStatus.VIEWED
    first_view = estimate.viewed_at
    _approve(estimate)
    billing.mark_viewed(document=estimate)
    assert estimate.status == EstimateStatus.APPROVED
    assert estimate.viewed_at == first_view


def test_request_changes_once_per_form(make, bill):
    estimate = bill.estimate(make.company())
    key = billing.new_send_key()
    one = billing.request_estimate_changes(
        estimate=estimate, message="Can you use a 40 gal tank?", request_key=key
    )
    two = billing.request_estimate_changes(
        estimate=estimate, message="Can you use a 40 gal tank?", request_key=key
    )
    assert one.id == two.id
    assert "40 gal" in one.body
    assert estimate.changes_requested_at is not None
    with pytest.raises(DomainError):
        billing.request_estimate_changes(estimate=estimate, message=" ", request_key=key)


def test_convert_approved_estimate_to_invoice_and_job_once(make, bill):
    company = make.company()
    estimate = bill.estimate(
        company,
        tax="8.25",
        discount="10%",
        options={
            "Repair": [("Patch", "1", "240.00", True)],
            "Replace": [("New heater", "1", "1150.00", True), ("Labor", "3", "95", False)],
        },
    )
    with pytest.raises(Conflict):
        billing.convert_estimate_to_invoice(estimate=estimate)
    _approve(estimate, option=estimate.options[1])
    invoice = billing.convert_estimate_to_invoice(estimate=estimate)
    assert [i.description for i in invoice.items] == ["New heater", "Labor"]
    assert (
        billing.invoice_totals(invoice).total_cents
        == billing.option_totals(estimate.options[1]).total_cents
    )
    assert billing.convert_estimate_to_invoice(estimate=estimate).id == invoice.id
    start = utcnow().replace(microsecond=0) + timedelta(days=1)
    job = billing.convert_estimate_to_job(
        estimate=estimate, scheduled_start=start, scheduled_end=start + timedelta(hours=3)
    )
    assert job.customer_id == estimate.customer_id
    assert job.description == "Water heater"
    again = billing.convert_estimate_to_job(
        estimate=estimate, scheduled_start=start, scheduled_end=start + timedelta(hours=3)
    )
    assert again.id == job.id
    assert db.session.scalar(sa.select(sa.func.count(Job.id))) == 1
    assert invoice.job_id == job.id


def test_revise_supersedes_the_old_link(make, bill):
    estimate = bill.estimate(
        make.company(),
        options={"Repair": [("Patch", "1", "240", True)], "Replace": [("New", "1", "900", True)]},
    )
    billing.decline_estimate(estimate=estimate, reason=None)
    copy = billing.revise_estimate(estimate=estimate)
    assert copy.status == EstimateStatus.DRAFT and copy.number == estimate.number + 1
    assert [o.title for o in copy.options] == ["Repair", "Replace"]
    assert [i.description for o in copy.options for i in o.items] == ["Patch", "New"]
    lookup = billing.find_public_document(kind=DocumentType.ESTIMATE, token=estimate.public_token)
    assert lookup.gone == "superseded"


# ------------------------------------------------------------------------------ sending


def test_send_needs_a_number_and_respects_opt_out(make, bill):
    company = make.company()
    estimate = bill.estimate(company)
    with pytest.raises(TextingUnavailable) as error:
        billing.send_document(document=estimate, actor=company.owner, send_key="k" * 12)
    assert error.value.reason == TextingUnavailable.NO_NUMBER
    make.number(company)
    db.session.add(
        OptOut(company_id=company.id, phone=estimate.customer.mobile_phone, keyword="STOP")
    )
    db.session.flush()
    with pytest.raises(TextingUnavailable) as error:
        billing.send_document(document=estimate, actor=company.owner, send_key="k" * 12)
    assert error.value.reason == TextingUnavailable.OPTED_OUT
    assert estimate.status == EstimateStatus.DRAFT


def test_send_queues_one_text_per_click_and_resends(make, bill):
    company = make.company(name="Rapid Rooter")
    make.number(company)
    customer = make.customer(company, name="Dana Whitfield")
    estimate = bill.estimate(company, customer, tax="8.25")
    key = billing.new_send_key()
    first = billing.send_document(document=estimate, actor=company.owner, send_key=key)
    double_tap = billing.send_document(document=estimate, actor=company.owner, send_key=key)
    assert first.id == double_tap.id
    assert first.kind == MessageKind.ESTIMATE
    assert first.status == MessageStatus.PENDING
    assert first.to_phone == customer.mobile_phone
    assert billing.public_url(estimate) in first.body
    assert "Hi Dana" in first.body and "Rapid Rooter" in first.body
    assert "$194.85" in first.body  # $180.00 + 8.25 % tax, the same total as the page
    assert estimate.status == EstimateStatus.SENT and estimate.sent_at is not None
    resend = billing.send_document(
        document=estimate, actor=company.owner, send_key=billing.new_send_key()
    )
    assert resend.id != first.id
    assert [m.id for m in billing.document_texts(estimate)] == [first.id, resend.id]
    assert db.session.scalar(sa.select(sa.func.count(DocumentText.id))) == 2


def test_progress_follows_the_message_status(make, bill):
    company = make.company()
    make.number(company)
    estimate = bill.estimate(company)
    message = billing.send_document(
        document=estimate, actor=company.owner, send_key=billing.new_send_key()
    )
    labels = lambda: [(s.label, s.state) for s in billing.document_progress(estimate)]  # noqa: E731
    assert labels()[:2] == [("Sent", "todo"), ("Delivered", "todo")]
    message.status = MessageStatus.DELIVERED
    message.sent_at = message.delivered_at = utcnow()
    billing.mark_viewed(document=estimate)
    _approve(estimate)
    assert labels() == [
        ("Sent", "done"),
        ("Delivered", "done"),
        ("Viewed", "done"),
        ("Approved", "done"),
    ]


# ------------------------------------------------------------------------------- tokens


def test_tokens_are_long_random_and_unique(make, bill):
    company = make.company()
    tokens = [bill.estimate(company).public_token for _ in range(5)]
    tokens += [bill.invoice(company).public_token for _ in range(5)]
    alphabet = set(string.ascii_letters + string.digits + "-_")
    for token in tokens:
        assert set(token) <= alphabet
        # URL-safe base64: 6 bits per character.
        assert len(token) * 6 >= 128
    assert len(set(tokens)) == len(tokens)


def test_case_flipped_token_finds_nothing(make, bill):
    estimate = bill.estimate(make.company())
    token = estimate.public_token
    assert billing.find_public_document(kind="estimate", token=token).document is estimate
    flipped = token.swapcase()
    assert flipped != token
    assert billing.find_public_document(kind="estimate", token=flipped).document is None
    assert billing.find_public_document(kind="estimate", token=token[:-1]).document is None
    assert billing.find_public_document(kind="estimate", token=token + "x").document is None


def test_revoked_token_is_gone_and_a_new_one_works(make, bill):
    estimate = bill.estimate(make.company())
    old = estimate.public_token
    new = billing.revoke_link(document=estimate)
    assert new != old
    gone = billing.find_public_document(kind="estimate", token=old)
    assert gone.document is estimate and gone.gone == "revoked"
    assert billing.find_public_document(kind="estimate", token=new).gone is None


def test_another_documents_token_never_shows_this_one(make, bill):
    company = make.company()
    mine = bill.estimate(company)
    other = bill.estimate(make.company())
    invoice = bill.invoice(company)
    assert billing.find_public_document(kind="estimate", token=other.public_token).document is (
        other
    )
    # An invoice token under the estimate prefix (and back) finds nothing.
    assert billing.find_public_document(kind="estimate", token=invoice.public_token).document is (
        None
    )
    assert billing.find_public_document(kind="invoice", token=mine.public_token).document is None


def test_void_invoice_token_is_gone(make, bill):
    invoice = bill.invoice(make.company())
    billing.void_invoice(invoice=invoice)
    assert billing.find_public_document(kind="invoice", token=invoice.public_token).gone == "void"


def test_repeated_misses_from_one_address_are_rate_limited(
    app, client, rate_limits, make, bill, monkeypatch
):
    monkeypatch.setitem(app.config, "DOCUMENT_MISS_LIMIT", "5 per minute")
    limit = 5
    estimate = bill.estimate(make.company())
    db.session.commit()
    # Hits on a real link never count.
    for _ in range(limit + 2):
        assert client.get(f"/e/{estimate.public_token}").status_code == 200
    for _ in range(limit):
        assert client.get("/e/" + "A" * 24).status_code == 404
    assert client.get("/e/" + "B" * 24).status_code == 429
    assert client.get(f"/e/{estimate.public_token}").status_code == 429
    other = client.get("/e/" + "C" * 24, environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert other.status_code == 404


# ------------------------------------------------------------------------------- races


def _race(app, estimate_id: int, *actions) -> list[str]:
    """Run each action(estimate) in its own thread and session, released together after
    every thread has read the estimate (so each one saw it open)."""
    barrier = threading.Barrier(len(actions))
    outcomes: list[str] = [""] * len(actions)

    def run(index: int, action) -> None:
        with app.app_context():
            try:
                estimate = db.session.get(Estimate, estimate_id)
                assert estimate.status == EstimateStatus.DRAFT
                barrier.wait(timeout=10)
                action(estimate)
                db.session.commit()
                outcomes[index] = "ok"
            except Conflict:
                db.session.rollback()
                outcomes[index] = "conflict"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_approvals_at_once_make_one(app, make, bill):
    estimate = bill.estimate(make.company())
    db.session.commit()
    names = iter(["First Signer", "Second Signer"])

    def approve(target):
        _approve(target, name=next(names))

    assert _race(app, estimate.id, approve, approve) == ["ok", "ok"]
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(EstimateApproval.id))) == 1
    assert len(_notices(estimate)) == 1


def test_approve_and_decline_at_once_one_wins(app, make, bill):
    estimate = bill.estimate(make.company())
    db.session.commit()
    outcomes = _race(
        app,
        estimate.id,
        lambda target: _approve(target),
        lambda target: billing.decline_estimate(estimate=target, reason="No"),
    )
    assert sorted(outcomes) == ["conflict", "ok"]
    db.session.expire_all()
    final = db.session.get(Estimate, estimate.id)
    approvals = db.session.scalar(sa.select(sa.func.count(EstimateApproval.id)))
    if final.status == EstimateStatus.APPROVED:
        assert outcomes[0] == "ok" and approvals == 1
    else:
        assert final.status == EstimateStatus.DECLINED
        assert outcomes[1] == "ok" and approvals == 0
    assert len(_notices(estimate)) == 1


def test_a_new_date_reopens_an_expired_estimate(make, bill):
    estimate = bill.estimate(make.company())
    estimate.status, estimate.sent_at = EstimateStatus.SENT, utcnow()
    later = utcnow() + timedelta(days=40)
    with pytest.raises(Conflict):
        _approve(estimate, now=later)
    assert estimate.status == EstimateStatus.EXPIRED
    billing.update_estimate_details(
        estimate=estimate,
        title=estimate.title,
        tax_rate_mpct=0,
        discount_kind=DiscountKind.NONE,
        discount_value=0,
        notes=None,
        internal_notes=None,
        terms=estimate.terms,
        valid_until=billing.company_today(estimate.company, later) + timedelta(days=7),
        now=later,
    )
    assert estimate.status == EstimateStatus.SENT and estimate.expired_at is None
    assert _approve(estimate, now=later).signed_name == "Dana Whitfield"

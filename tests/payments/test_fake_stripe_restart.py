"""The fake Stripe keeps the connected accounts across a restart of `make run` (in
instance/fake_stripe_accounts.json), so a company connected by hand can still take
payments after the server restarts; everything else stays in memory, like the fake
Twilio."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app import create_app
from app.config import load_config
from app.extensions import db
from app.models import CheckoutSession, CheckoutStatus, utcnow
from app.payments import gateway
from app.payments.fake_stripe import DEMO_ACCOUNT_ID, FakeStripe, fake_stripe
from app.services import online_payments


def _development_app(tmp_path):
    """An app as `make run` makes it (not testing: the fake keeps its accounts file)."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
            "FAKE_STRIPE_ACCOUNTS_FILE": str(tmp_path / "fake_stripe_accounts.json"),
            "FAKE_STRIPE_AUTO_DELIVER": False,
        }
    )


def test_make_run_keeps_the_file_in_the_instance_folder(monkeypatch, tmp_path):
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    config = load_config(str(tmp_path))
    assert config["FAKE_STRIPE_ACCOUNTS_FILE"] == str(tmp_path / "fake_stripe_accounts.json")


def test_an_account_connected_by_hand_survives_a_restart(tmp_path):
    before = _development_app(tmp_path)
    assert not before.testing
    with before.app_context():
        account = gateway.create_account(email=None, business_name="Hand Co", company_id=7)
        fake_stripe().complete_onboarding(account.id)

    # The server restarts: a new app, a new fake, the same instance folder.
    after = _development_app(tmp_path)
    with after.app_context():
        assert fake_stripe() is not fake_stripe(before)
        again = gateway.retrieve_account(account.id)  # the real SDK, in-process
        assert (again.charges_enabled, again.business_name) == (True, "Hand Co")
        # And it can take payments at once (no 403 "no access to account").
        session = gateway.create_checkout_session(
            account_id=account.id,
            amount_cents=5000,
            description="Invoice #1001",
            metadata={"invoice_id": "1"},
            client_reference_id="invoice-1-v1",
            success_url="http://x/s",
            cancel_url="http://x/c",
            expires_at=utcnow() + timedelta(hours=2),
            application_fee_cents=0,
            customer_email=None,
            idempotency_key="after-restart",
        )
        assert session.status == "open"
    stored = json.loads((tmp_path / "fake_stripe_accounts.json").read_text())
    assert list(stored["accounts"]) == [account.id]  # the demo account is built in


def test_a_deauthorized_account_stays_gone_after_a_restart(tmp_path):
    path = tmp_path / "accounts.json"
    first = FakeStripe(
        secret_key="sk",
        webhook_secret="wh",
        target_app=None,
        public_base_url=lambda: "http://x",
        accounts_file=path,
    )
    kept = first.create_account({"type": "standard"})["id"]
    gone = first.create_account({"type": "standard"})["id"]
    first.deauthorize(gone)  # the Pro disconnects the platform in their dashboard
    second = FakeStripe(
        secret_key="sk",
        webhook_secret="wh",
        target_app=None,
        public_base_url=lambda: "http://x",
        accounts_file=path,
    )
    second.check_access(kept)
    second.check_access(DEMO_ACCOUNT_ID)
    with pytest.raises(Exception, match="does not have access"):
        second.check_access(gone)


def test_another_process_sees_an_account_connected_in_the_first(tmp_path):
    """gunicorn workers and `flask outbox work` each have their own fake: one connects,
    the other reads the file on its next look."""
    path = tmp_path / "accounts.json"

    def fake() -> FakeStripe:
        return FakeStripe(
            secret_key="sk",
            webhook_secret="wh",
            target_app=None,
            public_base_url=lambda: "http://x",
            accounts_file=path,
        )

    web, worker = fake(), fake()
    account = web.create_account({"type": "standard"})["id"]
    assert worker.account(account)["charges_enabled"] is False
    with web.lock:
        web.account(account)["charges_enabled"] = True
        web._save_accounts()
    assert worker.account(account)["charges_enabled"] is True


def test_a_broken_file_starts_from_memory(tmp_path, caplog):
    path = tmp_path / "accounts.json"
    path.write_text("{not json")
    fake = FakeStripe(
        secret_key="sk",
        webhook_secret="wh",
        target_app=None,
        public_base_url=lambda: "http://x",
        accounts_file=path,
    )
    assert list(fake.accounts) == [DEMO_ACCOUNT_ID]
    assert "could not read" in caplog.text


def test_the_products_pay_flow_after_the_fake_restarted(paying, monkeypatch, tmp_path):
    """A company connected by hand, then the fake forgets everything but its accounts
    file (`reset()` is what a restart leaves): Pay still works, on a new session."""
    monkeypatch.setattr(paying.fake, "accounts_file", tmp_path / "accounts.json")
    with paying.fake.lock:
        paying.fake._save_accounts()
    first = paying.checkout()
    paying.fake.reset()  # the restart: sessions gone, accounts read back from the file
    assert paying.account.account_id in paying.fake.accounts
    again = paying.checkout()
    assert again.id != first.id
    assert online_payments.pay_option(paying.invoice).reason is None
    db.session.refresh(first)
    assert first.status == CheckoutStatus.EXPIRED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CheckoutSession)) == 2

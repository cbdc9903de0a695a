"""The fake Stripe's state, switches and webhook delivery.

Objects are kept as the JSON Stripe would return (dicts), per connected account: an object
made with a `Stripe-Account` header (a direct charge on a connected account) is invisible
without that header, as on Stripe. Webhook events for connected accounts carry `account`
and are signed with the Connect endpoint's secret, `Stripe-Signature: t=...,v1=...`.

Like the fake Twilio, everything lives in memory, per process, except the **connected
accounts** when `accounts_file` is given (`make run`: instance/fake_stripe_accounts.json,
beside the SQLite database). The product's database remembers that a company connected
`acct_...`; were the fake to forget the account on a restart, every Pay would answer 403
("no access to account") until the Pro connected again. Sessions and payments may be
forgotten: the product asks Stripe before reusing a session and makes a new one when
Stripe no longer has it. The file is re-read when another process changed it (gunicorn
workers and `flask outbox work` each have their own fake).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.test import Client as WSGIClient

from app.atomic_files import write_atomically
from app.models.types import utcnow

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
PLATFORM = ""  # the key under which the platform's own objects live
API_VERSION = "2025-01-27.acacia"
# A Checkout Session lives 24 hours unless told otherwise (Stripe's default and maximum).
SESSION_LIFETIME = timedelta(hours=24)
WEBHOOK_PATH = "/webhooks/stripe"
# A connected account every fake Stripe has, onboarded, in every process: `flask demo`
# connects the demo company to it, so `make run` can take payments from the first page.
DEMO_ACCOUNT_ID = "acct_1FakeDemo0000000"


def new_id(prefix: str) -> str:
    return f"{prefix}_test_{secrets.token_hex(12)}"


class StripeAPIError(Exception):
    """An error the fake answers with Stripe's body: {"error": {type, code, message}}."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type_: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type_
        self.code = code
        self.param = param
        self.decline_code = decline_code

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if self.decline_code:
            error["decline_code"] = self.decline_code
        return {"error": error}


def missing(kind: str, object_id: str, param: str = "id") -> StripeAPIError:
    return StripeAPIError(
        f"No such {kind}: '{object_id}'", status=404, code="resource_missing", param=param
    )


@dataclass
class Delivery:
    event_id: str
    type: str
    status: int
    body: str


class FakeStripe:
    def __init__(
        self,
        *,
        secret_key: str,
        webhook_secret: str,
        target_app: Any,
        public_base_url: Callable[[], str],
        clock: Clock = utcnow,
        auto_deliver: bool = False,
        accounts_file: str | Path | None = None,
    ) -> None:
        self.secret_key = secret_key
        # Where the connected accounts outlive the process (None: memory only, as in tests).
        self.accounts_file = Path(accounts_file) if accounts_file else None
        self._accounts_mtime: int | None = None
        # Stripe delivers events on its own, a moment after they happen; tests deliver
        # them by hand (`deliver_pending`) so they can look in between.
        self.auto_deliver = auto_deliver
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        # One deliverer at a time, so `deliver_pending` returns only once every event is in,
        # including one the background thread had already taken off the queue.
        self._delivering = threading.RLock()
        self.webhook_secret = webhook_secret
        self.target_app = target_app
        self.public_base_url = public_base_url
        self.clock = clock
        self.api: Any = None  # the REST WSGI app, set by `fake_stripe()`
        self.lock = threading.RLock()
        self.reset()

    def reset(self) -> None:
        """Forget everything and turn every switch off (tests call this between tests)."""
        with self.lock:
            self.accounts: dict[str, dict[str, Any]] = {}
            # account ("" = the platform) -> object id -> object
            self.objects: dict[str, dict[str, dict[str, Any]]] = {}
            self.events: list[dict[str, Any]] = []
            self.deliveries: list[Delivery] = []
            self.requests: list[tuple[str, str, str]] = []  # (method, path, Stripe-Account)
            self.idempotent: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
            self.fail_next_status: list[int] = []
            self.pending: list[dict[str, Any]] = []
            self.accounts[DEMO_ACCOUNT_ID] = {
                "id": DEMO_ACCOUNT_ID,
                "object": "account",
                "type": "standard",
                "business_profile": {"name": "Demo business"},
                "charges_enabled": True,
                "payouts_enabled": True,
                "details_submitted": True,
                "country": "US",
                "default_currency": "usd",
                "email": None,
                "created": 1700000000,
                "metadata": {},
            }
            self._accounts_mtime = None
            self._load_accounts()

    # -- switches ------------------------------------------------------------------------

    def fail_next(self, count: int = 1, *, status: int = 500) -> None:
        """The next `count` API requests answer `status` with Stripe's api_error body."""
        with self.lock:
            self.fail_next_status.extend([status] * count)

    def take_fault(self) -> int | None:
        with self.lock:
            return self.fail_next_status.pop(0) if self.fail_next_status else None

    # -- storage ---------------------------------------------------------------------------

    def now_ts(self) -> int:
        return int(self.clock().timestamp())

    def put(self, account: str, obj: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.objects.setdefault(account, {})[obj["id"]] = obj
        return obj

    def get(self, account: str, object_id: str, kind: str) -> dict[str, Any]:
        with self.lock:
            obj = self.objects.get(account, {}).get(object_id)
        if obj is None or obj["object"] != kind:
            raise missing(kind, object_id)
        return obj

    def find_session(self, session_id: str) -> tuple[str, dict[str, Any]]:
        """The session and its account, whatever the account (the hosted page's view)."""
        with self.lock:
            for account, objects in self.objects.items():
                obj = objects.get(session_id)
                if obj is not None and obj["object"] == "checkout.session":
                    self._expire_if_due(obj)
                    return account, obj
        raise missing("checkout.session", session_id)

    def _expire_if_due(self, session: dict[str, Any]) -> None:
        if session["status"] == "open" and session["expires_at"] <= self.now_ts():
            session["status"] = "expired"

    # -- accounts (Connect), kept in `accounts_file` --------------------------------------------

    def _load_accounts(self) -> None:
        """Take the accounts from the file if it changed since we last read or wrote it
        (another process connected or onboarded one). Caller holds the lock."""
        if self.accounts_file is None:
            return
        try:
            mtime = self.accounts_file.stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == self._accounts_mtime:
            return
        try:
            stored = json.loads(self.accounts_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            # A broken file must not stop the development server: start from memory.
            log.warning("fake Stripe: could not read %s: %s", self.accounts_file, error)
            return
        accounts = stored.get("accounts") if isinstance(stored, dict) else None
        if isinstance(accounts, dict):
            self.accounts = {DEMO_ACCOUNT_ID: self.accounts[DEMO_ACCOUNT_ID], **accounts}
        self._accounts_mtime = mtime

    def _save_accounts(self) -> None:
        """Write every account but the demo one (each fake has it) atomically: a reader
        in another process sees the old file or the new one, never half of it. Caller
        holds the lock."""
        if self.accounts_file is None:
            return
        kept = {key: value for key, value in self.accounts.items() if key != DEMO_ACCOUNT_ID}
        write_atomically(self.accounts_file, json.dumps({"accounts": kept}, indent=1).encode())
        self._accounts_mtime = self.accounts_file.stat().st_mtime_ns

    # -- accounts (Connect) ------------------------------------------------------------------

    def create_account(self, params: dict[str, Any]) -> dict[str, Any]:
        account_type = params.get("type") or "standard"
        if account_type not in {"standard", "express", "custom"}:
            raise StripeAPIError(f"Invalid type: {account_type}", param="type")
        account = {
            "id": new_id("acct").replace("_test", "")[:21],
            "object": "account",
            "type": account_type,
            "business_profile": {"name": (params.get("business_profile") or {}).get("name")},
            "charges_enabled": False,
            "payouts_enabled": False,
            "details_submitted": False,
            "country": params.get("country") or "US",
            "default_currency": "usd",
            "email": params.get("email"),
            "created": self.now_ts(),
            "metadata": params.get("metadata") or {},
        }
        with self.lock:
            self._load_accounts()
            self.accounts[account["id"]] = account
            self._save_accounts()
        return account

    def account(self, account_id: str) -> dict[str, Any]:
        with self.lock:
            self._load_accounts()
            account = self.accounts.get(account_id)
        if account is None:
            raise StripeAPIError(
                f"No such account: '{account_id}'",
                status=404,
                code="resource_missing",
                param="account",
            )
        return account

    def check_access(self, account_id: str) -> None:
        """A `Stripe-Account` header the platform has no access to is 403, as on Stripe."""
        with self.lock:
            self._load_accounts()
            known = account_id in self.accounts
        if not known:
            raise StripeAPIError(
                "The provided key does not have access to account "
                f"'{account_id}' (or that account does not exist).",
                status=403,
                type_="invalid_request_error",
                code="account_invalid",
            )

    def create_account_link(self, params: dict[str, Any]) -> dict[str, Any]:
        account_id = params.get("account") or ""
        self.account(account_id)
        for name in ("refresh_url", "return_url"):
            if not params.get(name):
                raise StripeAPIError(f"Missing required param: {name}.", param=name)
        link_id = new_id("link")
        now = self.now_ts()
        link = {
            "object": "account_link",
            "created": now,
            "expires_at": now + 300,
            "url": self.public_base_url().rstrip("/") + f"/dev/stripe/connect/{link_id}",
        }
        with self.lock:
            self.put(PLATFORM, {"id": link_id, "object": "_link", "account": account_id, **params})
        return link

    def link(self, link_id: str) -> dict[str, Any]:
        return self.get(PLATFORM, link_id, "_link")

    def complete_onboarding(self, account_id: str, *, charges_enabled: bool = True) -> None:
        """What a Pro finishing Stripe's onboarding forms does to their account."""
        with self.lock:
            account = self.account(account_id)
            account["details_submitted"] = True
            account["charges_enabled"] = charges_enabled
            account["payouts_enabled"] = charges_enabled
            self._save_accounts()
        self.emit("account.updated", account, account=account_id)

    def deauthorize(self, account_id: str) -> None:
        """The account's owner disconnects the platform in their Stripe dashboard: the
        platform loses access (403) and gets `account.application.deauthorized`."""
        account = self.account(account_id)
        application = {"id": "ca_fake_platform", "object": "application", "name": "ProSMS"}
        with self.lock:
            self.accounts.pop(account_id)
            self._save_accounts()
        self.emit("account.application.deauthorized", application, account=account["id"])

    # -- Checkout Sessions -------------------------------------------------------------------

    def create_session(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        if account:
            connected = self.account(account)
            if not connected["charges_enabled"]:
                raise StripeAPIError(
                    "Your account cannot currently make charges. Finish onboarding first.",
                    code="account_invalid",
                )
        if params.get("mode") != "payment":
            raise StripeAPIError("Only mode=payment is supported by the fake.", param="mode")
        items = params.get("line_items") or []
        if not items:
            raise StripeAPIError("Missing required param: line_items.", param="line_items")
        total = 0
        for index, item in enumerate(items):
            price = item.get("price_data") or {}
            try:
                amount = int(price.get("unit_amount"))
                quantity = int(item.get("quantity") or 1)
            except (TypeError, ValueError):
                raise StripeAPIError(
                    "Invalid integer.", param=f"line_items[{index}][price_data][unit_amount]"
                ) from None
            if price.get("currency") != "usd":
                raise StripeAPIError("Invalid currency.", param="currency")
            total += amount * quantity
        if total < 50:
            raise StripeAPIError(
                "The Checkout Session's total amount due must add up to at least $0.50 usd",
                code="amount_too_small",
            )
        for name in ("success_url", "cancel_url"):
            if not params.get(name):
                raise StripeAPIError(f"Missing required param: {name}.", param=name)
        now = self.now_ts()
        expires_at = int(params.get("expires_at") or now + SESSION_LIFETIME.total_seconds())
        if not (now + 1800 <= expires_at <= now + 86400):
            raise StripeAPIError(
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from "
                "Checkout Session creation.",
                param="expires_at",
            )
        session_id = new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "amount_subtotal": total,
            "amount_total": total,
            "cancel_url": params["cancel_url"],
            "client_reference_id": params.get("client_reference_id"),
            "created": now,
            "currency": "usd",
            "customer_email": params.get("customer_email"),
            "expires_at": expires_at,
            "livemode": False,
            "metadata": params.get("metadata") or {},
            "mode": "payment",
            "payment_intent": None,
            "payment_method_types": params.get("payment_method_types") or ["card"],
            "payment_status": "unpaid",
            "status": "open",
            "success_url": params["success_url"],
            "url": self.public_base_url().rstrip("/") + f"/dev/checkout/{session_id}",
            # Kept for the PaymentIntent made when the customer pays; not returned by Stripe.
            "_payment_intent_data": params.get("payment_intent_data") or {},
            "_line_items": items,
        }
        return self.put(account, session)

    def session(self, account: str, session_id: str) -> dict[str, Any]:
        session = self.get(account, session_id, "checkout.session")
        with self.lock:
            self._expire_if_due(session)
        return session

    def expire_session(self, account: str, session_id: str) -> dict[str, Any]:
        session = self.session(account, session_id)
        with self.lock:
            if session["status"] != "open":
                raise StripeAPIError(
                    f'Only Checkout Sessions with a status in ["open"] can be expired. '
                    f'This Checkout Session has a status of "{session["status"]}".'
                )
            session["status"] = "expired"
        self.emit("checkout.session.expired", session, account=account)
        return session

    # -- the hosted page's actions -------------------------------------------------------------

    def _open_session(self, session_id: str) -> tuple[str, dict[str, Any]]:
        account, session = self.find_session(session_id)
        if session["status"] != "open":
            raise StripeAPIError(
                f"This Checkout Session is {session['status']}.", code="session_not_open"
            )
        return account, session

    def _payment_intent(
        self, account: str, session: dict[str, Any], method: str, status: str
    ) -> dict[str, Any]:
        data = session["_payment_intent_data"]
        intent = {
            "id": new_id("pi"),
            "object": "payment_intent",
            "amount": session["amount_total"],
            "amount_received": session["amount_total"] if status == "succeeded" else 0,
            "application_fee_amount": int(data["application_fee_amount"])
            if data.get("application_fee_amount")
            else None,
            "created": self.now_ts(),
            "currency": "usd",
            "latest_charge": None,
            "last_payment_error": None,
            "livemode": False,
            "metadata": data.get("metadata") or {},
            "payment_method_types": [method],
            "status": status,
        }
        self.put(account, intent)
        session["payment_intent"] = intent["id"]
        return intent

    def _charge(self, account: str, intent: dict[str, Any], status: str) -> dict[str, Any]:
        charge = {
            "id": new_id("ch"),
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": intent["amount"] if status == "succeeded" else 0,
            "amount_refunded": 0,
            "created": self.now_ts(),
            "currency": "usd",
            "metadata": intent["metadata"],
            "paid": status == "succeeded",
            "payment_intent": intent["id"],
            "payment_method_details": {"type": intent["payment_method_types"][0]},
            "refunded": False,
            "status": status,
        }
        intent["latest_charge"] = charge["id"]
        return self.put(account, charge)

    def pay_with_card(self, session_id: str, *, decline: bool = False) -> dict[str, Any]:
        """The customer pays on the hosted page. A declined card leaves the session open
        (the customer may try another card) and sends no Checkout event."""
        account, session = self._open_session(session_id)
        if decline:
            raise StripeAPIError(
                "Your card was declined.",
                status=402,
                type_="card_error",
                code="card_declined",
                decline_code="generic_decline",
            )
        with self.lock:
            intent = self._payment_intent(account, session, "card", "succeeded")
            self._charge(account, intent, "succeeded")
            session["status"] = "complete"
            session["payment_status"] = "paid"
        self.emit("checkout.session.completed", session, account=account)
        return session

    def pay_with_bank(self, session_id: str) -> dict[str, Any]:
        """ACH: the session completes unpaid; the money arrives (or not) days later."""
        account, session = self._open_session(session_id)
        if "us_bank_account" not in session["payment_method_types"]:
            raise StripeAPIError(
                "This Checkout Session does not accept us_bank_account payments.",
                param="payment_method_types",
            )
        with self.lock:
            intent = self._payment_intent(account, session, "us_bank_account", "processing")
            self._charge(account, intent, "pending")
            session["status"] = "complete"
            session["payment_status"] = "unpaid"
        self.emit("checkout.session.completed", session, account=account)
        return session

    def settle_bank(self, session_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """The bank debit clears (or bounces): Stripe sends the async Checkout event."""
        account, session = self.find_session(session_id)
        intent = self.get(account, session["payment_intent"] or "", "payment_intent")
        if intent["status"] != "processing":
            raise StripeAPIError(
                "This payment is not processing.", code="payment_intent_unexpected_state"
            )
        charge = self.get(account, intent["latest_charge"], "charge")
        with self.lock:
            if succeed:
                intent["status"] = "succeeded"
                intent["amount_received"] = intent["amount"]
                charge.update(status="succeeded", paid=True, amount_captured=intent["amount"])
                session["payment_status"] = "paid"
            else:
                intent["status"] = "requires_payment_method"
                intent["last_payment_error"] = {
                    "type": "invalid_request_error",
                    "code": "insufficient_funds",
                    "message": "The customer's account has insufficient funds.",
                }
                charge.update(status="failed")
        event = "async_payment_succeeded" if succeed else "async_payment_failed"
        self.emit(f"checkout.session.{event}", session, account=account)
        return session

    # -- refunds -------------------------------------------------------------------------------

    def create_refund(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        intent_id = params.get("payment_intent") or ""
        try:
            intent = self.get(account, intent_id, "payment_intent")
        except StripeAPIError:
            raise missing("payment_intent", intent_id, "payment_intent") from None
        if intent["status"] != "succeeded":
            raise StripeAPIError(
                "This PaymentIntent has not succeeded; there is nothing to refund.",
                code="payment_intent_unexpected_state",
            )
        charge = self.get(account, intent["latest_charge"], "charge")
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise StripeAPIError(
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = int(params.get("amount") or remaining)
        if amount <= 0 or amount > remaining:
            raise StripeAPIError(
                f"Refund amount (${amount / 100:.2f}) is greater than unrefunded amount on "
                f"charge (${remaining / 100:.2f})",
                code="amount_too_large",
                param="amount",
            )
        refund = {
            "id": new_id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "created": self.now_ts(),
            "currency": "usd",
            "metadata": params.get("metadata") or {},
            "payment_intent": intent_id,
            "reason": params.get("reason"),
            "status": "succeeded",
        }
        with self.lock:
            self.put(account, refund)
            charge["amount_refunded"] += amount
            charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        self.emit("charge.refunded", charge, account=account)
        return refund

    # -- events and webhooks -------------------------------------------------------------------

    def emit(self, event_type: str, obj: dict[str, Any], *, account: str) -> dict[str, Any]:
        event = {
            "id": new_id("evt"),
            "object": "event",
            "account": account or None,
            "api_version": API_VERSION,
            "created": self.now_ts(),
            "data": {"object": public_json(obj)},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": event_type,
        }
        with self.lock:
            self.events.append(event)
            self.pending.append(event)
        if self.auto_deliver:
            self._ensure_thread()
            self._wake.set()
        return event

    def deliver_pending(self) -> list[Delivery]:
        """Deliver every event not delivered yet, in order (what Stripe does in the
        background). Returns the deliveries."""
        done = []
        with self._delivering:
            while True:
                with self.lock:
                    if not self.pending:
                        return done
                    event = self.pending.pop(0)
                done.append(self.deliver(event))

    def _ensure_thread(self) -> None:
        with self.lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._delivery_loop, name="fake-stripe-webhooks", daemon=True
            )
            self._thread.start()

    def _delivery_loop(self) -> None:
        while True:
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            if not self.auto_deliver:
                continue  # switched off since (a test delivers by hand): leave the queue be
            try:
                self.deliver_pending()
            except Exception:  # one broken delivery must not stop the others
                log.exception("fake Stripe: webhook delivery failed")

    def event(self, event_type: str) -> dict[str, Any]:
        """The latest event of `event_type` (tests)."""
        with self.lock:
            for event in reversed(self.events):
                if event["type"] == event_type:
                    return event
        raise LookupError(event_type)

    def sign(self, payload: str, timestamp: int | None = None) -> str:
        # Signed with the wall clock, as Stripe does at delivery time (the receiver checks
        # the timestamp against its own clock, whatever the fake's clock says).
        timestamp = int(time.time()) if timestamp is None else timestamp
        mac = hmac.new(
            self.webhook_secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256
        ).hexdigest()
        return f"t={timestamp},v1={mac}"

    def deliver(self, event: dict[str, Any], *, signature: str | None = None) -> Delivery:
        """POST the event to the app's /webhooks/stripe, in-process, signed like Stripe."""
        payload = json.dumps(event, indent=2)
        url = self.public_base_url().rstrip("/") + WEBHOOK_PATH
        parts = urlsplit(url)
        response = WSGIClient(self.target_app).post(
            parts.path,
            base_url=f"{parts.scheme}://{parts.netloc}",
            data=payload.encode(),
            content_type="application/json; charset=utf-8",
            headers={
                "Stripe-Signature": signature or self.sign(payload),
                "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            },
        )
        delivery = Delivery(
            event_id=event["id"],
            type=event["type"],
            status=response.status_code,
            body=response.get_data(as_text=True),
        )
        with self.lock:
            self.deliveries.append(delivery)
        return delivery


def public_json(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the API shows it: without the fake's own bookkeeping keys."""
    return {key: value for key, value in obj.items() if not key.startswith("_")}

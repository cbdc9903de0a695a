"""What the fake Twilio remembers of texting registration, and how each resource moves
through its statuses (the REST handlers are in registration_api.py): Trust Hub
(trusthub.twilio.com/v1) and the Messaging API (messaging.twilio.com/v1).

- Trust Hub: CustomerProfiles (+ EntityAssignments, Evaluations), TrustProducts (same),
  EndUsers, SupportingDocuments. Addresses live on api.twilio.com (app/sms/fake_twilio/api.py).
- Messaging: a2p/BrandRegistrations (+ SmsOtp), Services (+ PhoneNumbers,
  Compliance/Usa2p, Compliance/Usa2p/Usecases), Tollfree/Verifications.

Review outcomes come from one switch, `FAKE_TWILIO_REGISTRATION` (or
`FakeTwilio.set_registration_outcome` in tests), snapshotted onto each Trust Hub bundle,
brand, campaign and toll-free verification when it is submitted:

    approve                 approved the first time it is fetched
    approve_after:<seconds> in review until <seconds> after submission, then approved
    pending                 in review forever
    fail:<code>             the brand (or toll-free verification) is rejected with <code>
    fail:<code>:campaign    the brand is approved and the campaign rejected with <code>
    fail:<code>:profile     Trust Hub rejects the customer profile (told to its
                            StatusCallback), and a brand on it fails with <code>

Statuses are worked out when a resource is read, on the fake's clock, so a test with a
frozen clock decides exactly when a review finishes. Refused requests answer Twilio's error
body; the codes are Twilio's where known (20404, 21710, the review codes in FAILURES) and the
generic 20001 otherwise.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.sms.fake_twilio.state import FakeTwilio

# Trust Hub policies (Twilio's published SIDs for the ISV flow).
SECONDARY_PROFILE_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
STARTER_PROFILE_POLICY = "RN806dd6cd175f314e1f96a9727ee271f4"
A2P_PROFILE_POLICY = "RNb0d4771c2c98518d916a3d4cd70a8f8b"
SOLE_PROP_A2P_POLICY = "RN670d5d2e282a6130ae063b234b6019c8"
POLICIES = {
    SECONDARY_PROFILE_POLICY: "Secondary Customer Profile of type Business",
    STARTER_PROFILE_POLICY: "Starter Customer Profile",
    A2P_PROFILE_POLICY: "A2P Messaging Profile",
    SOLE_PROP_A2P_POLICY: "Sole Proprietor A2P Trust Bundle",
}
# What an evaluation checks is assigned, per policy.
REQUIRED = {
    SECONDARY_PROFILE_POLICY: (
        "customer_profile_business_information",
        "authorized_representative_1",
        "customer_profile_address",
    ),
    STARTER_PROFILE_POLICY: ("starter_customer_profile_information", "customer_profile_address"),
    A2P_PROFILE_POLICY: ("us_a2p_messaging_profile_information", "customer_profile"),
    SOLE_PROP_A2P_POLICY: ("sole_proprietor_information", "customer_profile"),
}
END_USER_TYPES = {
    "customer_profile_business_information",
    "authorized_representative_1",
    "authorized_representative_2",
    "us_a2p_messaging_profile_information",
    "starter_customer_profile_information",
    "sole_proprietor_information",
}
DOCUMENT_TYPES = {"customer_profile_address"}
# The fake's own primary customer profile: the ISV's, made once in the console in real life.
PRIMARY_PROFILE_SID = "BU" + "0" * 31 + "1"
TOLL_FREE_AREA_CODES = {"800", "833", "844", "855", "866", "877", "888"}
# The number the Campaign Registry's confirmation text comes from (Sole Proprietor OTP).
OTP_SENDER = "+18885550111"
USE_CASES = {
    "STANDARD": ("LOW_VOLUME", "MIXED", "CUSTOMER_CARE", "ACCOUNT_NOTIFICATION"),
    "SOLE_PROPRIETOR": ("SOLE_PROPRIETOR",),
}
FAILURES = {
    30799: "We were unable to verify the details of the registration data. The legal "
    "company name does not match the EIN.",
    30792: "There was a general system error when processing brand registration request.",
    30729: "Country code not allowed.",
    30532: "Personal use cases are not supported.",
    30533: "Person-to-person (P2P) use cases are not supported.",
    30538: "A message sample is missing for a selected use case.",
    30544: "Call-to-Action does not state the message purpose.",
    30035: "The verification was rejected.",
}


@dataclass(frozen=True)
class Outcome:
    kind: str  # approve | approve_after | pending | fail
    seconds: float = 0.0
    code: int | None = None
    # What a fail rejects: brand (and toll-free), campaign, or profile (the Trust Hub bundles).
    target: str = "brand"

    def __str__(self) -> str:
        if self.kind == "approve_after":
            return f"approve_after:{self.seconds:g}"
        if self.kind == "fail":
            return f"fail:{self.code}" + (f":{self.target}" if self.target != "brand" else "")
        return self.kind


def parse_outcome(text: str | None) -> Outcome:
    """`approve`, `approve_after:<seconds>`, `pending`, `fail:<code>[:campaign]`."""
    value = (text or "approve").strip().lower()
    kind, _, rest = value.partition(":")
    if kind in ("approve", "pending") and not rest:
        return Outcome(kind)
    if kind == "approve_after":
        return Outcome(kind, seconds=float(rest))
    if kind == "fail":
        code, _, target = rest.partition(":")
        if target not in ("", "brand", "campaign", "profile"):
            raise ValueError(f"fail target must be brand, campaign or profile, not {target!r}")
        return Outcome(kind, code=int(code), target=target or "brand")
    raise ValueError(
        f"FAKE_TWILIO_REGISTRATION={text!r}: use approve, approve_after:<seconds>, "
        "pending or fail:<code>[:campaign]"
    )


class RegistrationError(Exception):
    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def iso8601(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else None


def public_view(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if not k.startswith("_")}


class FakeRegistrations:
    """Trust Hub and Messaging resources of the fake account."""

    def __init__(self, fake: FakeTwilio, outcome: str | None = None) -> None:
        self.fake = fake
        self.default_outcome = parse_outcome(outcome)
        self.reset()

    def reset(self) -> None:
        self.outcome = self.default_outcome
        self.profiles: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.end_users: dict[str, dict[str, Any]] = {}
        self.documents: dict[str, dict[str, Any]] = {}
        self.addresses: dict[str, dict[str, Any]] = {}
        self.brands: dict[str, dict[str, Any]] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.campaigns: dict[str, dict[str, Any]] = {}
        self.tollfree: dict[str, dict[str, Any]] = {}
        # How many of each resource were created: "nothing created twice" in tests.
        self.created: Counter[str] = Counter()
        now = self.fake.clock()
        self.profiles[PRIMARY_PROFILE_SID] = self._bundle(
            PRIMARY_PROFILE_SID, "ISV primary profile", SECONDARY_PROFILE_POLICY, now
        )
        self.profiles[PRIMARY_PROFILE_SID]["status"] = "twilio-approved"

    def set_outcome(self, text: str) -> None:
        self.outcome = parse_outcome(text)

    # -- helpers -------------------------------------------------------------------------

    def _new(self, prefix: str, kind: str) -> str:
        from app.sms.fake_twilio.sids import new_sid

        self.created[kind] += 1
        return new_sid(prefix)

    def _bundle(
        self, sid: str, name: str, policy: str, now: datetime, plural: str = "CustomerProfiles"
    ) -> dict[str, Any]:
        url = f"https://trusthub.twilio.com/v1/{plural}/{sid}"
        return {
            "sid": sid,
            "account_sid": self.fake.account_sid,
            "policy_sid": policy,
            "friendly_name": name,
            "status": "draft",
            "valid_until": None,
            "email": None,
            "status_callback": None,
            "date_created": iso8601(now),
            "date_updated": iso8601(now),
            "url": url,
            "links": {
                "entity_assignments": f"{url}/EntityAssignments",
                "evaluations": f"{url}/Evaluations",
                "channel_endpoint_assignment": f"{url}/ChannelEndpointAssignments",
            },
            "errors": None,
            "_assigned": [],
        }

    def _review(self, resource: dict[str, Any], target: str) -> str:
        """'approved', 'in_review' or 'failed' for a submitted resource, on the fake's clock."""
        outcome: Outcome = resource["_outcome"]
        since: datetime = resource["_since"]
        if outcome.kind == "fail":
            return "failed" if outcome.target == target else "approved"
        if outcome.kind == "pending":
            return "in_review"
        if outcome.kind == "approve_after" and self.fake.clock() < since + timedelta(
            seconds=outcome.seconds
        ):
            return "in_review"
        return "approved"

    def _assigned_types(self, bundle: dict[str, Any]) -> set[str]:
        types = set()
        for sid in bundle["_assigned"]:
            if sid in self.end_users:
                types.add(self.end_users[sid]["type"])
            elif sid in self.documents:
                types.add(self.documents[sid]["type"])
            elif sid in self.profiles:
                types.add("customer_profile")
        return types

    def find_any(self, sid: str) -> dict[str, Any] | None:
        for table in (self.profiles, self.products, self.end_users, self.documents):
            if sid in table:
                return table[sid]
        return None

    # -- what carriers do with a text ----------------------------------------------------------

    def carrier_block(self, from_: str) -> int | None:
        """The error a carrier gives a text from `from_` (30034 or 30032), or None when the
        number is in a service with a verified campaign or is a verified toll-free number."""
        number = self.fake.numbers.get(from_)
        number_sid = number.sid if number else None
        if from_[2:5] in TOLL_FREE_AREA_CODES:
            verified = any(
                v["tollfree_phone_number_sid"] == number_sid
                and self.tollfree_json(v)["status"] == "TWILIO_APPROVED"
                for v in self.tollfree.values()
            )
            return None if verified else 30032
        for service_sid, service in self.services.items():
            if number_sid in service["_numbers"] and any(
                c["messaging_service_sid"] == service_sid
                and self.campaign_json(c)["campaign_status"] == "VERIFIED"
                for c in self.campaigns.values()
            ):
                return None
        return 30034

    # -- Trust Hub bundles: review and status callbacks -------------------------------------

    def bundle_submitted(self, bundle: dict[str, Any]) -> None:
        """A customer profile or trust product was submitted: 'pending-review' now, and the
        outcome later, each told to its StatusCallback as Trust Hub does."""
        bundle["status"] = "pending-review"
        bundle["_since"] = self.fake.clock()
        bundle["_outcome"] = self.outcome
        bundle["_told"] = None
        self._tell(bundle)
        outcome: Outcome = bundle["_outcome"]
        if outcome.kind != "pending":
            delay = outcome.seconds if outcome.kind == "approve_after" else 0.0
            self.fake.schedule(timedelta(seconds=delay), lambda: self._settle(bundle))

    def bundle_review(self, bundle: dict[str, Any]) -> None:
        """The bundle's status as of now (Trust Hub reviews on its own clock)."""
        review = self._review(bundle, "profile")
        bundle["status"] = {
            "approved": "twilio-approved",
            "failed": "twilio-rejected",
            "in_review": "in-review",
        }[review]
        if review == "failed":
            code = bundle["_outcome"].code
            bundle["errors"] = [{"code": code, "description": self.bundle_failure(bundle)}]
        if review != "in_review":
            self._tell(bundle)

    def bundle_failure(self, bundle: dict[str, Any]) -> str:
        return FAILURES.get(
            bundle["_outcome"].code, "The business information could not be verified."
        )

    def _settle(self, bundle: dict[str, Any]) -> None:
        # The review's end, when the outcome says; told once even if a read saw it first.
        with self.fake.lock:
            if bundle["status"] in ("pending-review", "in-review"):
                self.bundle_review(bundle)

    def _tell(self, bundle: dict[str, Any]) -> None:
        """POST the bundle's status to its StatusCallback (once per status)."""
        url = bundle.get("status_callback")
        if not url or bundle.get("_told") == bundle["status"]:
            return
        bundle["_told"] = bundle["status"]
        form = {
            "AccountSid": self.fake.account_sid,
            "BundleSid": bundle["sid"],
            "Status": bundle["status"],
        }
        if bundle["status"] == "twilio-rejected":
            form["FailureReason"] = self.bundle_failure(bundle)
        # Delivered by the callback thread (or a test's run_due_callbacks), never inside
        # the REST request that caused it.
        self.fake.schedule(timedelta(0), lambda: self.fake.post_webhook(url, form))

    # -- the Sole Proprietor confirmation text ------------------------------------------------

    def _send_otp(self, brand: dict[str, Any]) -> None:
        mobile = brand["_mobile"]
        if not mobile:
            return
        self.fake.deliver_to_phone(
            from_=OTP_SENDER,
            to=mobile,
            body=f"{brand['_brand_name']}: reply YES to confirm your registration to send "
            "text messages, or NO to deny. The Campaign Registry. Msg&data rates may apply.",
        )
        brand["_otp_sent_at"] = self.fake.clock()

    def confirm_otp(self, mobile: str, answer: str) -> bool:
        """The owner's phone answered the confirmation text. True when a brand waited."""
        for brand in self.brands.values():
            if brand["_mobile"] == mobile and not brand["_otp_verified"]:
                if answer.strip().upper() == "YES":
                    brand["_otp_verified"] = True
                    brand["_since"] = self.fake.clock()
                return True
        return False

    # -- brand status ----------------------------------------------------------------------

    def brand_json(self, brand: dict[str, Any]) -> dict[str, Any]:
        if brand["_deleted"]:
            return public_view(brand)
        status, identity, failure, errors = "PENDING", "UNVERIFIED", None, []
        profile = self.profiles.get(brand["customer_profile_bundle_sid"])
        if profile is not None and profile["status"] in ("pending-review", "in-review"):
            self.bundle_review(profile)
        if profile is not None and profile["status"] == "twilio-rejected":
            # The Campaign Registry cannot verify a business Trust Hub rejected.
            code = profile["_outcome"].code
            status, failure = "FAILED", self.bundle_failure(profile)
            errors = [{"code": code, "description": failure, "fields": []}]
        elif brand["brand_type"] == "SOLE_PROPRIETOR" and not brand["_otp_verified"]:
            pass
        else:
            review = self._review(brand, "brand")
            if review == "approved":
                status, identity = "APPROVED", "VERIFIED"
            elif review == "failed":
                code = brand["_outcome"].code
                status = "FAILED"
                failure = FAILURES.get(code, f"Brand registration failed ({code}).")
                errors = [{"code": code, "description": failure, "fields": []}]
            else:
                status = "IN_REVIEW"
        brand.update(
            status=status,
            identity_status=identity,
            failure_reason=failure,
            errors=errors,
            date_updated=iso8601(self.fake.clock()),
        )
        return public_view(brand)

    def campaign_json(self, campaign: dict[str, Any]) -> dict[str, Any]:
        review = self._review(campaign, "campaign")
        if review == "approved":
            campaign["campaign_status"] = "VERIFIED"
            campaign["errors"] = []
        elif review == "failed":
            code = campaign["_outcome"].code
            campaign["campaign_status"] = "FAILED"
            campaign["errors"] = [
                {
                    "code": code,
                    "description": FAILURES.get(code, "Campaign rejected."),
                    "fields": [],
                }
            ]
        else:
            campaign["campaign_status"] = "IN_PROGRESS"
        return public_view(campaign)

    def tollfree_json(self, verification: dict[str, Any]) -> dict[str, Any]:
        review = self._review(verification, "brand")
        if review == "approved":
            verification.update(status="TWILIO_APPROVED", rejection_reason=None, error_code=None)
        elif review == "failed":
            code = verification["_outcome"].code
            verification.update(
                status="TWILIO_REJECTED",
                rejection_reason=FAILURES.get(code, "The verification was rejected."),
                error_code=code,
                edit_allowed=True,
            )
        else:
            verification["status"] = "IN_REVIEW"
        return public_view(verification)

"""Texting registration calls to Twilio (Trust Hub profiles and products, A2P 10DLC brands
and campaigns, Messaging Services, toll-free verification), through the official SDK and
`gateway.call`, so errors come back as the gateway's `GatewayError`s and the fake Twilio
answers them in development and tests (app/sms/fake_twilio/registration_api.py).

The ISV flow of docs/texting-registration.md. Writes that create a billable or unique
resource (profiles, brands, services, campaigns, verifications) have a `find_` twin so the
caller can look before creating again after a lost answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.sms import gateway

# Trust Hub policies, as Twilio publishes them for the ISV flow.
SECONDARY_PROFILE_POLICY = "RNdfbf3fae0e1107f8aded0e7cead80bf5"
STARTER_PROFILE_POLICY = "RN806dd6cd175f314e1f96a9727ee271f4"
A2P_PROFILE_POLICY = "RNb0d4771c2c98518d916a3d4cd70a8f8b"
SOLE_PROP_A2P_POLICY = "RN670d5d2e282a6130ae063b234b6019c8"


@dataclass(frozen=True)
class Bundle:
    """A Trust Hub customer profile or trust product."""

    sid: str
    status: str
    friendly_name: str


@dataclass(frozen=True)
class Evaluation:
    status: str  # compliant | noncompliant
    failures: list[str]


@dataclass(frozen=True)
class Brand:
    sid: str
    status: str  # PENDING, IN_REVIEW, APPROVED, FAILED, ...
    brand_type: str
    customer_profile_sid: str
    identity_status: str | None
    failure_reason: str | None
    error_codes: list[int]


@dataclass(frozen=True)
class Campaign:
    sid: str
    status: str  # IN_PROGRESS, VERIFIED, FAILED, ...
    use_case: str
    error_codes: list[int]
    failure_reason: str | None


@dataclass(frozen=True)
class TollfreeVerification:
    sid: str
    status: str  # PENDING_REVIEW, IN_REVIEW, TWILIO_APPROVED, TWILIO_REJECTED
    phone_number_sid: str
    error_code: int | None
    rejection_reason: str | None


@dataclass(frozen=True)
class MessagingService:
    sid: str
    friendly_name: str
    number_sids: list[str]


def _bundle(item: Any) -> Bundle:
    return Bundle(sid=item.sid, status=item.status, friendly_name=item.friendly_name)


def create_customer_profile(
    *, friendly_name: str, email: str, policy_sid: str, status_callback: str | None = None
) -> Bundle:
    kwargs: dict[str, Any] = {
        "friendly_name": friendly_name,
        "email": email,
        "policy_sid": policy_sid,
    }
    if status_callback:
        kwargs["status_callback"] = status_callback
    return _bundle(
        gateway.call(lambda c: c.trusthub.v1.customer_profiles.create(**kwargs), sent=True)
    )


def find_customer_profile(friendly_name: str) -> Bundle | None:
    found = gateway.call(
        lambda c: c.trusthub.v1.customer_profiles.list(friendly_name=friendly_name, limit=1)
    )
    return _bundle(found[0]) if found else None


def fetch_customer_profile(sid: str) -> Bundle:
    return _bundle(gateway.call(lambda c: c.trusthub.v1.customer_profiles(sid).fetch()))


def assign_to_customer_profile(*, profile_sid: str, object_sid: str) -> None:
    gateway.call(
        lambda c: c.trusthub.v1.customer_profiles(
            profile_sid
        ).customer_profiles_entity_assignments.create(object_sid=object_sid),
        sent=True,
    )


def customer_profile_assignments(profile_sid: str) -> set[str]:
    found = gateway.call(
        lambda c: c.trusthub.v1.customer_profiles(
            profile_sid
        ).customer_profiles_entity_assignments.list()
    )
    return {a.object_sid for a in found}


def evaluate_customer_profile(*, profile_sid: str, policy_sid: str) -> Evaluation:
    result = gateway.call(
        lambda c: c.trusthub.v1.customer_profiles(profile_sid).customer_profiles_evaluations.create(
            policy_sid=policy_sid
        )
    )
    return _evaluation(result)


def submit_customer_profile(profile_sid: str) -> Bundle:
    return _bundle(
        gateway.call(
            lambda c: c.trusthub.v1.customer_profiles(profile_sid).update(status="pending-review")
        )
    )


def create_trust_product(
    *, friendly_name: str, email: str, policy_sid: str, status_callback: str | None = None
) -> Bundle:
    kwargs: dict[str, Any] = {
        "friendly_name": friendly_name,
        "email": email,
        "policy_sid": policy_sid,
    }
    if status_callback:
        kwargs["status_callback"] = status_callback
    return _bundle(gateway.call(lambda c: c.trusthub.v1.trust_products.create(**kwargs), sent=True))


def find_trust_product(friendly_name: str) -> Bundle | None:
    found = gateway.call(
        lambda c: c.trusthub.v1.trust_products.list(friendly_name=friendly_name, limit=1)
    )
    return _bundle(found[0]) if found else None


def fetch_trust_product(sid: str) -> Bundle:
    return _bundle(gateway.call(lambda c: c.trusthub.v1.trust_products(sid).fetch()))


def assign_to_trust_product(*, product_sid: str, object_sid: str) -> None:
    gateway.call(
        lambda c: c.trusthub.v1.trust_products(
            product_sid
        ).trust_products_entity_assignments.create(object_sid=object_sid),
        sent=True,
    )


def trust_product_assignments(product_sid: str) -> set[str]:
    found = gateway.call(
        lambda c: c.trusthub.v1.trust_products(product_sid).trust_products_entity_assignments.list()
    )
    return {a.object_sid for a in found}


def evaluate_trust_product(*, product_sid: str, policy_sid: str) -> Evaluation:
    result = gateway.call(
        lambda c: c.trusthub.v1.trust_products(product_sid).trust_products_evaluations.create(
            policy_sid=policy_sid
        )
    )
    return _evaluation(result)


def submit_trust_product(product_sid: str) -> Bundle:
    return _bundle(
        gateway.call(
            lambda c: c.trusthub.v1.trust_products(product_sid).update(status="pending-review")
        )
    )


def _evaluation(result: Any) -> Evaluation:
    failures = [
        str(r.get("failure_reason") or r.get("friendly_name"))
        for r in (result.results or [])
        if not r.get("passed", True)
    ]
    return Evaluation(status=result.status, failures=failures)


def create_end_user(*, type_: str, friendly_name: str, attributes: dict[str, Any]) -> str:
    user = gateway.call(
        lambda c: c.trusthub.v1.end_users.create(
            friendly_name=friendly_name, type=type_, attributes=attributes
        ),
        sent=True,
    )
    return user.sid


def update_end_user(*, sid: str, attributes: dict[str, Any]) -> None:
    gateway.call(lambda c: c.trusthub.v1.end_users(sid).update(attributes=attributes))


def create_supporting_document(
    *, type_: str, friendly_name: str, attributes: dict[str, Any]
) -> str:
    document = gateway.call(
        lambda c: c.trusthub.v1.supporting_documents.create(
            friendly_name=friendly_name, type=type_, attributes=attributes
        ),
        sent=True,
    )
    return document.sid


def create_address(
    *, customer_name: str, street: str, city: str, region: str, postal_code: str, iso_country: str
) -> str:
    address = gateway.call(
        lambda c: c.addresses.create(
            customer_name=customer_name,
            street=street,
            city=city,
            region=region,
            postal_code=postal_code,
            iso_country=iso_country,
        ),
        sent=True,
    )
    return address.sid


def update_address(
    *, sid: str, customer_name: str, street: str, city: str, region: str, postal_code: str
) -> None:
    gateway.call(
        lambda c: c.addresses(sid).update(
            customer_name=customer_name,
            street=street,
            city=city,
            region=region,
            postal_code=postal_code,
        )
    )


def _brand(item: Any) -> Brand:
    errors = item.errors or []
    return Brand(
        sid=item.sid,
        status=item.status,
        brand_type=item.brand_type,
        customer_profile_sid=item.customer_profile_bundle_sid,
        identity_status=item.identity_status,
        failure_reason=item.failure_reason,
        error_codes=[int(e["code"]) for e in errors if isinstance(e, dict) and e.get("code")],
    )


def create_brand(
    *,
    customer_profile_sid: str,
    a2p_profile_sid: str,
    brand_type: str,
    skip_secondary_vetting: bool,
) -> Brand:
    """Register a brand with The Campaign Registry. Billable and not idempotent: after a
    lost answer, `find_brand(customer_profile_sid)` before trying again."""
    return _brand(
        gateway.call(
            lambda c: c.messaging.v1.brand_registrations.create(
                customer_profile_bundle_sid=customer_profile_sid,
                a2p_profile_bundle_sid=a2p_profile_sid,
                brand_type=brand_type,
                skip_automatic_sec_vet=skip_secondary_vetting,
            ),
            sent=True,
        )
    )


def find_brand(customer_profile_sid: str) -> Brand | None:
    found = gateway.call(lambda c: c.messaging.v1.brand_registrations.list())
    for item in found:
        if item.customer_profile_bundle_sid == customer_profile_sid:
            return _brand(item)
    return None


def fetch_brand(sid: str) -> Brand:
    return _brand(gateway.call(lambda c: c.messaging.v1.brand_registrations(sid).fetch()))


def resubmit_brand(sid: str) -> Brand:
    """Ask for a FAILED brand to be reviewed again (after its profile was fixed)."""
    return _brand(
        gateway.call(lambda c: c.messaging.v1.brand_registrations(sid).update(), sent=True)
    )


def resend_brand_otp(sid: str) -> None:
    """Send the Sole Proprietor's confirmation text to their mobile again."""
    gateway.call(lambda c: c.messaging.v1.brand_registrations(sid).brand_registration_otps.create())


def _service(item: Any, number_sids: list[str] | None = None) -> MessagingService:
    return MessagingService(
        sid=item.sid, friendly_name=item.friendly_name, number_sids=number_sids or []
    )


def create_messaging_service(
    *, friendly_name: str, inbound_url: str, status_callback: str
) -> MessagingService:
    """A Messaging Service for one company. Inbound texts keep using the number's own SMS
    URL (use_inbound_webhook_on_number), so routing is the same with or without it."""
    return _service(
        gateway.call(
            lambda c: c.messaging.v1.services.create(
                friendly_name=friendly_name,
                inbound_request_url=inbound_url,
                inbound_method="POST",
                status_callback=status_callback,
                use_inbound_webhook_on_number=True,
                sticky_sender=True,
            ),
            sent=True,
        )
    )


def find_messaging_service(friendly_name: str) -> MessagingService | None:
    found = gateway.call(lambda c: c.messaging.v1.services.list())
    for item in found:
        if item.friendly_name == friendly_name:
            return _service(item)
    return None


def fetch_messaging_service(sid: str) -> MessagingService:
    """The service and its numbers (attaching an existing service checks it exists)."""
    item = gateway.call(lambda c: c.messaging.v1.services(sid).fetch())
    numbers = gateway.call(lambda c: c.messaging.v1.services(sid).phone_numbers.list())
    return _service(item, [n.sid for n in numbers])


def add_number_to_service(*, service_sid: str, phone_number_sid: str) -> None:
    """Put the company's number in its service's sender pool (nothing if already there)."""
    present = gateway.call(lambda c: c.messaging.v1.services(service_sid).phone_numbers.list())
    if any(n.sid == phone_number_sid for n in present):
        return
    gateway.call(
        lambda c: c.messaging.v1.services(service_sid).phone_numbers.create(
            phone_number_sid=phone_number_sid
        ),
        sent=True,
    )


def campaign_use_cases(*, service_sid: str, brand_sid: str) -> list[str]:
    """The A2P use cases the brand may register (LOW_VOLUME, MIXED, SOLE_PROPRIETOR...)."""
    result = gateway.call(
        lambda c: c.messaging.v1.services(service_sid).us_app_to_person_usecases.fetch(
            brand_registration_sid=brand_sid
        )
    )
    return [str(u["code"]) for u in (result.us_app_to_person_usecases or [])]


def _campaign(item: Any) -> Campaign:
    errors = item.errors or []
    codes = [int(e["code"]) for e in errors if isinstance(e, dict) and e.get("code")]
    reasons = [str(e.get("description")) for e in errors if isinstance(e, dict)]
    return Campaign(
        sid=item.sid,
        status=item.campaign_status,
        use_case=item.us_app_to_person_usecase,
        error_codes=codes,
        failure_reason="; ".join(reasons) or None,
    )


def create_campaign(
    *,
    service_sid: str,
    brand_sid: str,
    use_case: str,
    description: str,
    message_flow: str,
    message_samples: Sequence[str],
    has_embedded_links: bool,
    has_embedded_phone: bool,
    opt_in_message: str,
    opt_out_message: str,
    help_message: str,
    opt_in_keywords: Sequence[str],
    opt_out_keywords: Sequence[str],
    help_keywords: Sequence[str],
    privacy_policy_url: str,
    terms_url: str,
) -> Campaign:
    return _campaign(
        gateway.call(
            lambda c: c.messaging.v1.services(service_sid).us_app_to_person.create(
                brand_registration_sid=brand_sid,
                description=description,
                message_flow=message_flow,
                message_samples=list(message_samples),
                us_app_to_person_usecase=use_case,
                has_embedded_links=has_embedded_links,
                has_embedded_phone=has_embedded_phone,
                opt_in_message=opt_in_message,
                opt_out_message=opt_out_message,
                help_message=help_message,
                opt_in_keywords=list(opt_in_keywords),
                opt_out_keywords=list(opt_out_keywords),
                help_keywords=list(help_keywords),
                subscriber_opt_in=True,
                privacy_policy_url=privacy_policy_url,
                terms_and_conditions_url=terms_url,
            ),
            sent=True,
        )
    )


def find_campaign(service_sid: str) -> Campaign | None:
    found = gateway.call(
        lambda c: c.messaging.v1.services(service_sid).us_app_to_person.list(limit=1)
    )
    return _campaign(found[0]) if found else None


def fetch_campaign(*, service_sid: str, sid: str) -> Campaign:
    return _campaign(
        gateway.call(lambda c: c.messaging.v1.services(service_sid).us_app_to_person(sid).fetch())
    )


def delete_campaign(*, service_sid: str, sid: str) -> None:
    """Remove a rejected campaign so a corrected one can be submitted on the service."""
    gateway.call(lambda c: c.messaging.v1.services(service_sid).us_app_to_person(sid).delete())


def _tollfree(item: Any) -> TollfreeVerification:
    return TollfreeVerification(
        sid=item.sid,
        status=item.status,
        phone_number_sid=item.tollfree_phone_number_sid,
        error_code=int(item.error_code) if item.error_code else None,
        rejection_reason=item.rejection_reason,
    )


def create_tollfree_verification(
    *,
    phone_number_sid: str,
    customer_profile_sid: str | None,
    business_name: str,
    website: str,
    notification_email: str,
    use_case_summary: str,
    message_sample: str,
    opt_in_url: str,
    opt_in_type: str,
    street: str,
    city: str,
    region: str,
    postal_code: str,
    contact_first_name: str,
    contact_last_name: str,
    contact_email: str,
    contact_phone: str,
) -> TollfreeVerification:
    kwargs: dict[str, Any] = {
        "business_name": business_name,
        "business_website": website,
        "notification_email": notification_email,
        "use_case_categories": ["ACCOUNT_NOTIFICATIONS", "CUSTOMER_CARE"],
        "use_case_summary": use_case_summary,
        "production_message_sample": message_sample,
        "opt_in_image_urls": [opt_in_url],
        "opt_in_type": opt_in_type,
        "message_volume": "1,000",
        "tollfree_phone_number_sid": phone_number_sid,
        "business_street_address": street,
        "business_city": city,
        "business_state_province_region": region,
        "business_postal_code": postal_code,
        "business_country": "US",
        "business_contact_first_name": contact_first_name,
        "business_contact_last_name": contact_last_name,
        "business_contact_email": contact_email,
        "business_contact_phone": contact_phone,
    }
    if customer_profile_sid:
        kwargs["customer_profile_sid"] = customer_profile_sid
    return _tollfree(
        gateway.call(lambda c: c.messaging.v1.tollfree_verifications.create(**kwargs), sent=True)
    )


def find_tollfree_verification(phone_number_sid: str) -> TollfreeVerification | None:
    found = gateway.call(
        lambda c: c.messaging.v1.tollfree_verifications.list(
            tollfree_phone_number_sid=phone_number_sid, limit=1
        )
    )
    return _tollfree(found[0]) if found else None


def fetch_tollfree_verification(sid: str) -> TollfreeVerification:
    return _tollfree(gateway.call(lambda c: c.messaging.v1.tollfree_verifications(sid).fetch()))


def resubmit_tollfree_verification(
    *, sid: str, business_name: str, website: str, use_case_summary: str, message_sample: str
) -> TollfreeVerification:
    return _tollfree(
        gateway.call(
            lambda c: c.messaging.v1.tollfree_verifications(sid).update(
                business_name=business_name,
                business_website=website,
                use_case_summary=use_case_summary,
                production_message_sample=message_sample,
                edit_reason="Corrected after review",
            ),
            sent=True,
        )
    )

"""The fake Twilio's texting-registration REST handlers: trusthub.twilio.com/v1 and
messaging.twilio.com/v1 (routed by host from app/sms/fake_twilio/api.py), with Twilio's
paths, JSON shapes and error bodies over the state in registration.py."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from app.sms.fake_twilio.registration import (
    DOCUMENT_TYPES,
    END_USER_TYPES,
    POLICIES,
    PRIMARY_PROFILE_SID,
    REQUIRED,
    USE_CASES,
    FakeRegistrations,
    RegistrationError,
    iso8601,
    public_view,
)

if TYPE_CHECKING:
    from app.sms.fake_twilio.state import FakeTwilio


def _page(request: Request, items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    url = request.base_url
    return {
        key: items,
        "meta": {
            "page": 0,
            "page_size": max(len(items), 50),
            "first_page_url": url,
            "previous_page_url": None,
            "url": url,
            "next_page_url": None,
            "key": key,
        },
    }


def _json(payload: Any, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, mimetype="application/json")


TRUSTHUB = Map(
    [
        Rule("/v1/CustomerProfiles", endpoint="profiles"),
        Rule("/v1/CustomerProfiles/<sid>", endpoint="profile"),
        Rule("/v1/CustomerProfiles/<sid>/EntityAssignments", endpoint="profile_assignments"),
        Rule("/v1/CustomerProfiles/<sid>/Evaluations", endpoint="profile_evaluations"),
        Rule("/v1/TrustProducts", endpoint="products"),
        Rule("/v1/TrustProducts/<sid>", endpoint="product"),
        Rule("/v1/TrustProducts/<sid>/EntityAssignments", endpoint="product_assignments"),
        Rule("/v1/TrustProducts/<sid>/Evaluations", endpoint="product_evaluations"),
        Rule("/v1/EndUsers", endpoint="end_users"),
        Rule("/v1/EndUsers/<sid>", endpoint="end_user"),
        Rule("/v1/SupportingDocuments", endpoint="documents"),
        Rule("/v1/SupportingDocuments/<sid>", endpoint="document"),
    ]
)
MESSAGING = Map(
    [
        Rule("/v1/a2p/BrandRegistrations", endpoint="brands"),
        Rule("/v1/a2p/BrandRegistrations/<sid>", endpoint="brand"),
        Rule("/v1/a2p/BrandRegistrations/<sid>/SmsOtp", endpoint="brand_otp"),
        Rule("/v1/Services", endpoint="services"),
        Rule("/v1/Services/<sid>", endpoint="service"),
        Rule("/v1/Services/<sid>/PhoneNumbers", endpoint="service_numbers"),
        Rule("/v1/Services/<sid>/Compliance/Usa2p", endpoint="campaigns"),
        Rule("/v1/Services/<sid>/Compliance/Usa2p/Usecases", endpoint="use_cases"),
        Rule("/v1/Services/<sid>/Compliance/Usa2p/<campaign>", endpoint="campaign"),
        Rule("/v1/Tollfree/Verifications", endpoint="tollfree_list"),
        Rule("/v1/Tollfree/Verifications/<sid>", endpoint="tollfree"),
    ]
)


class RegistrationAPI:
    """Handlers for trusthub.twilio.com and messaging.twilio.com (mixed into FakeTwilioAPI)."""

    fake: FakeTwilio

    @property
    def reg(self) -> FakeRegistrations:
        return self.fake.registrations

    def dispatch_registration(self, request: Request, host: str) -> Response:
        url_map = TRUSTHUB if host.startswith("trusthub.") else MESSAGING
        adapter = url_map.bind_to_environ(request.environ)
        endpoint, values = adapter.match(method=None)
        # The same fault switches as the Messages API (fail_next, drop_next, ...), by path.
        fault = self._fault_or_none(request)  # type: ignore[attr-defined]
        if isinstance(fault, Response):
            return fault
        if fault is not None:
            self._drop(request)  # type: ignore[attr-defined]
        try:
            with self.fake.lock:
                return getattr(self, f"reg_{endpoint}")(request, **values)
        except RegistrationError as error:
            return _json(
                {
                    "code": error.code,
                    "message": error.message,
                    "more_info": f"https://www.twilio.com/docs/errors/{error.code}",
                    "status": error.status,
                },
                error.status,
            )

    # -- common ----------------------------------------------------------------------------

    @staticmethod
    def _missing(request: Request) -> RegistrationError:
        return RegistrationError(20404, f"The requested resource {request.path} was not found", 404)

    @staticmethod
    def _required(form: Any, *names: str) -> None:
        for name in names:
            if not form.get(name):
                raise RegistrationError(
                    20001, f"Missing required parameter {name} in the post body"
                )

    @staticmethod
    def _attributes(form: Any) -> dict[str, Any]:
        try:
            value = json.loads(form.get("Attributes") or "{}")
        except ValueError as error:
            raise RegistrationError(20001, "Attributes must be a JSON object") from error
        if not isinstance(value, dict):
            raise RegistrationError(20001, "Attributes must be a JSON object")
        return value

    # -- bundles (customer profiles and trust products) -------------------------------------------

    def _bundles(self, request: Request, table: dict[str, dict[str, Any]], prefix: str, kind: str):
        if request.method == "GET":
            name = request.args.get("FriendlyName")
            found = [
                public_view(b)
                for b in table.values()
                if (not name or b["friendly_name"] == name) and b["sid"] != PRIMARY_PROFILE_SID
            ]
            key = "results"
            return _json(_page(request, found, key))
        form = request.form
        self._required(form, "FriendlyName", "Email", "PolicySid")
        policy = form["PolicySid"]
        if policy not in POLICIES:
            raise RegistrationError(20001, f"Policy {policy} is not valid")
        sid = self.reg._new("BU", kind)
        bundle = self.reg._bundle(sid, form["FriendlyName"], policy, self.fake.clock(), prefix)
        bundle["email"] = form["Email"]
        bundle["status_callback"] = form.get("StatusCallback")
        table[sid] = bundle
        return _json(public_view(bundle), 201)

    def _bundle_one(self, request: Request, table: dict[str, dict[str, Any]], sid: str):
        bundle = table.get(sid)
        if bundle is None:
            raise self._missing(request)
        if request.method == "POST":
            status = request.form.get("Status")
            if status == "pending-review":
                required = REQUIRED.get(bundle["policy_sid"], ())
                missing = [t for t in required if t not in self.reg._assigned_types(bundle)]
                if missing:
                    raise RegistrationError(
                        20001, f"Bundle is not compliant: missing {', '.join(missing)}"
                    )
                if bundle["status"] not in ("draft", "twilio-rejected"):
                    raise RegistrationError(20001, "The bundle was submitted already")
                self.reg.bundle_submitted(bundle)
            elif status:
                raise RegistrationError(20001, f"Status {status} cannot be set")
            for field, key in (("FriendlyName", "friendly_name"), ("Email", "email")):
                if request.form.get(field):
                    bundle[key] = request.form[field]
            bundle["date_updated"] = iso8601(self.fake.clock())
        elif bundle["status"] in ("pending-review", "in-review"):
            self.reg.bundle_review(bundle)
        return _json(public_view(bundle))

    def _assign(self, request: Request, table: dict[str, dict[str, Any]], sid: str, key: str):
        bundle = table.get(sid)
        if bundle is None:
            raise self._missing(request)
        if request.method == "GET":
            items = [
                {"sid": f"BV{obj[2:]}", "object_sid": obj, key: sid} for obj in bundle["_assigned"]
            ]
            return _json(_page(request, items, "results"))
        object_sid = request.form.get("ObjectSid", "")
        if self.reg.find_any(object_sid) is None and object_sid not in self.reg.profiles:
            raise RegistrationError(20001, f"Object {object_sid} was not found")
        if object_sid in bundle["_assigned"]:
            raise RegistrationError(20001, f"Object {object_sid} is already assigned")
        bundle["_assigned"].append(object_sid)
        from app.sms.fake_twilio.sids import new_sid

        return _json(
            {
                "sid": new_sid("BV"),
                key: sid,
                "account_sid": self.fake.account_sid,
                "object_sid": object_sid,
                "date_created": iso8601(self.fake.clock()),
                "url": f"{request.base_url}/{object_sid}",
            },
            201,
        )

    def _evaluate(self, request: Request, table: dict[str, dict[str, Any]], sid: str, key: str):
        bundle = table.get(sid)
        if bundle is None:
            raise self._missing(request)
        policy = request.form.get("PolicySid", bundle["policy_sid"])
        required = REQUIRED.get(policy, ())
        have = self.reg._assigned_types(bundle)
        results = [
            {
                "friendly_name": name,
                "object_type": name,
                "passed": name in have,
                "failure_reason": "" if name in have else f"{name} is missing",
                "error_code": 0 if name in have else 22214,
                "valid": [],
                "invalid": [],
                "requirement_friendly_name": name,
                "requirement_name": name,
            }
            for name in required
        ]
        from app.sms.fake_twilio.sids import new_sid

        return _json(
            {
                "sid": new_sid("EL"),
                "account_sid": self.fake.account_sid,
                "policy_sid": policy,
                key: sid,
                "status": "compliant" if all(r["passed"] for r in results) else "noncompliant",
                "results": results,
                "date_created": iso8601(self.fake.clock()),
                "url": f"{request.base_url}",
            },
            201,
        )

    def reg_profiles(self, request: Request):
        return self._bundles(request, self.reg.profiles, "CustomerProfiles", "customer_profile")

    def reg_profile(self, request: Request, sid: str):
        return self._bundle_one(request, self.reg.profiles, sid)

    def reg_profile_assignments(self, request: Request, sid: str):
        return self._assign(request, self.reg.profiles, sid, "customer_profile_sid")

    def reg_profile_evaluations(self, request: Request, sid: str):
        return self._evaluate(request, self.reg.profiles, sid, "customer_profile_sid")

    def reg_products(self, request: Request):
        return self._bundles(request, self.reg.products, "TrustProducts", "trust_product")

    def reg_product(self, request: Request, sid: str):
        return self._bundle_one(request, self.reg.products, sid)

    def reg_product_assignments(self, request: Request, sid: str):
        return self._assign(request, self.reg.products, sid, "trust_product_sid")

    def reg_product_evaluations(self, request: Request, sid: str):
        return self._evaluate(request, self.reg.products, sid, "trust_product_sid")

    # -- end users and supporting documents ---------------------------------------------------

    def _items(self, request: Request, table, prefix: str, kind: str, types: set[str], path: str):
        if request.method == "GET":
            return _json(_page(request, [public_view(x) for x in table.values()], "results"))
        form = request.form
        self._required(form, "FriendlyName", "Type")
        if form["Type"] not in types:
            raise RegistrationError(20001, f"Type {form['Type']} is not valid")
        now = self.fake.clock()
        sid = self.reg._new(prefix, kind)
        item = {
            "sid": sid,
            "account_sid": self.fake.account_sid,
            "friendly_name": form["FriendlyName"],
            "type": form["Type"],
            "attributes": self._attributes(form),
            "date_created": iso8601(now),
            "date_updated": iso8601(now),
            "url": f"https://trusthub.twilio.com/v1/{path}/{sid}",
        }
        if prefix == "RD":
            item.update(status="draft", mime_type=None)
        table[sid] = item
        return _json(public_view(item), 201)

    def _item(self, request: Request, table, sid: str):
        item = table.get(sid)
        if item is None:
            raise self._missing(request)
        if request.method == "POST":
            if request.form.get("Attributes"):
                item["attributes"] = self._attributes(request.form)
            if request.form.get("FriendlyName"):
                item["friendly_name"] = request.form["FriendlyName"]
            item["date_updated"] = iso8601(self.fake.clock())
        return _json(public_view(item))

    def reg_end_users(self, request: Request):
        return self._items(
            request, self.reg.end_users, "IT", "end_user", END_USER_TYPES, "EndUsers"
        )

    def reg_end_user(self, request: Request, sid: str):
        return self._item(request, self.reg.end_users, sid)

    def reg_documents(self, request: Request):
        return self._items(
            request,
            self.reg.documents,
            "RD",
            "supporting_document",
            DOCUMENT_TYPES,
            "SupportingDocuments",
        )

    def reg_document(self, request: Request, sid: str):
        return self._item(request, self.reg.documents, sid)

    # -- brands ----------------------------------------------------------------------------

    def reg_brands(self, request: Request):
        if request.method == "GET":
            return _json(
                _page(request, [self.reg.brand_json(b) for b in self.reg.brands.values()], "data")
            )
        form = request.form
        self._required(form, "CustomerProfileBundleSid", "A2PProfileBundleSid")
        profile = self.reg.profiles.get(form["CustomerProfileBundleSid"])
        product = self.reg.products.get(form["A2PProfileBundleSid"])
        if profile is None or product is None:
            raise RegistrationError(
                20001, "CustomerProfileBundleSid or A2PProfileBundleSid is not valid"
            )
        if profile["status"] == "draft" or product["status"] == "draft":
            raise RegistrationError(
                20001, "Both bundles must be submitted before the brand is registered"
            )
        brand_type = form.get("BrandType", "STANDARD")
        if brand_type not in ("STANDARD", "LOW_VOLUME_STANDARD", "SOLE_PROPRIETOR"):
            raise RegistrationError(20001, f"BrandType {brand_type} is not valid")
        mobile, brand_name = None, profile["friendly_name"]
        for sid in product["_assigned"]:
            user = self.reg.end_users.get(sid)
            if user and user["type"] == "sole_proprietor_information":
                mobile = user["attributes"].get("mobile_phone_number")
                brand_name = user["attributes"].get("brand_name") or brand_name
        now = self.fake.clock()
        sid = self.reg._new("BN", "brand")
        brand = {
            "sid": sid,
            "account_sid": self.fake.account_sid,
            "customer_profile_bundle_sid": profile["sid"],
            "a2p_profile_bundle_sid": product["sid"],
            "date_created": iso8601(now),
            "date_updated": iso8601(now),
            "brand_type": brand_type,
            "status": "PENDING",
            "tcr_id": "B" + sid[2:8].upper(),
            "failure_reason": None,
            "errors": [],
            "url": f"https://messaging.twilio.com/v1/a2p/BrandRegistrations/{sid}",
            "brand_score": None,
            "brand_feedback": None,
            "identity_status": "UNVERIFIED",
            "russell_3000": False,
            "government_entity": False,
            "tax_exempt_status": None,
            "skip_automatic_sec_vet": form.get("SkipAutomaticSecVet") == "true",
            "mock": form.get("Mock") == "true",
            "links": {
                "brand_vettings": f"https://messaging.twilio.com/v1/a2p/BrandRegistrations/{sid}/Vettings",
                "brand_registration_otps": f"https://messaging.twilio.com/v1/a2p/BrandRegistrations/{sid}/SmsOtp",
            },
            "_outcome": self.reg.outcome,
            "_since": now,
            "_otp_verified": brand_type != "SOLE_PROPRIETOR",
            "_mobile": mobile,
            "_brand_name": brand_name,
            "_otp_sent_at": None,
            "_deleted": False,
        }
        self.reg.brands[sid] = brand
        if brand_type == "SOLE_PROPRIETOR":
            self.reg._send_otp(brand)
        return _json(self.reg.brand_json(brand), 201)

    def reg_brand(self, request: Request, sid: str):
        brand = self.reg.brands.get(sid)
        if brand is None:
            raise self._missing(request)
        if request.method == "POST":
            # Resubmitting a failed brand after its profile was fixed: the same brand (and
            # its fee), reviewed again under the switch as it is now.
            if self.reg.brand_json(brand)["status"] != "FAILED":
                raise RegistrationError(20001, "Only a brand in FAILED status can be resubmitted")
            brand["_outcome"] = self.reg.outcome
            brand["_since"] = self.fake.clock()
            return _json(self.reg.brand_json(brand))
        return _json(self.reg.brand_json(brand))

    def reg_brand_otp(self, request: Request, sid: str):
        brand = self.reg.brands.get(sid)
        if brand is None:
            raise self._missing(request)
        if brand["brand_type"] != "SOLE_PROPRIETOR" or brand["_otp_verified"]:
            raise RegistrationError(20001, "No confirmation is pending for this brand")
        self.reg._send_otp(brand)
        return _json({"account_sid": self.fake.account_sid, "brand_registration_sid": sid}, 201)

    # -- Messaging Services --------------------------------------------------------------------

    def _service_json(self, service: dict[str, Any]) -> dict[str, Any]:
        return public_view(service)

    def reg_services(self, request: Request):
        if request.method == "GET":
            items = [self._service_json(s) for s in self.reg.services.values()]
            return _json(_page(request, items, "services"))
        form = request.form
        self._required(form, "FriendlyName")
        now = self.fake.clock()
        sid = self.reg._new("MG", "messaging_service")
        url = f"https://messaging.twilio.com/v1/Services/{sid}"
        self.reg.services[sid] = {
            "sid": sid,
            "account_sid": self.fake.account_sid,
            "friendly_name": form["FriendlyName"],
            "date_created": iso8601(now),
            "date_updated": iso8601(now),
            "inbound_request_url": form.get("InboundRequestUrl"),
            "inbound_method": form.get("InboundMethod", "POST"),
            "fallback_url": form.get("FallbackUrl"),
            "fallback_method": "POST",
            "status_callback": form.get("StatusCallback"),
            "sticky_sender": True,
            "mms_converter": True,
            "smart_encoding": True,
            "scan_message_content": "inherit",
            "fallback_to_long_code": False,
            "area_code_geomatch": True,
            "synchronous_validation": False,
            "validity_period": 14400,
            "url": url,
            "links": {
                "phone_numbers": f"{url}/PhoneNumbers",
                "us_app_to_person": f"{url}/Compliance/Usa2p",
                "us_app_to_person_usecases": f"{url}/Compliance/Usa2p/Usecases",
            },
            "usecase": form.get("Usecase", "undeclared"),
            "us_app_to_person_registered": False,
            "use_inbound_webhook_on_number": form.get("UseInboundWebhookOnNumber") == "true",
            "_numbers": [],
        }
        return _json(self._service_json(self.reg.services[sid]), 201)

    def reg_service(self, request: Request, sid: str):
        service = self.reg.services.get(sid)
        if service is None:
            raise self._missing(request)
        return _json(self._service_json(service))

    def reg_service_numbers(self, request: Request, sid: str):
        service = self.reg.services.get(sid)
        if service is None:
            raise self._missing(request)
        if request.method == "GET":
            items = [self._service_number(sid, n) for n in service["_numbers"]]
            return _json(_page(request, items, "phone_numbers"))
        number_sid = request.form.get("PhoneNumberSid", "")
        with self.fake.lock:
            number = next((n for n in self.fake.numbers.values() if n.sid == number_sid), None)
        if number is None:
            raise RegistrationError(20001, f"The Phone Number {number_sid} was not found")
        for other in self.reg.services.values():
            if number_sid in other["_numbers"]:
                raise RegistrationError(
                    21710, "Phone Number or Short Code is already in the Messaging Service."
                )
        service["_numbers"].append(number_sid)
        return _json(self._service_number(sid, number_sid), 201)

    def _service_number(self, service_sid: str, number_sid: str) -> dict[str, Any]:
        number = next((n for n in self.fake.numbers.values() if n.sid == number_sid), None)
        return {
            "sid": number_sid,
            "account_sid": self.fake.account_sid,
            "service_sid": service_sid,
            "phone_number": number.phone_number if number else None,
            "country_code": "US",
            "capabilities": ["SMS", "MMS", "Voice"],
            "date_created": iso8601(self.fake.clock()),
            "date_updated": iso8601(self.fake.clock()),
            "url": f"https://messaging.twilio.com/v1/Services/{service_sid}/PhoneNumbers/{number_sid}",
        }

    def service_for_number(self, e164: str) -> str | None:
        """The Messaging Service whose pool holds `e164`, if any."""
        number = self.fake.numbers.get(e164)
        if number is None:
            return None
        for sid, service in self.reg.services.items():
            if number.sid in service["_numbers"]:
                return sid
        return None

    # -- campaigns -------------------------------------------------------------------------

    def reg_use_cases(self, request: Request, sid: str):
        if sid not in self.reg.services:
            raise self._missing(request)
        brand = self.reg.brands.get(request.args.get("BrandRegistrationSid", ""))
        if brand is None:
            raise RegistrationError(20404, "Brand registration not found", 404)
        kind = "SOLE_PROPRIETOR" if brand["brand_type"] == "SOLE_PROPRIETOR" else "STANDARD"
        items = [
            {
                "code": code,
                "name": code.replace("_", " ").title(),
                "description": f"{code} use case",
                "post_approval_required": False,
            }
            for code in USE_CASES[kind]
        ]
        return _json({"us_app_to_person_usecases": items})

    def reg_campaigns(self, request: Request, sid: str):
        service = self.reg.services.get(sid)
        if service is None:
            raise self._missing(request)
        if request.method == "GET":
            items = [
                self.reg.campaign_json(c)
                for c in self.reg.campaigns.values()
                if c["messaging_service_sid"] == sid
            ]
            return _json(_page(request, items, "compliance"))
        form = request.form
        self._required(
            form,
            "BrandRegistrationSid",
            "Description",
            "MessageFlow",
            "UsAppToPersonUsecase",
            "HasEmbeddedLinks",
            "HasEmbeddedPhone",
        )
        brand = self.reg.brands.get(form["BrandRegistrationSid"])
        if brand is None:
            raise RegistrationError(20001, "Brand registration not found")
        if self.reg.brand_json(brand)["status"] != "APPROVED":
            raise RegistrationError(20001, "The brand is not approved yet")
        if any(c["messaging_service_sid"] == sid for c in self.reg.campaigns.values()):
            raise RegistrationError(20001, "This Messaging Service already has a campaign")
        samples = form.getlist("MessageSamples")
        if not 2 <= len(samples) <= 5:
            raise RegistrationError(20001, "MessageSamples must hold 2 to 5 samples")
        kind = "SOLE_PROPRIETOR" if brand["brand_type"] == "SOLE_PROPRIETOR" else "STANDARD"
        use_case = form["UsAppToPersonUsecase"]
        if use_case not in USE_CASES[kind]:
            raise RegistrationError(20001, f"Use case {use_case} is not allowed for this brand")
        now = self.fake.clock()
        campaign_sid = self.reg._new("QE", "campaign")
        campaign = {
            "sid": campaign_sid,
            "account_sid": self.fake.account_sid,
            "brand_registration_sid": brand["sid"],
            "messaging_service_sid": sid,
            "description": form["Description"],
            "message_samples": samples,
            "us_app_to_person_usecase": use_case,
            "has_embedded_links": form["HasEmbeddedLinks"] == "true",
            "has_embedded_phone": form["HasEmbeddedPhone"] == "true",
            "subscriber_opt_in": form.get("SubscriberOptIn") == "true",
            "age_gated": form.get("AgeGated") == "true",
            "direct_lending": form.get("DirectLending") == "true",
            "campaign_status": "IN_PROGRESS",
            "campaign_id": "C" + campaign_sid[2:8].upper(),
            "is_externally_registered": False,
            "rate_limits": {},
            "message_flow": form["MessageFlow"],
            "opt_in_message": form.get("OptInMessage"),
            "opt_out_message": form.get("OptOutMessage"),
            "help_message": form.get("HelpMessage"),
            "opt_in_keywords": form.getlist("OptInKeywords"),
            "opt_out_keywords": form.getlist("OptOutKeywords"),
            "help_keywords": form.getlist("HelpKeywords"),
            "privacy_policy_url": form.get("PrivacyPolicyUrl"),
            "terms_and_conditions_url": form.get("TermsAndConditionsUrl"),
            "date_created": iso8601(now),
            "date_updated": iso8601(now),
            "url": f"https://messaging.twilio.com/v1/Services/{sid}/Compliance/Usa2p/{campaign_sid}",
            "mock": False,
            "errors": [],
            "_outcome": self.reg.outcome,
            "_since": now,
        }
        self.reg.campaigns[campaign_sid] = campaign
        return _json(self.reg.campaign_json(campaign), 201)

    def reg_campaign(self, request: Request, sid: str, campaign: str):
        found = self.reg.campaigns.get(campaign)
        if found is None or found["messaging_service_sid"] != sid:
            raise self._missing(request)
        if request.method == "DELETE":
            del self.reg.campaigns[campaign]
            return Response(status=204)
        return _json(self.reg.campaign_json(found))

    # -- toll-free verification ----------------------------------------------------------------

    def reg_tollfree_list(self, request: Request):
        if request.method == "GET":
            wanted = request.args.get("TollfreePhoneNumberSid")
            items = [
                self.reg.tollfree_json(v)
                for v in self.reg.tollfree.values()
                if not wanted or v["tollfree_phone_number_sid"] == wanted
            ]
            return _json(_page(request, items, "verifications"))
        form = request.form
        self._required(
            form,
            "BusinessName",
            "BusinessWebsite",
            "NotificationEmail",
            "UseCaseCategories",
            "UseCaseSummary",
            "ProductionMessageSample",
            "OptInImageUrls",
            "OptInType",
            "MessageVolume",
            "TollfreePhoneNumberSid",
        )
        number_sid = form["TollfreePhoneNumberSid"]
        number = next((n for n in self.fake.numbers.values() if n.sid == number_sid), None)
        if number is None or number.phone_number[2:5] not in {
            "800",
            "833",
            "844",
            "855",
            "866",
            "877",
            "888",
        }:
            raise RegistrationError(
                20001, f"TollfreePhoneNumberSid {number_sid} is not a toll-free number"
            )
        if any(v["tollfree_phone_number_sid"] == number_sid for v in self.reg.tollfree.values()):
            raise RegistrationError(
                20001, "A verification already exists for this toll-free number"
            )
        now = self.fake.clock()
        sid = self.reg._new("HH", "tollfree_verification")
        verification = {
            "sid": sid,
            "account_sid": self.fake.account_sid,
            "customer_profile_sid": form.get("CustomerProfileSid"),
            "trust_product_sid": None,
            "date_created": iso8601(now),
            "date_updated": iso8601(now),
            "regulated_item_sid": None,
            "business_name": form["BusinessName"],
            "business_street_address": form.get("BusinessStreetAddress"),
            "business_city": form.get("BusinessCity"),
            "business_state_province_region": form.get("BusinessStateProvinceRegion"),
            "business_postal_code": form.get("BusinessPostalCode"),
            "business_country": form.get("BusinessCountry"),
            "business_website": form["BusinessWebsite"],
            "business_contact_first_name": form.get("BusinessContactFirstName"),
            "business_contact_last_name": form.get("BusinessContactLastName"),
            "business_contact_email": form.get("BusinessContactEmail"),
            "business_contact_phone": form.get("BusinessContactPhone"),
            "notification_email": form["NotificationEmail"],
            "use_case_categories": form.getlist("UseCaseCategories"),
            "use_case_summary": form["UseCaseSummary"],
            "production_message_sample": form["ProductionMessageSample"],
            "opt_in_image_urls": form.getlist("OptInImageUrls"),
            "opt_in_type": form["OptInType"],
            "message_volume": form["MessageVolume"],
            "additional_information": form.get("AdditionalInformation"),
            "tollfree_phone_number_sid": number_sid,
            "tollfree_phone_number": number.phone_number,
            "status": "PENDING_REVIEW",
            "url": f"https://messaging.twilio.com/v1/Tollfree/Verifications/{sid}",
            "rejection_reason": None,
            "error_code": None,
            "edit_expiration": None,
            "edit_allowed": False,
            "rejection_reasons": None,
            "resource_links": {},
            "external_reference_id": form.get("ExternalReferenceId"),
            "_outcome": self.reg.outcome,
            "_since": now,
        }
        self.reg.tollfree[sid] = verification
        return _json(self.reg.tollfree_json(verification), 201)

    def reg_tollfree(self, request: Request, sid: str):
        verification = self.reg.tollfree.get(sid)
        if verification is None:
            raise self._missing(request)
        if request.method == "POST":
            if self.reg.tollfree_json(verification)["status"] != "TWILIO_REJECTED":
                raise RegistrationError(20001, "Only a rejected verification can be edited")
            for field, key in (
                ("BusinessName", "business_name"),
                ("BusinessWebsite", "business_website"),
                ("UseCaseSummary", "use_case_summary"),
                ("ProductionMessageSample", "production_message_sample"),
            ):
                if request.form.get(field):
                    verification[key] = request.form[field]
            verification["_outcome"] = self.reg.outcome
            verification["_since"] = self.fake.clock()
            verification["edit_allowed"] = False
        return _json(self.reg.tollfree_json(verification))

"""The registration half of the gateway against the fake Twilio: routing by host, Twilio's
error bodies, and the outcome switch."""

from __future__ import annotations

import pytest

from app.sms import gateway, trust_hub
from app.sms.fake_twilio.registration import parse_outcome


@pytest.mark.parametrize("transport", ["in_process", "over_http"])
def test_paths_are_routed_by_host(request, fake, transport):
    if transport == "over_http":
        request.getfixturevalue("over_http")
    twilio = gateway.client()
    on_trusthub = twilio.request("GET", "https://trusthub.twilio.com/v1/CustomerProfiles")
    assert on_trusthub.status_code == 200
    # The same path on another Twilio host is not Trust Hub's.
    on_api = twilio.request("GET", "https://api.twilio.com/v1/CustomerProfiles")
    assert on_api.status_code == 404
    on_messaging = twilio.request("GET", "https://messaging.twilio.com/v1/CustomerProfiles")
    assert on_messaging.status_code == 404


def test_unknown_resource_is_twilios_404(fake):
    with pytest.raises(gateway.PermanentGatewayError) as error:
        trust_hub.fetch_brand("BN" + "0" * 32)
    assert error.value.status == 404 and error.value.code == 20404


def test_a_bundle_cannot_be_submitted_before_it_is_complete(fake):
    profile = trust_hub.create_customer_profile(
        friendly_name="Incomplete",
        email="a@example.com",
        policy_sid=trust_hub.SECONDARY_PROFILE_POLICY,
    )
    evaluation = trust_hub.evaluate_customer_profile(
        profile_sid=profile.sid, policy_sid=trust_hub.SECONDARY_PROFILE_POLICY
    )
    assert evaluation.status == "noncompliant"
    assert any("authorized_representative_1" in f for f in evaluation.failures)
    with pytest.raises(gateway.PermanentGatewayError):
        trust_hub.submit_customer_profile(profile.sid)


def test_campaign_needs_an_approved_brand_and_two_samples(fake):
    service = trust_hub.create_messaging_service(
        friendly_name="s", inbound_url="https://x.example/s", status_callback="https://x.example/c"
    )
    with pytest.raises(gateway.PermanentGatewayError, match="Brand registration not found"):
        trust_hub.create_campaign(
            service_sid=service.sid,
            brand_sid="BN" + "1" * 32,
            use_case="LOW_VOLUME",
            description="d" * 40,
            message_flow="m" * 40,
            message_samples=["one sample only, long enough"],
            has_embedded_links=False,
            has_embedded_phone=False,
            opt_in_message="in",
            opt_out_message="out",
            help_message="help",
            opt_in_keywords=["START"],
            opt_out_keywords=["STOP"],
            help_keywords=["HELP"],
            privacy_policy_url="https://x.example/p",
            terms_url="https://x.example/t",
        )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("approve", "approve"),
        ("approve_after:90", "approve_after:90"),
        ("pending", "pending"),
        ("fail:30799", "fail:30799"),
        ("fail:30544:campaign", "fail:30544:campaign"),
    ],
)
def test_outcome_switch_parses(text, expected):
    assert str(parse_outcome(text)) == expected


@pytest.mark.parametrize("text", ["maybe", "fail:abc", "approve_after:", "fail:1:nope"])
def test_outcome_switch_refuses_nonsense(text):
    with pytest.raises(ValueError):
        parse_outcome(text)

"""The gateway: the real twilio SDK talking to the fake Twilio over real HTTP (loopback).
These check what the SDK puts on the wire and how each kind of failure comes back."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from app.models import utcnow
from app.sms import gateway
from app.sms.fake_twilio.api import available_numbers


def test_send_sms_form_fields_and_answer(over_http, fake):
    sent = gateway.send_sms(
        from_="+15126660100",
        to="+15125550101",
        body="Hello from the plumber",
        media_urls=["https://example.com/photo.jpg"],
        status_callback="https://app.example/webhooks/twilio/status?mid=7",
    )
    [request] = fake.message_requests()
    assert request.path == "/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages.json"
    assert request.form_dict() == {
        "To": ["+15125550101"],
        "From": ["+15126660100"],
        "Body": ["Hello from the plumber"],
        "MediaUrl": ["https://example.com/photo.jpg"],
        "StatusCallback": ["https://app.example/webhooks/twilio/status?mid=7"],
    }
    assert request.status == 201
    assert sent.sid.startswith("MM") and len(sent.sid) == 34
    assert sent.status == "queued"


def test_search_local_numbers_sends_capability_filters(over_http, fake):
    numbers = gateway.search_local_numbers(area_code="512", limit=3)
    [request] = fake.requests
    assert request.method == "GET"
    assert request.path.endswith("/AvailablePhoneNumbers/US/Local.json")
    assert dict(request.query) == {
        "AreaCode": "512",
        "SmsEnabled": "true",
        "MmsEnabled": "true",
        "VoiceEnabled": "true",
        "PageSize": "3",
    }
    assert len(numbers) == 3
    assert all(n.e164.startswith("+1512") for n in numbers)
    assert all(n.region == "TX" and n.locality for n in numbers)
    # Deterministic: the same search gives the same numbers.
    assert gateway.search_local_numbers(area_code="512", limit=3) == numbers


@pytest.mark.parametrize("area_code", ["999", "555", "12", "abc"])
def test_area_codes_without_numbers_return_none(over_http, fake, area_code):
    assert gateway.search_local_numbers(area_code=area_code) == []


def test_buy_number_sends_webhook_urls_and_a_second_purchase_is_refused(over_http, fake):
    choice = gateway.search_local_numbers(area_code="737", limit=1)[0]
    bought = gateway.buy_number(
        phone_number=choice.e164,
        sms_url="https://app.example/webhooks/twilio/sms",
        voice_url="https://app.example/webhooks/twilio/voice",
        status_callback="https://app.example/webhooks/twilio/status",
    )
    purchase = next(r for r in fake.requests if r.method == "POST")
    assert purchase.path.endswith("/IncomingPhoneNumbers.json")
    assert purchase.form_dict() == {
        "PhoneNumber": [choice.e164],
        "SmsUrl": ["https://app.example/webhooks/twilio/sms"],
        "SmsMethod": ["POST"],
        "VoiceUrl": ["https://app.example/webhooks/twilio/voice"],
        "VoiceMethod": ["POST"],
        "StatusCallback": ["https://app.example/webhooks/twilio/status"],
        "StatusCallbackMethod": ["POST"],
    }
    assert bought.e164 == choice.e164 and bought.sid.startswith("PN")
    assert fake.number(choice.e164).sms_url == "https://app.example/webhooks/twilio/sms"
    # Bought numbers are no longer offered.
    assert choice.e164 not in [n.e164 for n in gateway.search_local_numbers(area_code="737")]
    assert gateway.find_owned_number(choice.e164) == bought

    with pytest.raises(gateway.PermanentGatewayError) as refused:
        gateway.buy_number(phone_number=choice.e164, sms_url="https://x/s", voice_url="https://x/v")
    assert refused.value.code == 21422
    assert "no longer available" in refused.value.explanation


@pytest.mark.parametrize(
    ("code", "words"),
    [
        (21610, "opted out"),
        (21211, "not a valid phone number"),
        (21614, "landline"),
        (21408, "not enabled"),
        (21999, "error 21999"),
    ],
)
def test_refusals_are_permanent_with_plain_words(over_http, fake, code, words):
    fake.refuse_number("+15125550102", code)
    with pytest.raises(gateway.PermanentGatewayError) as refused:
        gateway.send_sms(from_="+15126660100", to="+15125550102", body="hi")
    assert refused.value.code == code
    assert refused.value.status == 400
    assert words in refused.value.explanation
    assert fake.outbound() == []


def test_invalid_number_is_refused_by_the_fake_with_21211(over_http, fake):
    with pytest.raises(gateway.PermanentGatewayError) as refused:
        gateway.send_sms(from_="+15126660100", to="+1555", body="hi")
    assert refused.value.code == 21211


@pytest.mark.parametrize("status", [500, 503])
def test_server_errors_are_transient(over_http, fake, status):
    fake.fail_next(1, status=status)
    with pytest.raises(gateway.TransientGatewayError) as failed:
        gateway.send_sms(from_="+15126660100", to="+15125550101", body="hi")
    assert failed.value.status == status
    assert fake.outbound() == []
    assert gateway.send_sms(from_="+15126660100", to="+15125550101", body="hi").sid


def test_429_carries_retry_after(over_http, fake):
    fake.fail_next(1, status=429, retry_after=30)
    with pytest.raises(gateway.TransientGatewayError) as limited:
        gateway.send_sms(from_="+15126660100", to="+15125550101", body="hi")
    assert limited.value.status == 429
    assert limited.value.retry_after == 30


def test_connection_dropped_before_the_answer_is_an_unknown_outcome(over_http, fake):
    fake.drop_next(1, after_accept=True)
    with pytest.raises(gateway.UnknownOutcome):
        gateway.send_sms(from_="+15126660100", to="+15125550101", body="did it go?")
    [kept] = fake.outbound()
    found = gateway.find_messages(
        from_="+15126660100", to="+15125550101", sent_after=utcnow() - timedelta(minutes=1)
    )
    assert [m.sid for m in found] == [kept.sid]
    assert found[0].body == "did it go?"


def test_timeout_after_sending_is_an_unknown_outcome(app, over_http, fake):
    fake.set_latency(1.0)
    app.config["TWILIO_HTTP_TIMEOUT"] = 0.3
    try:
        with pytest.raises(gateway.UnknownOutcome):
            gateway.send_sms(from_="+15126660100", to="+15125550101", body="slow")
    finally:
        app.config.pop("TWILIO_HTTP_TIMEOUT")
    assert len(fake.outbound()) == 1


def test_connection_refused_is_transient(app, fake):
    app.config["TWILIO_API_BASE_URL"] = "http://127.0.0.1:9"
    try:
        with pytest.raises(gateway.TransientGatewayError):
            gateway.send_sms(from_="+15126660100", to="+15125550101", body="hi")
    finally:
        app.config["TWILIO_API_BASE_URL"] = None


def test_wrong_credentials_are_refused_with_401(app, over_http, fake):
    app.config["TWILIO_AUTH_TOKEN"], token = "not-the-token", app.config["TWILIO_AUTH_TOKEN"]
    try:
        with pytest.raises(gateway.TransientGatewayError) as refused:
            gateway.send_sms(from_="+15126660100", to="+15125550101", body="hi")
    finally:
        app.config["TWILIO_AUTH_TOKEN"] = token
    assert refused.value.status == 401
    assert refused.value.code == 20003


def test_in_process_fake_is_the_default(app, fake):
    assert not app.config.get("TWILIO_API_BASE_URL")
    sent = gateway.send_sms(from_="+15126660100", to="+15125550101", body="in-process")
    assert fake.outbound()[0].sid == sent.sid
    assert isinstance(gateway.client().http_client, gateway.InProcessHttpClient)


def test_available_numbers_are_valid_and_distinct():
    numbers = available_numbers("212", 5, taken=set())
    assert len(set(numbers)) == 5
    assert available_numbers("212", 5, taken={numbers[0]})[0] != numbers[0]


def test_random_failures_hit_about_the_asked_share_of_sends(fake):
    fake.fail_randomly(0.25, seed=7)
    outcomes = []
    for n in range(200):
        try:
            gateway.send_sms(from_="+15126660100", to="+15125550101", body=f"#{n}")
            outcomes.append("ok")
        except gateway.TransientGatewayError:
            outcomes.append("500")
    failed = outcomes.count("500")
    assert 30 <= failed <= 70
    assert len(fake.outbound()) == 200 - failed


def test_only_the_gateway_imports_twilio_rest():
    app_dir = Path(__file__).resolve().parents[2] / "app"
    importers = sorted(
        str(path.relative_to(app_dir))
        for path in app_dir.rglob("*.py")
        if "twilio.rest" in path.read_text(encoding="utf-8")
    )
    assert importers == ["sms/gateway.py"]

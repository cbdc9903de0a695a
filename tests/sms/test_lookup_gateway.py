"""Twilio Lookup v2 (Line Type Intelligence) through the real SDK against the fake Twilio,
over real HTTP and in-process: the line types, the 404 of a number Lookup does not know,
and 5xx, dropped connections and timeouts as transient errors."""

from __future__ import annotations

import pytest

from app.sms import gateway

MOBILE = "+15125550101"


@pytest.fixture(params=["in_process", "over_http"])
def transport(request, fake):
    if request.param == "over_http":
        request.getfixturevalue("over_http")
    return request.param


def test_a_us_number_is_a_mobile_by_default(transport, fake):
    found = gateway.lookup_line_type(MOBILE)
    assert found == gateway.LineType(
        phone=MOBILE, valid=True, type="mobile", carrier_name="Fake Wireless", error_code=None
    )
    (asked,) = [r for r in fake.requests if r.path.startswith("/v2/PhoneNumbers/")]
    assert asked.method == "GET"
    assert asked.path == f"/v2/PhoneNumbers/{MOBILE}"
    assert asked.query == [("Fields", "line_type_intelligence")]


@pytest.mark.parametrize(
    "line_type", ["landline", "tollFree", "fixedVoip", "nonFixedVoip", "mobile", "pager"]
)
def test_the_switch_decides_the_line_type(transport, fake, line_type):
    fake.lookups.set_line_type(MOBILE, line_type)
    found = gateway.lookup_line_type(MOBILE)
    assert found.type == line_type and found.valid
    assert fake.lookups.answered[-1].why == "switch"


def test_the_fakes_rules_without_a_switch(fake):
    fake.refuse_number("+15125550102", 21614)  # Twilio refuses texts to it: a landline
    assert gateway.lookup_line_type("+15125550102").type == "landline"
    assert gateway.lookup_line_type("+18005550199").type == "tollFree"
    fake.lookups.set_line_type(MOBILE, "landline")
    fake.lookups.set_line_type(MOBILE, None)  # back to the rules
    assert gateway.lookup_line_type(MOBILE).type == "mobile"


def test_the_answer_has_twilios_json_shape(fake, client):
    """The raw body, as lookups.twilio.com answers it."""
    import json

    from app.sms.gateway import get_in_process

    fake.lookups.set_line_type(MOBILE, "landline")
    account = (fake.account_sid, fake.auth_token)
    status, _headers, body = get_in_process(
        f"https://lookups.twilio.com/v2/PhoneNumbers/{MOBILE}?Fields=line_type_intelligence",
        account,
        buffered=True,
    )
    payload = json.loads(b"".join(body))
    assert status == 200
    assert payload["phone_number"] == MOBILE and payload["valid"] is True
    assert payload["country_code"] == "US" and payload["calling_country_code"] == "1"
    assert payload["national_format"] == "(512) 555-0101"
    assert set(payload["line_type_intelligence"]) == {
        "type",
        "carrier_name",
        "mobile_country_code",
        "mobile_network_code",
        "error_code",
    }
    assert payload["line_type_intelligence"]["type"] == "landline"
    assert payload["url"] == f"https://lookups.twilio.com/v2/PhoneNumbers/{MOBILE}"


def test_without_credentials_lookup_answers_401(fake):
    from app.sms.gateway import get_in_process

    status, _headers, _body = get_in_process(
        f"https://lookups.twilio.com/v2/PhoneNumbers/{MOBILE}", None, buffered=True
    )
    assert status == 401


def test_a_number_lookup_does_not_know_is_404_and_not_valid(transport, fake):
    found = gateway.lookup_line_type("not-a-number")
    assert found.valid is False and found.type is None and found.error_code == 20404
    assert fake.lookups.answered[-1].status == 404


def test_a_number_that_parses_but_is_not_valid_has_no_line_type(transport, fake):
    found = gateway.lookup_line_type("+15125550")
    assert found.valid is False and found.type is None


def test_a_5xx_is_transient(transport, fake):
    fake.fail_next(1, status=503, path_contains="/PhoneNumbers/")
    with pytest.raises(gateway.TransientGatewayError) as raised:
        gateway.lookup_line_type(MOBILE)
    assert raised.value.status == 503
    assert gateway.lookup_line_type(MOBILE).type == "mobile"  # the next one answers


def test_429_is_transient_with_retry_after(over_http, fake):
    fake.fail_next(1, status=429, retry_after=30, path_contains="/PhoneNumbers/")
    with pytest.raises(gateway.TransientGatewayError) as raised:
        gateway.lookup_line_type(MOBILE)
    assert raised.value.retry_after == 30


def test_a_slow_lookup_times_out_as_transient(transport, fake):
    fake.lookups.set_latency(1.0)
    with pytest.raises(gateway.TransientGatewayError):
        gateway.lookup_line_type(MOBILE, timeout=0.3)


def test_a_dropped_connection_is_transient(over_http, fake):
    fake.drop_next(1)
    fake.faults[-1].path_contains = "/PhoneNumbers/"
    with pytest.raises(gateway.TransientGatewayError):
        gateway.lookup_line_type(MOBILE)


def test_sends_faults_do_not_touch_lookups(fake):
    fake.fail_next(1, status=500)  # the next send, not the next lookup
    assert gateway.lookup_line_type(MOBILE).type == "mobile"

"""app/urls.py: absolute public URLs come from PUBLIC_BASE_URL and the URL map, with or
without a request (the worker and the CLI have none)."""

from __future__ import annotations

from app.urls import public_path_for, public_url_for


def test_public_urls_outside_a_request(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://sms.example.com/")
    assert public_url_for("public.estimate_page", token="abc") == "https://sms.example.com/e/abc"
    assert public_url_for("webhooks.twilio_status", m="7") == (
        "https://sms.example.com/webhooks/twilio/status?m=7"
    )
    assert public_path_for("auth.accept_invite", token="t") == "/invite/t"


def test_the_request_host_does_not_leak_in(app, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_BASE_URL", "https://sms.example.com")
    with app.test_request_context(base_url="http://internal:8000/"):
        assert public_url_for("public.invoice_page", token="x") == "https://sms.example.com/i/x"

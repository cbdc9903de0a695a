"""Email: over SMTP (stdlib smtplib, against a small SMTP server on loopback) when
SMTP_HOST is set, else into the development mailbox."""

from __future__ import annotations

import base64
import socketserver
import time

import pytest

from app.mail import DevMailbox, send_email
from tests.support import serving


class _SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    def handle(self) -> None:
        server = self.server

        def say(text: str) -> None:
            self.wfile.write((text + "\r\n").encode())

        say("220 test ESMTP")
        lines: list[str] | None = None
        while line := self.rfile.readline():
            text = line.decode().rstrip("\r\n")
            if lines is not None:
                if text == ".":
                    server.messages.append("\n".join(lines))
                    lines = None
                    say("250 queued")
                else:
                    lines.append(text[1:] if text.startswith("..") else text)
                continue
            verb = text.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.wfile.write(b"250-test\r\n250 AUTH PLAIN\r\n")
            elif verb == "AUTH":
                server.logins.append(base64.b64decode(text.split()[-1]).split(b"\0")[1:])
                say("235 ok")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                server.envelope.append(text)
                say("250 ok")
            elif verb == "DATA":
                lines = []
                say("354 go on")
            elif verb == "QUIT":
                say("221 bye")
                return
            else:
                say("502 not here")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages, server.logins, server.envelope = [], [], []
    with serving(server):
        yield server


@pytest.fixture
def smtp_config(app, smtp_server):
    keys = ("SMTP_HOST", "SMTP_PORT", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_SECURITY")
    previous = {key: app.config[key] for key in keys}
    app.config.update(
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp_server.server_address[1],
        SMTP_USERNAME="mailer",
        SMTP_PASSWORD="s3cret",
        SMTP_SECURITY="none",
    )
    yield
    app.config.update(previous)


def _wait_for(items: list, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not items and time.monotonic() < deadline:
        time.sleep(0.02)


def test_with_smtp_host_the_email_goes_over_smtp(app, smtp_server, smtp_config, dev_mailbox):
    send_email(to="tina@example.com", subject="Choose a new password", body="Link: https://x/y")
    _wait_for(smtp_server.messages)
    (raw,) = smtp_server.messages
    assert "To: tina@example.com" in raw and "Subject: Choose a new password" in raw
    assert "Link: https://x/y" in raw
    assert f"From: {app.config['MAIL_FROM']}" in raw
    assert smtp_server.logins == [[b"mailer", b"s3cret"]]
    assert any("tina@example.com" in line for line in smtp_server.envelope)
    assert dev_mailbox.messages() == []  # nothing in the development mailbox


def test_an_unreachable_smtp_server_is_logged_not_raised(app, smtp_config, caplog):
    app.config["SMTP_PORT"] = 1  # nothing listens there
    send_email(to="tina@example.com", subject="Hello", body="Hi")
    deadline = time.monotonic() + 10
    while "Could not send" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.02)
    assert "Could not send the email 'Hello' to tina@example.com" in caplog.text


def test_without_smtp_host_the_email_lands_in_the_dev_mailbox(app, dev_mailbox):
    assert app.config["SMTP_HOST"] == ""
    send_email(to="a@example.com", subject="First", body="one")
    send_email(to="b@example.com", subject="Second ünïcode", body="two https://e.x/1")
    newest, oldest = dev_mailbox.messages()
    assert (newest.subject, newest.to, newest.body.strip()) == (
        "Second ünïcode",
        "b@example.com",
        "two https://e.x/1",
    )
    assert oldest.subject == "First"
    assert DevMailbox(app.config["DEV_MAILBOX"]).to("A@example.com")[0].body.strip() == "one"

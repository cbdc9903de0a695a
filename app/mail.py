"""Email, the one door for it: SMTP (stdlib smtplib) when SMTP_HOST is set, else the
development mailbox that /dev/mail shows (a Maildir under the instance folder, so every
process of `make run` and the tests see the same messages).

Production refuses to start without SMTP_HOST (app/config.py): the mailbox is a
development stand-in, like the fake Twilio.
"""

from __future__ import annotations

import logging
import mailbox
import smtplib
import ssl
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from flask import current_app

log = logging.getLogger(__name__)

SMTP_SECURITY_CHOICES = ("starttls", "ssl", "none")


def uses_dev_mailbox(config: Any) -> bool:
    return not config.get("SMTP_HOST")


def send_email(*, to: str, subject: str, body: str) -> None:
    """Send one plain-text email. Call it after the commit that made what it links to.

    Over SMTP it is handed to a background thread: the answer to "send me a reset link"
    must take as long for an unknown address as for a known one, and an SMTP round trip
    would tell them apart. A failure is logged (the person can ask again)."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain="prosms")
    message.set_content(body)
    if uses_dev_mailbox(config):
        DevMailbox(config["DEV_MAILBOX"]).add(message)
        return
    settings = {key: config.get(key) for key in SMTP_SETTINGS}
    threading.Thread(target=_send_logged, args=(message, settings), daemon=True).start()


SMTP_SETTINGS = (
    "SMTP_HOST",
    "SMTP_PORT",
    "SMTP_USERNAME",
    "SMTP_PASSWORD",
    "SMTP_SECURITY",
    "SMTP_TIMEOUT",
)


def _send_logged(message: EmailMessage, settings: dict[str, Any]) -> None:
    try:
        send_over_smtp(message, settings)
    except (OSError, smtplib.SMTPException):
        log.exception("Could not send the email %r to %s", message["Subject"], message["To"])


def send_over_smtp(message: EmailMessage, settings: dict[str, Any]) -> None:
    host, port = settings["SMTP_HOST"], int(settings["SMTP_PORT"])
    timeout = float(settings.get("SMTP_TIMEOUT") or 10)
    security = settings.get("SMTP_SECURITY") or "starttls"
    context = ssl.create_default_context()
    if security == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if security == "starttls":
            smtp.starttls(context=context)
        if settings.get("SMTP_USERNAME"):
            smtp.login(settings["SMTP_USERNAME"], settings.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)


@dataclass(frozen=True)
class MailboxEntry:
    key: str
    to: str
    sender: str
    subject: str
    sent_at: datetime
    body: str


def _header(message: mailbox.MaildirMessage, name: str) -> str:
    return str(make_header(decode_header(message.get(name, ""))))


class DevMailbox:
    """The development mailbox: what the app "sent", for /dev/mail and the tests."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _maildir(self) -> mailbox.Maildir:
        return mailbox.Maildir(self.folder, create=True)

    def add(self, message: EmailMessage) -> None:
        self._maildir().add(message)

    def messages(self) -> list[MailboxEntry]:
        """Newest first."""
        if not self.folder.exists():
            return []
        entries = []
        for key, raw in self._maildir().iteritems():
            body = raw.get_payload(decode=True) or b""
            entries.append(
                MailboxEntry(
                    key=key,
                    to=_header(raw, "To"),
                    sender=_header(raw, "From"),
                    subject=_header(raw, "Subject"),
                    # When it was delivered to the folder, to the microsecond.
                    sent_at=datetime.fromtimestamp(raw.get_date(), UTC),
                    body=body.decode(raw.get_content_charset() or "utf-8", "replace"),
                )
            )
        return sorted(entries, key=lambda e: e.sent_at, reverse=True)

    def to(self, address: str) -> list[MailboxEntry]:
        return [m for m in self.messages() if m.to.lower() == address.lower()]

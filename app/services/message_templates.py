"""The editable texts of automated messages, and how placeholders are filled.

A template is plain text with `{placeholder}` names from one fixed list. It is never
evaluated: no `str.format` (which would follow `{customer.__class__}` into the object
graph) and no Jinja. `render_text` replaces each known `{name}` with a plain string by a
regular expression, in one pass, so a customer called "{tech_name}" stays literally that.
`validate_template` refuses anything that looks like more than a name, and says which
text is wrong, so the office is never surprised by what the customer receives.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.models import Company, MessageKind, MessageTemplate, SenderIdentity
from app.services.errors import DomainError
from app.services.uniqueness import insert_or_get

PLACEHOLDERS: tuple[str, ...] = (
    "customer_first_name",
    "customer_name",
    "company_name",
    "tech_name",
    "tech_first_name",
    "job_date",
    "job_time",
    "arrival_window",
    "eta",
    "job_number",
    "business_phone",
    "invoice_link",
    "estimate_link",
    "amount",
    "due_date",
    "document_number",
    "change",
)

PLACEHOLDER_HELP: dict[str, str] = {
    "customer_first_name": "The customer's first name",
    "customer_name": "The customer's full name",
    "company_name": "Your company name",
    "tech_name": "The technician's name (“our technician” with the company-only identity; "
    "“Our technician” at the start of a sentence)",
    "tech_first_name": "The technician's first name (“our technician” with company-only)",
    "job_date": "The job's date, e.g. Tue, Dec 1",
    "job_time": "The job's start time, e.g. 9:00 AM",
    "arrival_window": "The arrival window, e.g. 9:00-11:00 AM",
    "eta": "How soon the tech arrives, e.g. 20 minutes (“about {eta}” reads “about 20 minutes”)",
    "job_number": "The job number, e.g. 1042",
    "business_phone": "The number customers call you on (your custom number)",
    "invoice_link": "A link to the invoice",
    "estimate_link": "A link to the estimate",
    "amount": "The amount, e.g. $240.00",
    "due_date": "The invoice's due date",
    "document_number": "The estimate or invoice number",
    "change": "What changed, e.g. Your appointment has a new time.",
}

_JOB = (
    "customer_first_name",
    "customer_name",
    "company_name",
    "tech_name",
    "tech_first_name",
    "job_date",
    "job_time",
    "arrival_window",
    "job_number",
    "business_phone",
)
_DOCUMENT = (
    "customer_first_name",
    "customer_name",
    "company_name",
    "business_phone",
    "amount",
    "document_number",
)


@dataclass(frozen=True)
class TemplateKind:
    kind: str
    label: str
    description: str
    default_body: str
    placeholders: tuple[str, ...]
    enabled_by_default: bool = True
    # False for the estimate and invoice texts: they go when the office clicks "Send by
    # text", so there is nothing to turn on or off.
    automatic: bool = True


KINDS: dict[str, TemplateKind] = {
    k.kind: k
    for k in (
        TemplateKind(
            MessageKind.JOB_SCHEDULED,
            "Job scheduled",
            "Sent when a job is booked, and again when its time or technician changes "
            "({change} says what changed).",
            "Hi {customer_first_name}! {change} {company_name} will see you on {job_date}, "
            "arriving {arrival_window}. Job #{job_number}. Questions? Just reply to this text.",
            (*_JOB, "change"),
        ),
        TemplateKind(
            MessageKind.ON_MY_WAY,
            "On My Way",
            "Sent once per job, when a technician taps On My Way.",
            "Hi {customer_first_name}, {tech_name} from {company_name} is on the way "
            "and should arrive in {eta}. Reply to this text if anything comes up.",
            (*_JOB, "eta"),
        ),
        TemplateKind(
            MessageKind.JOB_FINISHED,
            "Job finished",
            "Sent once per job, when it is marked Finished.",
            "Hi {customer_first_name}, job #{job_number} is finished. "
            "Thank you for choosing {company_name}!",
            (*_JOB, "invoice_link"),
        ),
        TemplateKind(
            MessageKind.JOB_CANCELED,
            "Job canceled",
            "Sent when a job is canceled; when On My Way was already sent it starts with "
            "“Update: our technician is no longer on the way.”",
            "Hi {customer_first_name}, your {company_name} appointment on {job_date} "
            "({arrival_window}, job #{job_number}) is canceled. Questions? Reply to this text.",
            _JOB,
        ),
        TemplateKind(
            MessageKind.REMINDER,
            "Appointment reminder",
            "Sent ahead of a scheduled job, inside your texting hours in the customer's time "
            "zone (and their state's stricter hours).",
            "Reminder: {company_name} will see you on {job_date}, arriving "
            "{arrival_window}. Need to reschedule? Reply to this text.",
            _JOB,
            enabled_by_default=False,
        ),
        TemplateKind(
            MessageKind.ESTIMATE,
            "Estimate",
            "The text that carries an estimate's link when you send it by text.",
            "Hi {customer_first_name}, here is estimate #{document_number} from "
            "{company_name} for {amount}: {estimate_link}",
            (*_DOCUMENT, "estimate_link"),
            automatic=False,
        ),
        TemplateKind(
            MessageKind.INVOICE,
            "Invoice",
            "The text that carries an invoice's link when you send it by text.",
            "Hi {customer_first_name}, here is invoice #{document_number} from "
            "{company_name} for {amount}, due {due_date}: {invoice_link}",
            (*_DOCUMENT, "invoice_link", "due_date"),
            automatic=False,
        ),
        TemplateKind(
            MessageKind.PAYMENT_RECEIPT,
            "Payment receipt",
            "Sent when a customer's online payment is received ({amount} is what they paid).",
            "Thank you, {customer_first_name}! {company_name} received your payment of "
            "{amount} for invoice #{document_number}. Receipt: {invoice_link}",
            (*_DOCUMENT, "invoice_link"),
        ),
        TemplateKind(
            MessageKind.DEPOSIT_RECEIPT,
            "Deposit receipt",
            "Sent when a customer pays the deposit on an approved estimate online ({amount} "
            "is what they paid).",
            "Thank you, {customer_first_name}! {company_name} received your deposit of "
            "{amount} for estimate #{document_number}. Details: {estimate_link}",
            (*_DOCUMENT, "estimate_link"),
        ),
        TemplateKind(
            MessageKind.PAYMENT_REMINDER,
            "Payment reminder",
            "Sent for an unpaid invoice on the days set in Billing settings -> Online "
            "payments (at most twice), between 8:00 AM and 9:00 PM your time.",
            "Hi {customer_first_name}, a friendly reminder from {company_name}: invoice "
            "#{document_number} has {amount} due. You can pay online here: {invoice_link}",
            (*_DOCUMENT, "invoice_link", "due_date"),
        ),
        TemplateKind(
            MessageKind.MISSED_CALL_TEXT,
            "Missed-call text-back",
            "Sent when a call to your number is not answered (or goes to voicemail), at most "
            "once per caller every 12 hours, never to a landline or an opted-out number.",
            "Sorry we missed your call - this is {company_name}. How can we help?",
            ("customer_first_name", "customer_name", "company_name", "business_phone"),
        ),
        TemplateKind(
            MessageKind.AFTER_HOURS_REPLY,
            "After-hours reply",
            "Sent when a text arrives outside your business hours (Settings -> Calls and "
            "hours), once per conversation per night. Not sent when no hours are set.",
            "Thanks for your text! {company_name} is closed right now. We'll get back to you "
            "as soon as we open.",
            ("customer_first_name", "customer_name", "company_name", "business_phone"),
        ),
    )
}

DEFAULT_REMINDER_LEAD_MINUTES = 24 * 60
MAX_BODY_LENGTH = 1000

_NAME = re.compile(r"\{([a-z_]+)\}")
_JINJA = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
_BRACED = re.compile(r"\{([^{}]*)\}")
_EMPTY = "\x00"
# Values that are words and may open a sentence (never links or amounts): capitalised there.
_SENTENCE_CASED = frozenset({"tech_name", "tech_first_name", "eta"})
# Nothing but spaces since the start of the text or the end of a sentence or line.
_SENTENCE_START = re.compile(r"(?:\A|[.!?\n])\s*\Z")


class TemplateInvalid(DomainError):
    status_code = 422

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems), field="body")
        self.problems = problems


def template_kind(kind: str) -> TemplateKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise DomainError(f"There is no automated text called “{kind}”.") from None


def _problem_for(inner: str, allowed: tuple[str, ...], kind: str | None) -> str | None:
    shown = "{" + inner + "}"
    if inner in allowed:
        return None
    if inner in PLACEHOLDERS and kind is not None:
        return f"{shown} can't be used in the {KINDS[kind].label} text."
    if inner.strip() == "":
        return f"{shown} is empty: put a placeholder name between the braces."
    if inner.strip().isdigit():
        return f"{shown} is a positional field; use a placeholder name from the list."
    if "." in inner:
        return f"{shown} looks up an attribute; only plain placeholder names are allowed."
    if "[" in inner or "]" in inner:
        return f"{shown} looks up an index; only plain placeholder names are allowed."
    if "!" in inner:
        return f"{shown} has a conversion (!); only plain placeholder names are allowed."
    if ":" in inner:
        return f"{shown} has a format spec (:); only plain placeholder names are allowed."
    close = difflib.get_close_matches(inner.strip().lower(), allowed, n=1)
    hint = f" Did you mean {{{close[0]}}}?" if close else ""
    return f"{shown} is not a placeholder we know.{hint}"


def validate_template(body: str, *, kind: str | None = None) -> list[str]:
    """The problems with `body`, each naming the offending text; empty when it is fine."""
    allowed = KINDS[kind].placeholders if kind in KINDS else PLACEHOLDERS
    problems: list[str] = []
    if not body.strip():
        return ["The text can't be empty."]
    if len(body) > MAX_BODY_LENGTH:
        problems.append(
            f"The text is {len(body)} characters; keep it under {MAX_BODY_LENGTH} "
            "(each 153 characters is another paid segment)."
        )
    seen: set[str] = set()
    for match in _JINJA.finditer(body):
        token = match.group(0)
        if token not in seen:
            seen.add(token)
            problems.append(
                f"“{token}” is template syntax, which isn't allowed; "
                "use single braces around a placeholder name, like {customer_first_name}."
            )
    if seen:
        return problems
    for match in _BRACED.finditer(body):
        problem = _problem_for(match.group(1), allowed, kind)
        if problem and problem not in problems:
            problems.append(problem)
    leftover = _BRACED.sub("", body)
    for brace in "{}":
        if brace in leftover:
            problems.append(
                f"There is a “{brace}” without its partner; "
                "braces are only for placeholders like {customer_first_name}."
            )
    return problems


def render_text(*, body: str, values: Mapping[str, str]) -> str:
    """Fill `{name}` placeholders from plain strings.

    Known placeholders missing from `values` become empty (and the spaces around them are
    tidied); anything else in braces is left as typed. The replacement is one regex pass,
    so text inside a value is never interpreted.
    """

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return match.group(0)
        value = str(values.get(name, ""))
        if name in _SENTENCE_CASED and _SENTENCE_START.search(body, 0, match.start()):
            # "our technician" is a value that may open a sentence: "Our technician from ..."
            value = value[:1].upper() + value[1:]
        return value or _EMPTY

    text = _NAME.sub(fill, body)
    # An empty value takes one neighbouring space with it: "Hi {x}." -> "Hi.", not "Hi ."
    text = re.sub(r" ?\x00 ?", lambda m: " " if m.group(0) == " \x00 " else "", text)
    return text.strip()


def get_template(*, company: Company, kind: str) -> MessageTemplate:
    """The company's template for `kind`, created with the default text on first use."""
    spec = template_kind(kind)
    template = db.session.scalar(
        sa.select(MessageTemplate).filter_by(company_id=company.id, kind=kind)
    )
    if template is not None:
        return template
    template = MessageTemplate(
        company_id=company.id,
        kind=kind,
        body=spec.default_body,
        enabled=spec.enabled_by_default,
        lead_minutes=DEFAULT_REMINDER_LEAD_MINUTES if kind == MessageKind.REMINDER else None,
    )
    # Two requests may create the default at once; then the other one won.
    template, _ = insert_or_get(
        template, sa.select(MessageTemplate).filter_by(company_id=company.id, kind=kind)
    )
    return template


def all_templates(*, company: Company) -> list[MessageTemplate]:
    return [get_template(company=company, kind=kind) for kind in KINDS]


def save_template(*, company: Company, kind: str, body: str) -> MessageTemplate:
    """Store a new text, or raise TemplateInvalid listing every problem."""
    body = body.replace("\r\n", "\n").strip()
    problems = validate_template(body, kind=kind)
    if problems:
        raise TemplateInvalid(problems)
    template = get_template(company=company, kind=kind)
    template.body = body
    return template


def reset_template(*, company: Company, kind: str) -> MessageTemplate:
    template = get_template(company=company, kind=kind)
    template.body = template_kind(kind).default_body
    return template


def set_template_enabled(*, company: Company, kind: str, enabled: bool) -> MessageTemplate:
    template = get_template(company=company, kind=kind)
    template.enabled = enabled
    return template


LEAD_CHOICES: tuple[tuple[int, str], ...] = (
    (60, "1 hour before"),
    (120, "2 hours before"),
    (180, "3 hours before"),
    (240, "4 hours before"),
    (12 * 60, "12 hours before"),
    (24 * 60, "1 day before"),
    (48 * 60, "2 days before"),
)


def set_reminder_lead(*, company: Company, lead_minutes: int) -> MessageTemplate:
    if lead_minutes not in dict(LEAD_CHOICES):
        raise DomainError("Pick one of the listed reminder times.", field="lead_minutes")
    template = get_template(company=company, kind=MessageKind.REMINDER)
    template.lead_minutes = lead_minutes
    return template


def update_template(
    *,
    company: Company,
    kind: str,
    body: str,
    enabled: bool,
    lead_minutes: int | None = None,
) -> MessageTemplate:
    """The editor's Save: the text, on/off and (for reminders) the lead time, all or none."""
    template = save_template(company=company, kind=kind, body=body)
    if template_kind(kind).automatic:
        template.enabled = enabled
    if kind == MessageKind.REMINDER and lead_minutes is not None:
        set_reminder_lead(company=company, lead_minutes=lead_minutes)
    return template


def set_text_settings(
    *, company: Company, sender_identity: str, finished_text_invoice_link: bool
) -> Company:
    """Who automated texts say they are from, and whether Job finished carries the invoice."""
    if sender_identity not in SenderIdentity.ALL:
        raise DomainError("Pick how your texts are signed.", field="sender_identity")
    company.sender_identity = sender_identity
    company.finished_text_invoice_link = finished_text_invoice_link
    return company

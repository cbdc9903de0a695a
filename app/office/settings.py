"""Office pages: the settings hub (owner/admin).

The cards link to pages built in several modules; a card shows only when its page is
registered, so the hub never links to a page this installation does not have.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, render_template, url_for
from flask_login import current_user

from app.auth.access import manager_required
from app.models import Company, RegistrationStatus
from app.office import bp
from app.services.accounts import pending_invitations, team_members


@dataclass(frozen=True)
class CardStatus:
    text: str
    warning: bool = False


def _profile_status(company: Company) -> CardStatus | None:
    if not company.business_phone:
        return CardStatus("No business phone: calls to your number can't be forwarded.", True)
    return None


def _team_status(company: Company) -> CardStatus:
    active = sum(1 for user in team_members(company) if user.active)
    pending = len(pending_invitations(company))
    text = f"{active} active {'person' if active == 1 else 'people'}"
    if pending:
        text += f", {pending} open invitation{'s' if pending != 1 else ''}"
    return CardStatus(text)


def _registration_status(company: Company) -> CardStatus:
    registration = company.registration
    if registration is not None and registration.may_text:
        return CardStatus("Texting is on.")
    label = RegistrationStatus(registration.status).label if registration else "Not started"
    return CardStatus(f"{label}: texting is off until it is approved.", True)


@dataclass(frozen=True)
class SettingsCard:
    title: str
    endpoint: str
    description: str
    # A one-line summary of the current state, for the cards this module knows about.
    status: Callable[[Company], CardStatus | None] | None = None


SETTINGS_CARDS: tuple[SettingsCard, ...] = (
    SettingsCard(
        "Company profile",
        "office.company_profile",
        "Name, business phone, time zone, address and logo.",
        _profile_status,
    ),
    SettingsCard(
        "Custom number",
        "office.number_setup",
        "Your business texting number: pick an area code once.",
    ),
    SettingsCard(
        "Texting registration",
        "office.registration_page",
        "Register your business with US carriers so your texts are delivered.",
        _registration_status,
    ),
    SettingsCard(
        "Point of Contact",
        "office.point_of_contact",
        "Who gets customers' texts when no job is in progress.",
    ),
    SettingsCard(
        "Calls and hours",
        "office.call_settings_page",
        "Business hours and holidays, voicemail greetings, the on-call phone and call recording.",
    ),
    SettingsCard(
        "Automated texts",
        "office.templates",
        "Job scheduled, On my way, Job finished and Job canceled messages, who they come "
        "from, and your texting hours.",
    ),
    SettingsCard(
        "Estimates & invoices",
        "office.billing_settings",
        "Numbering, tax, terms and payment instructions.",
    ),
    SettingsCard(
        "Team", "office.team", "Invite people, change roles, deactivate accounts.", _team_status
    ),
)


@bp.get("/settings")
@manager_required
def settings():
    company = current_user.company
    cards = [
        (card, url_for(card.endpoint), card.status(company) if card.status else None)
        for card in SETTINGS_CARDS
        if card.endpoint in current_app.view_functions
    ]
    return render_template("office/settings.html", cards=cards)

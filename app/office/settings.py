"""Office pages: the settings hub (owner/admin).

The cards link to pages built in several modules; a card shows only when its page is
registered, so the hub never links to a page this installation does not have.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template, url_for

from app.auth.access import manager_required
from app.office import bp


@dataclass(frozen=True)
class SettingsCard:
    title: str
    endpoint: str
    description: str


SETTINGS_CARDS: tuple[SettingsCard, ...] = (
    SettingsCard(
        "Company profile",
        "office.company_profile",
        "Name, business phone, time zone, address and logo.",
    ),
    SettingsCard(
        "Custom number",
        "office.number_setup",
        "Your business texting number: pick an area code once.",
    ),
    SettingsCard(
        "Point of Contact",
        "office.point_of_contact",
        "Who gets customers' texts when no job is in progress.",
    ),
    SettingsCard(
        "Automated texts",
        "office.templates",
        "Job scheduled, On my way and Job finished messages, and who they come from.",
    ),
    SettingsCard("Team", "office.team", "Invite people, change roles, deactivate accounts."),
)


@bp.get("/settings")
@manager_required
def settings():
    cards = [
        (card, url_for(card.endpoint))
        for card in SETTINGS_CARDS
        if card.endpoint in current_app.view_functions
    ]
    return render_template("office/settings.html", cards=cards)

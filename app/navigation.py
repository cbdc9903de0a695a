"""The office navigation bar: one list, filtered by role and by what is registered
(the phone simulator's link exists only while the fake Twilio is active)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, request, url_for
from flask_login import current_user

from app.dev import phone_enabled
from app.models import Role


@dataclass(frozen=True)
class NavItem:
    label: str
    endpoint: str
    roles: tuple[str, ...]
    # Endpoints that light this item up besides its own (same blueprint prefix, or several).
    prefix: str | tuple[str, ...]


NAV: tuple[NavItem, ...] = (
    NavItem("Jobs", "office.jobs", Role.OFFICE_ROLES, "office.job"),
    NavItem("Customers", "office.customers", Role.OFFICE_ROLES, "office.customer"),
    NavItem("Inbox", "office.inbox", Role.OFFICE_ROLES, ("office.inbox", "office.conversation")),
    NavItem("Estimates", "office.estimates", Role.OFFICE_ROLES, "office.estimate"),
    NavItem("Invoices", "office.invoices", Role.OFFICE_ROLES, "office.invoice"),
    NavItem("Texts", "office.templates", Role.OFFICE_ROLES, "office.template"),
    NavItem("Team", "office.team", Role.OFFICE_ROLES, "office.team"),
    NavItem(
        "Settings", "office.settings", Role.MANAGERS, ("office.setting", "office.point_of_contact")
    ),
    NavItem("My day", "tech.index", Role.ALL, "tech."),
    NavItem("Phone simulator", "dev.phone", Role.OFFICE_ROLES, "dev."),
)


def nav_items() -> list[tuple[NavItem, str, bool]]:
    """(item, href, active) for the current user."""
    if not current_user.is_authenticated:
        return []
    endpoint = request.endpoint or ""
    items = []
    for item in NAV:
        if current_user.role not in item.roles or item.endpoint not in current_app.view_functions:
            continue
        if item.endpoint == "dev.phone" and not phone_enabled(current_app.config):
            continue  # the dev pages are on for the mailbox only
        items.append((item, url_for(item.endpoint), endpoint.startswith(item.prefix)))
    return items

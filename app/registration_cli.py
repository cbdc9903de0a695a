"""`flask registration ...`: the operator's view of a company's texting registration, and
the two things only the operator does (attach a console-registered Messaging Service, retry
or reset a registration). See docs/texting-registration.md."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.models import Company, utcnow
from app.services import registration as registration_service
from app.services.errors import DomainError

registration_cli = AppGroup(
    "registration", help="A company's texting registration (A2P 10DLC, toll-free, attached)."
)


def _company(company_id: int) -> Company:
    company = db.session.get(Company, company_id)
    if company is None:
        raise click.ClickException(f"No company {company_id}.")
    return company


def _show(company: Company) -> None:
    registration = registration_service.registration_for(company)
    click.echo(f"company: {company.id} {company.name}")
    click.echo(f"kind: {registration.kind}")
    for label, state, sid in registration_service.steps_overview(registration):
        click.echo(f"  {label}: {state}" + (f" ({sid})" if sid else ""))
    if registration.submitted_at:
        click.echo(f"submitted: {registration.submitted_at:%Y-%m-%d %H:%M} UTC")
    if registration.next_poll_at:
        click.echo(f"next check: {registration.next_poll_at:%Y-%m-%d %H:%M} UTC")
    if registration.failure_reason:
        code = f" [{registration.failure_code}]" if registration.failure_code else ""
        click.echo(f"failed at {registration.failed_step}{code}: {registration.failure_reason}")
    click.echo(f"status: {registration.status}")


@registration_cli.command("show")
@click.argument("company_id", type=int)
def show_command(company_id: int) -> None:
    """Print each step of the company's registration and its status."""
    _show(_company(company_id))


@registration_cli.command("attach")
@click.argument("company_id", type=int)
@click.option(
    "--messaging-service",
    "service_sid",
    required=True,
    help="The MG... SID of a Messaging Service with an approved campaign.",
)
def attach_command(company_id: int, service_sid: str) -> None:
    """Use a Messaging Service the business registered in Twilio's console itself."""
    company = _company(company_id)
    try:
        registration_service.attach_messaging_service(
            company=company, service_sid=service_sid, now=utcnow()
        )
    except DomainError as error:
        # A command, not a request (no flash or form): the refusal is its exit message.
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    _show(company)


@registration_cli.command("retry")
@click.argument("company_id", type=int)
def retry_command(company_id: int) -> None:
    """Resume the registration now: after an error, or to check Twilio without waiting."""
    company = _company(company_id)
    try:
        registration_service.retry_registration(company=company, now=utcnow())
    except DomainError as error:
        # A command, not a request (no flash or form): the refusal is its exit message.
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    registration_service.work_due_registrations(now=utcnow())
    _show(company)


@registration_cli.command("reset")
@click.argument("company_id", type=int)
@click.confirmation_option(prompt="The company's texts stop until it registers again. Go on?")
def reset_command(company_id: int) -> None:
    """Back to not started (e.g. a company marked attached by the upgrade that never
    registered). Twilio's resources are left as they are."""
    company = _company(company_id)
    registration_service.reset_registration(company=company)
    db.session.commit()
    _show(company)

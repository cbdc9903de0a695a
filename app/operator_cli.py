"""`flask numbers ...`: the platform operator's tools for custom numbers.

The web app never changes a company's number once it is bought (rule 1 of the seed). These
commands are the only way, for support cases, and they run on the server only: no route,
form or API reaches them. See docs/custom-number.md.

    flask numbers show COMPANY_ID
    flask numbers reassign COMPANY_ID +15125550142 --sid PN...   (an owned number)
    flask numbers reassign COMPANY_ID --release                  (detach; owner picks anew)
    flask numbers quarantine [--limit 20] [--channel sms|voice|status]
    flask numbers redeliver ID [ID ...] | --all                  (quarantined texts, again)
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from app.extensions import db
from app.models import Company, UnroutedInbound
from app.services import inbound, numbers
from app.services.errors import DomainError
from app.services.phones import format_phone
from app.sms.gateway import GatewayError
from app.urls import public_url_for

numbers_cli = AppGroup("numbers", help="Operator tools for companies' custom SMS numbers.")


def _company(company_id: int) -> Company:
    company = db.session.get(Company, company_id)
    if company is None:
        raise click.ClickException(f"No company with id {company_id}.")
    return company


def _describe(company: Company) -> list[str]:
    lines = [f"Company {company.id}: {company.name}"]
    lines.append(f"  business phone: {format_phone(company.business_phone) or '(none)'}")
    number = numbers.company_number(company)
    if number is None:
        lines.append("  custom number:  (none)")
    else:
        place = ", ".join(part for part in (number.locality, number.region) if part)
        who = number.provisioned_by.name if number.provisioned_by else "the operator"
        lines.append(
            f"  custom number:  {number.e164}  {format_phone(number.e164)}  {place}".rstrip()
        )
        lines.append(f"  twilio sid:     {number.twilio_sid}")
        lines.append(f"  set up:         {number.created_at:%Y-%m-%d %H:%M} UTC by {who}")
    setup = numbers.pending_setup(company)
    if setup is not None:
        state = (
            "STALE: the request died; the next setup attempt settles it"
            if numbers.is_stale(setup)
            else "in progress"
        )
        lines.append(
            f"  pending setup:  {setup.e164} since {setup.started_at:%Y-%m-%d %H:%M} UTC ({state})"
        )
    return lines


@numbers_cli.command("show")
@click.argument("company_id", type=int)
def show_command(company_id: int) -> None:
    """Show a company's custom number, its Twilio SID and any unfinished setup."""
    for line in _describe(_company(company_id)):
        click.echo(line)


@numbers_cli.command("reassign")
@click.argument("company_id", type=int)
@click.argument("e164", required=False)
@click.option("--sid", help="The Twilio SID (PN...) of E164, which the account must own.")
@click.option(
    "--release",
    is_flag=True,
    help="Detach the company's number instead, so its owner can choose a new one.",
)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reassign_command(
    company_id: int, e164: str | None, sid: str | None, release: bool, yes: bool
) -> None:
    """Change a company's custom number: a support-only operation.

    Either give E164 and --sid (a number the Twilio account owns: it is checked with
    Twilio), or --release to detach the current number. Released numbers stay in the Twilio
    account: release them in the Twilio console if they should go.
    """
    if release == bool(e164 or sid):
        raise click.UsageError("Give either E164 with --sid, or --release.")
    if not release and not (e164 and sid):
        raise click.UsageError("Reassigning needs both E164 and --sid PN....")
    company = _company(company_id)
    for line in _describe(company):
        click.echo(line)
    action = (
        "DETACH this company's number (texting stops until its owner sets up a new one)"
        if release
        else f"make {e164} ({sid}) this company's number"
    )
    if not yes:
        click.confirm(f"Really {action}?", abort=True)
    try:
        if release:
            detached = numbers.operator_release_number(company=company)
        else:
            assigned = numbers.operator_assign_number(company=company, e164=e164, sid=sid)
    except (DomainError, GatewayError) as error:
        # A command, not a request (no flash or form), and Twilio's errors too: exit with why.
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    if release:
        if detached is None:
            click.echo("Done: the company had no number; any unfinished setup was cleared.")
        else:
            click.echo(
                f"Done: {detached.e164} detached. It is still in the Twilio account "
                f"({detached.twilio_sid}); release it in the Twilio console if it should go."
            )
        return
    click.echo(f"Done: company {company.id} now texts from {assigned.e164}.")
    click.echo(
        "Check in the Twilio console that its webhooks point here: "
        f"SMS {public_url_for(numbers.SMS_WEBHOOK)}, "
        f"voice {public_url_for(numbers.VOICE_WEBHOOK)}."
    )


@numbers_cli.command("quarantine")
@click.option("--limit", default=20, show_default=True, help="How many to list.")
@click.option(
    "--channel",
    type=click.Choice(["sms", "voice", "status"]),
    help="Only texts, calls or status callbacks.",
)
def quarantine_command(limit: int, channel: str | None) -> None:
    """List recent texts and calls to numbers no company owns, and posts that could not be
    stored (with the reason), newest first."""
    rows = numbers.recent_unrouted(limit=limit, channel=channel)
    if not rows:
        click.echo("Nothing in quarantine.")
        return
    for row in rows:
        body = (row.body or "").replace("\n", " ")
        if len(body) > 60:
            body = body[:59] + "…"
        click.echo(
            f"#{row.id:<5} {row.created_at:%Y-%m-%d %H:%M:%S} UTC  {row.channel:<5}  "
            f"from {row.from_phone or '?':<13} to {row.to_phone or '?':<13}  "
            f"{row.twilio_sid or '-'}  {body}".rstrip()
        )
        if row.reason:
            click.echo(f"    why: {row.reason}")


@numbers_cli.command("redeliver")
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "every", is_flag=True, help="Every quarantined text, oldest first.")
def redeliver_command(ids: tuple[int, ...], every: bool) -> None:
    """Store and route quarantined texts (the #ids `quarantine` lists) once what kept them
    out is fixed: the number now belongs to a company, or a failing receipt's bug is
    deployed away. Each text is routed as if it had just arrived; one that still cannot be
    delivered stays in quarantine and says why."""
    if bool(ids) == every:
        raise click.UsageError("Give the #ids to deliver, or --all.")
    rows = (
        inbound.quarantined_texts()
        if every
        else [db.session.get(UnroutedInbound, row_id) for row_id in ids]
    )
    failed = 0
    for row_id, row in zip(ids or [r.id for r in rows], rows, strict=True):
        if row is None:
            click.echo(f"#{row_id}: not in quarantine.", err=True)
            failed += 1
            continue
        try:
            message = inbound.redeliver_quarantined(row=row)
        except inbound.NotRedeliverable as error:
            click.echo(error.message, err=True)
            failed += 1
            continue
        except Exception as error:  # still failing: say so, keep it, go on with the rest
            db.session.rollback()
            click.echo(f"#{row_id} failed again: {type(error).__name__}: {error}", err=True)
            failed += 1
            continue
        db.session.commit()
        click.echo(
            f"#{row_id}: delivered to {message.company.name} as text {message.id} "
            f"(from {format_phone(message.from_phone)})."
        )
    if failed:
        raise SystemExit(1)

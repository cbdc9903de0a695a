"""`flask outbox work`: the outbox dispatcher as a process of its own (production)."""

from __future__ import annotations

import signal

import click
from flask import current_app
from flask.cli import AppGroup

from app.sms.dispatcher import Dispatcher

outbox_cli = AppGroup("outbox", help="Send the texts waiting in the outbox.")


@outbox_cli.command("work")
@click.option("--once", is_flag=True, help="Send what is due now, then exit.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="Texts in flight at once (default: OUTBOX_CONCURRENCY, 8).",
)
def work_command(once: bool, concurrency: int | None) -> None:
    """Send queued texts until stopped (SIGTERM or Ctrl-C finish the texts in flight)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    dispatcher = Dispatcher(app, concurrency=concurrency)
    if once:
        sent = dispatcher.run_once()
        dispatcher.close()
        click.echo(f"Attempted {sent} text(s).")
        return

    def _stop(signum, _frame) -> None:
        click.echo(f"Received signal {signum}: finishing texts in flight, then stopping.")
        dispatcher.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"Outbox worker running (concurrency {dispatcher.concurrency}). Ctrl-C to stop.")
    dispatcher.run_forever()
    dispatcher.close()

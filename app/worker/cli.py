"""`flask outbox work`: the outbox dispatcher as a process of its own (production)."""

from __future__ import annotations

import signal

import click
from flask import current_app
from flask.cli import AppGroup
from werkzeug.serving import make_server

from app.sms.fake_twilio import fake_twilio
from app.worker.dispatcher import Dispatcher

outbox_cli = AppGroup(
    "outbox", help="Send the texts waiting in the outbox and route the texts received."
)


@outbox_cli.command("work")
@click.option("--once", is_flag=True, help="Route what came in and send what is due, then exit.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="Texts in flight at once (default: OUTBOX_CONCURRENCY, 8).",
)
def work_command(once: bool, concurrency: int | None) -> None:
    """Route received texts and send queued ones until stopped (SIGTERM or Ctrl-C finish
    the texts in flight)."""
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


@outbox_cli.command("fake-twilio")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5055, show_default=True, type=int)
@click.option(
    "--latency", default=0.0, show_default=True, help="Seconds before each send is answered."
)
@click.option(
    "--fail-rate", default=0.0, show_default=True, help="Fraction of sends answered 500 (seeded)."
)
def fake_twilio_command(host: str, port: int, latency: float, fail_rate: float) -> None:
    """Serve the built-in fake Twilio over HTTP, so several `outbox work` processes (or a
    benchmark) share one. Point them at it with TWILIO_API_BASE_URL=http://HOST:PORT."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config["TWILIO_FAKE"]:
        raise click.UsageError("The fake Twilio is off (real Twilio credentials are set).")
    fake = fake_twilio(app)
    fake.set_latency(latency)
    fake.fail_randomly(fail_rate)
    server = make_server(host, port, fake.api, threaded=True)
    click.echo(f"Fake Twilio on http://{host}:{server.server_port} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

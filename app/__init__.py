"""The application factory."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.middleware.proxy_fix import ProxyFix

from app.config import check_production_config, load_config
from app.extensions import csrf, db, htmx, limiter, login_manager, migrate
from app.models import include_in_autogenerate
from app.models.types import render_migration_item
from app.request_limits import LimitedRequest
from app.tenancy import IdConverter


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.request_class = LimitedRequest  # per-view upload limits (app/request_limits.py)
    # Before any rule is added: every `<int:...>` in a URL is an id, limited to its column's
    # range (app/tenancy.py).
    app.url_map.converters["int"] = IdConverter
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.from_mapping(load_config(app.instance_path))
    if test_config:
        app.config.update(test_config)
    check_production_config(app.config)
    Path(app.config["UPLOAD_FOLDER"]).mkdir(parents=True, exist_ok=True)
    # The development mailbox (/dev/mail) sits beside the uploads: the instance folder for
    # `make run`, the run's temporary folder in the tests.
    app.config.setdefault(
        "DEV_MAILBOX", str(Path(app.config["UPLOAD_FOLDER"]).parent / "dev-mailbox")
    )

    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "INFO"))
    if app.config["TRUST_PROXY"]:
        # Behind a reverse proxy the request URL (used to verify Twilio signatures when
        # PUBLIC_BASE_URL is not set) must be the public one.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1, x_proto=1, x_host=1)  # type: ignore[method-assign]

    _init_extensions(app)
    _connect_signals()
    _register_blueprints(app)
    _register_cli(app)

    from app.security_headers import register_security_headers
    from app.templating import register_templating

    register_templating(app)
    register_security_headers(app)
    return app


def _init_extensions(app: Flask) -> None:
    from app import models  # noqa: F401  (registers every table on the metadata)

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(Path(__file__).parent.parent / "migrations"),
        render_as_batch=True,  # SQLite can only ALTER a table by copying it
        compare_type=True,
        render_item=render_migration_item,
        include_object=include_in_autogenerate,
    )
    login_manager.init_app(app)
    csrf.init_app(app)
    htmx.init_app(app)
    limiter.init_app(app)

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"

    from app.auth.sessions import CookieSessions, load_user

    app.session_interface = CookieSessions()
    login_manager.user_loader(load_user)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    # WAL lets the dispatcher and web requests read while one writes; the busy timeout
    # makes a second writer wait instead of failing with "database is locked".
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


@event.listens_for(Engine, "savepoint")
def _sqlite_begin_before_savepoint(connection, name) -> None:
    # pysqlite only opens a transaction before INSERT/UPDATE/DELETE. A SAVEPOINT issued
    # outside one starts its own, and RELEASE then COMMITS everything so far: a later
    # rollback (a failed request) would leave the savepoint's rows behind. Open the real
    # transaction first so savepoints nest inside it, as on PostgreSQL. IMMEDIATE takes the
    # write lock now (waiting out the busy timeout): a savepoint is there to write, and a
    # deferred transaction that read first fails at once ("database is locked") when
    # another writer committed in between, instead of waiting.
    raw = connection.connection.dbapi_connection
    if connection.dialect.name == "sqlite" and not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _connect_signals() -> None:
    # Receivers connect when their module is imported: import them in every process, even
    # one (the worker, a CLI command) whose code path would not import them by itself.
    import app.services.notifications
    import app.services.online_payments  # invoice edits -> expire their Checkout Session
    import app.services.push  # noqa: F401  (routed texts -> Web Push notifications)


def _register_blueprints(app: Flask) -> None:
    from app.auth import bp as auth_bp
    from app.dev import bp as dev_bp
    from app.dev import dev_pages_enabled
    from app.errors import register_error_handlers
    from app.media import bp as media_bp
    from app.office import bp as office_bp
    from app.public import bp as public_bp
    from app.tech import bp as tech_bp
    from app.webhooks import bp as webhooks_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(office_bp)
    app.register_blueprint(media_bp)
    app.register_blueprint(tech_bp, url_prefix="/tech")
    app.register_blueprint(public_bp)
    app.register_blueprint(webhooks_bp, url_prefix="/webhooks")
    csrf.exempt(webhooks_bp)  # Twilio signs these instead; see app/webhooks.
    # Twilio's deliveries are never throttled (a refused one is retried, then lost). A
    # request filter, unlike `limiter.exempt`, returns before the limiter resolves any
    # limits: that bookkeeping was a fifth of the SMS webhook's cost.
    limiter.request_filter(_is_webhook)
    if dev_pages_enabled(app.config):
        # The phone simulator exists only while the fake Twilio is active, the mailbox only
        # without SMTP and outside production (app/dev/routes.py, app/dev/mail.py).
        app.register_blueprint(dev_bp, url_prefix="/dev")
    if app.config["STRIPE_FAKE"]:
        # Stripe's hosted checkout and onboarding pages, stood in for by the fake Stripe.
        from app.payments.dev import bp as dev_payments_bp

        app.register_blueprint(dev_payments_bp, url_prefix="/dev")
    if app.config["WEB_PUSH_FAKE"] and app.config["ENV_NAME"] != "production":
        # What the built-in fake push service received, and its switches.
        from app.push.dev import bp as dev_push_bp

        app.register_blueprint(dev_push_bp, url_prefix="/dev")
    register_error_handlers(app)


def _is_webhook() -> bool:
    return request.blueprint == "webhooks"


def _register_cli(app: Flask) -> None:
    from app.demo import demo_command
    from app.media_cli import media_cli
    from app.operator_cli import numbers_cli
    from app.registration_cli import registration_cli
    from app.worker.cli import outbox_cli
    from app.worker.dispatcher import install_background_dispatcher

    app.cli.add_command(demo_command)
    app.cli.add_command(media_cli)
    app.cli.add_command(numbers_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(registration_cli)
    if app.config["OUTBOX_THREAD"] and not app.testing:
        # `make run`: the dispatcher runs as a thread of the development server.
        install_background_dispatcher(app)

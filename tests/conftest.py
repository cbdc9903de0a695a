"""Shared fixtures.

The suite runs on SQLite by default and on PostgreSQL when TEST_DATABASE_URL is set.
Tests that need PostgreSQL are marked `postgres`; tests that need Chromium are marked
`browser`. Locally a missing PostgreSQL or Chromium skips them with a reason; in CI
(CI=true) it fails them, so nothing is silently skipped there.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db as _db
from tests.support import skip_or_fail

pytest_plugins = [
    "tests.fixtures.factories",
    "tests.fixtures.live",
    "tests.fixtures.inbox",
    "tests.fixtures.billing",
    "tests.fixtures.notifications",
    "tests.fixtures.sms",
    "tests.fixtures.numbers",
    "tests.fixtures.payments",
    "tests.fixtures.queries",
    "tests.fixtures.request_isolation",
    "tests.fixtures.mail",
    "tests.fixtures.s3",
    "tests.fixtures.tenants",
]


def _database_url(tmp_root: Path, worker: str) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_root / f'test-{worker}.sqlite3'}"
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    if worker == "main":
        return url
    # One database per xdist worker, created on first use.
    base = sa.make_url(url)
    name = f"{base.database}_{worker}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(sa.text("select 1 from pg_database where datname = :n"), {"n": name})
        if not exists:
            conn.execute(sa.text(f'create database "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def app(tmp_path_factory, worker_id):
    tmp_root = tmp_path_factory.mktemp("app")
    url = _database_url(tmp_root, worker_id)
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": url,
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "UPLOAD_FOLDER": str(tmp_root / "uploads"),
            "PUBLIC_BASE_URL": "http://testserver.local",
            "TWILIO_FAKE": True,
            "OUTBOX_THREAD": False,
            "SERVER_NAME": None,
            # scrypt costs ~130 ms a user; one round of PBKDF2 changes nothing a test checks.
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",
        }
    )
    with app.app_context():
        if _db.engine.dialect.name == "sqlite":
            sa.event.listen(_db.engine, "connect", _without_fsync)
        _db.drop_all()
        _db.create_all()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.drop_all()
        _db.engine.dispose()


def _without_fsync(dbapi_connection, connection_record) -> None:
    # A test database need not outlive a power cut: without the fsync each commit made
    # (WAL mode syncs the log on every commit), the suite's SQLite pass is ~10% quicker.
    dbapi_connection.execute("PRAGMA synchronous=OFF")


@pytest.fixture(scope="session")
def is_postgres(app) -> bool:
    return app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")


@pytest.fixture(autouse=True)
def _app_context(app):
    """Every test runs inside an app context and leaves empty tables behind."""
    with app.app_context():
        yield
        _db.session.rollback()
        _db.session.remove()
        _empty_tables()


def _empty_tables() -> None:
    # One script a test, not 46 statements: emptying was 40% of all the statements the
    # suite sent.
    script = _emptying_script(_db.engine.dialect.name)
    if _db.engine.dialect.name == "postgresql":
        _retry_on_deadlock(lambda: _run_script(script))
        return
    with _db.engine.connect() as conn:
        conn.connection.dbapi_connection.executescript(script)


def _run_script(script: str) -> None:
    with _db.engine.begin() as conn:
        conn.exec_driver_sql(script)


@functools.cache
def _emptying_script(dialect: str) -> str:
    """DELETE every table, children first. On PostgreSQL that takes ~4 ms where TRUNCATE takes
    ~40 ms (it makes new files for every table and index)."""
    tables = list(reversed(_db.metadata.sorted_tables))
    deletes = [f'DELETE FROM "{table.name}";' for table in tables]
    if dialect != "postgresql":
        return "\n".join(
            [
                "PRAGMA foreign_keys=OFF;",
                "BEGIN IMMEDIATE;",
                *deletes,
                "COMMIT;",
                "PRAGMA foreign_keys=ON;",
            ]
        )
    # The foreign keys that close a cycle (use_alter: a company's point of contact, an
    # estimate's approved option) are cleared first, so every DELETE finds no row pointing
    # at it. Ids start at 1 in every test, as on SQLite.
    cycles = [
        f'UPDATE "{table.name}" SET "{column}" = NULL WHERE "{column}" IS NOT NULL;'
        for table in tables
        for key in table.foreign_keys
        if key.use_alter or key.constraint.use_alter
        for column in [key.parent.name]
    ]
    restart = "SELECT setval(oid::regclass, 1, false) FROM pg_class WHERE relkind = 'S';"
    return "\n".join([*cycles, *deletes, restart])


DEADLOCK_DETECTED = "40P01"


def _retry_on_deadlock(empty: Callable[[], None], attempts: int = 5) -> None:
    # A browser test's last poll can still be in the live server when the test ends. Its
    # transaction takes locks in its own order while emptying the tables takes them in
    # another; PostgreSQL breaks the deadlock by cancelling one side. When that is the
    # emptying, the request finishes in a moment, so try again rather than leave rows for
    # the next test.
    for attempt in range(attempts):
        try:
            empty()
            return
        except sa.exc.OperationalError as error:
            deadlock = getattr(error.orig, "sqlstate", None) == DEADLOCK_DETECTED
            if not deadlock or attempt + 1 == attempts:
                raise
            time.sleep(0.2 * (attempt + 1))


@pytest.fixture
def truncated_tables(app) -> None:
    """Brand-new tables for a test that reads PostgreSQL's query plans (ask for it first).
    The DELETE between tests leaves earlier tests' pages and statistics behind, and the
    planner's choice follows them; TRUNCATE gives every table new, empty files."""
    if _db.engine.dialect.name == "postgresql":
        names = ", ".join(f'"{table.name}"' for table in _db.metadata.sorted_tables)
        _retry_on_deadlock(lambda: _run_script(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def csrf_enabled(app):
    """Turn CSRF protection on for one test (it is off for the plain test client)."""
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def rate_limits(app):
    """Turn rate limiting on for one test, with fresh counters."""
    from app.extensions import limiter

    app.config["RATELIMIT_ENABLED"] = True
    limiter.enabled = True
    limiter.reset()
    yield limiter
    limiter.reset()
    limiter.enabled = False
    app.config["RATELIMIT_ENABLED"] = False


@pytest.fixture(autouse=True)
def _postgres_only(request):
    """Tests marked `postgres` need the suite to run on PostgreSQL (TEST_DATABASE_URL)."""
    if request.node.get_closest_marker("postgres") is None:
        return
    if not os.environ.get("TEST_DATABASE_URL", "").startswith("postgres"):
        skip_or_fail("needs PostgreSQL: set TEST_DATABASE_URL=postgresql://...")


@pytest.fixture(scope="session")
def worker_id(request) -> str:
    # pytest-xdist provides this fixture; without xdist the suite runs as "main".
    workerinput = getattr(request.config, "workerinput", None)
    return workerinput["workerid"] if workerinput else "main"


def pytest_collection_modifyitems(config, items) -> None:
    """Run order for pytest-xdist, whose workers take tests in this order: the fresh-clone
    `make run` first (the longest test, mostly waiting on the install), and the browser
    test files spread among the others, whole files at a time (module fixtures stay set
    up). A worker in a browser test waits on Chromium much of the time; two workers in
    browser tests at once fight over the same cores while nothing else runs."""
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    first, browser, others = [], [], []
    for module in modules.values():
        if any(item.get_closest_marker("fresh_clone") for item in module):
            first.append(module)
        elif module[0].get_closest_marker("browser"):
            browser.append(module)
        else:
            others.append(module)
    spread: list[list[pytest.Item]] = first
    every = max(1, len(others) // (len(browser) + 1))
    for n, module in enumerate(others):
        spread.append(module)
        if (n + 1) % every == 0 and browser:
            spread.append(browser.pop(0))
    spread.extend(browser)
    items[:] = [item for module in spread for item in module]

"""`flask db upgrade` on an empty database gives exactly the models' schema."""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from app import create_app
from app.extensions import db
from app.models import EXPRESSION_INDEXES


def _empty_database_url(tmp_path) -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    base = sa.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{base.database}_migrations"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        conn.execute(sa.text(f'create database "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def test_upgrade_on_empty_database_matches_models(tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": _empty_database_url(tmp_path),
            "TESTING": True,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            # Compared as `flask db migrate` compares (the project's Alembic options).
            options = app.extensions["migrate"].configure_args
            context = MigrationContext.configure(conn, opts=options)
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations differ: {diff}"
        _assert_expression_indexes_match_models()
        # And the migrations are reversible.
        downgrade(revision="base")
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


def _assert_expression_indexes_match_models() -> None:
    """The indexes Alembic cannot compare (EXPRESSION_INDEXES): the definition the
    migrations gave each one must be the one the models give it."""
    tables = {index.name: index for table in db.metadata.tables.values() for index in table.indexes}
    for name in EXPRESSION_INDEXES:
        index = tables[name]
        migrated = _index_definition(name)
        with db.engine.begin() as conn:
            if migrated is not None:
                conn.execute(sa.text(f"DROP INDEX {name}"))
            index.create(conn)  # as create_all would, ddl_if included
        assert _index_definition(name) == migrated, f"{name}: migrations and models differ"


def _index_definition(name: str) -> str | None:
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            query = "select indexdef from pg_indexes where indexname = :name"
        else:
            query = "select sql from sqlite_master where type = 'index' and name = :name"
        return conn.scalar(sa.text(query), {"name": name})

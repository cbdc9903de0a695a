"""Migration 775f122bad8a on a database with companies: a company that already texted from
its number keeps texting (attached); one without a number starts at not_started."""

from __future__ import annotations

import os

import sqlalchemy as sa
from flask_migrate import upgrade

from app import create_app
from app.extensions import db


def _empty_database_url(tmp_path) -> str:
    # Its own database on PostgreSQL: tests/test_migrations.py may run beside it (xdist).
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        return f"sqlite:///{tmp_path / 'upgrade.sqlite3'}"
    base = sa.make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{base.database}_registration_upgrade"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        conn.execute(sa.text(f'create database "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def test_existing_companies_get_a_registration(tmp_path):
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": _empty_database_url(tmp_path),
            "TESTING": True,
            "UPLOAD_FOLDER": str(tmp_path / "uploads"),
        }
    )
    with app.app_context():
        upgrade(revision="3c1f0e7a9b2d")
        with db.engine.begin() as conn:
            for company_id, name in ((1, "Texting Already"), (2, "No Number Yet")):
                conn.execute(
                    sa.text(
                        "INSERT INTO companies (id, name, time_zone, sender_identity, "
                        "finished_text_invoice_link, created_at) "
                        "VALUES (:id, :name, 'America/Chicago', 'tech', :no, '2026-01-01')"
                    ),
                    {"id": company_id, "name": name, "no": False},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO phone_numbers (company_id, e164, twilio_sid, created_at) "
                    "VALUES (1, '+15126660100', 'PN0001', '2026-01-01')"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT company_id, kind, status, public_token, messaging_service_sid "
                    "FROM messaging_registrations ORDER BY company_id"
                )
            ).all()
        db.engine.dispose()
    assert [(r.company_id, r.kind, r.status) for r in rows] == [
        (1, "attached", "attached"),
        (2, "10dlc_standard", "not_started"),
    ]
    assert all(r.public_token for r in rows) and rows[0].public_token != rows[1].public_token
    assert rows[0].messaging_service_sid is None

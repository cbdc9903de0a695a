"""inbound receipts: the SMS webhook stores what Twilio posted, the worker routes it

Revision ID: 899401be3b7c
Revises: 5bb010b7802b
Create Date: 2026-11-26 20:28:03.609825

A queue table: rows live from the webhook until the worker has turned them into messages,
so it stays small; the unique MessageSid makes a repeated delivery one row.
"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "899401be3b7c"
down_revision = "5bb010b7802b"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "inbound_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("twilio_sid", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_receipts")),
        sa.UniqueConstraint("twilio_sid", name=op.f("uq_inbound_receipts_twilio_sid")),
    )
    op.create_index(
        "ix_inbound_receipts_due", "inbound_receipts", ["next_attempt_at", "id"], unique=False
    )


def downgrade():
    op.drop_index("ix_inbound_receipts_due", table_name="inbound_receipts")
    op.drop_table("inbound_receipts")

"""line type lookups

Revision ID: 07c0428b1be5
Revises: 56051825cbaf
Create Date: 2026-12-02 13:18:02.995716

Issue 19: what Twilio Lookup (Line Type Intelligence) said about a number, one row per
number, reused for 90 days (each Lookup is billed).
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "07c0428b1be5"
down_revision = "56051825cbaf"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "line_type_lookups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("line_type", sa.String(length=20), nullable=True),
        sa.Column("carrier_name", sa.String(length=120), nullable=True),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("looked_up_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_line_type_lookups")),
        sa.UniqueConstraint("phone", name=op.f("uq_line_type_lookups_phone")),
    )


def downgrade():
    op.drop_table("line_type_lookups")

"""Quarantine reason: why a post is kept for the operator instead of stored as a text.

Revision ID: f576f8b79e09
Revises: 3c1f0e7a9b2d
Create Date: 2026-12-02 07:43:37.589444

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "f576f8b79e09"
down_revision = "3c1f0e7a9b2d"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("unrouted_inbound", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reason", sa.String(length=500), nullable=True))


def downgrade():
    with op.batch_alter_table("unrouted_inbound", schema=None) as batch_op:
        batch_op.drop_column("reason")

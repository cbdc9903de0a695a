"""message media failure reason

Revision ID: b2bfd0703013
Revises: 8b199bc39d90
Create Date: 2026-12-02 13:58:00

Issue 17: why a picture was not kept (refused for what it is, too large, or not fetched
from Twilio), so a thread says it in words instead of "could not be fetched" for all.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "b2bfd0703013"
down_revision = "8b199bc39d90"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("message_media", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("failure_detail", sa.String(length=80), nullable=True))


def downgrade():
    with op.batch_alter_table("message_media", schema=None) as batch_op:
        batch_op.drop_column("failure_detail")
        batch_op.drop_column("failure")

"""deposits on approved estimates

Revision ID: 38527d9ef957
Revises: 683d923fba5d
Create Date: 2026-12-02 10:17:50.280959

Issue 18: a company may ask for a deposit once a customer approved an estimate (billing
settings: none, a percent or a fixed amount). The customer pays it on Stripe Checkout from
the estimate's page, so a Checkout Session and a Payment may belong to an estimate before
any invoice exists (`estimate_id`, `invoice_id` empty); converting the estimate to an
invoice moves the deposit onto it.
"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "38527d9ef957"
down_revision = "683d923fba5d"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("billing_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("deposit_kind", sa.String(length=8), server_default="none", nullable=False)
        )
        batch_op.add_column(
            sa.Column("deposit_value", sa.BigInteger(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("checkout_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("estimate_id", sa.Integer(), nullable=True))
        batch_op.alter_column("invoice_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_checkout_sessions_estimate_id"), ["estimate_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_checkout_sessions_estimate_id_estimates"),
            "estimates",
            ["estimate_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("estimate_id", sa.Integer(), nullable=True))
        batch_op.alter_column("invoice_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(batch_op.f("ix_payments_estimate_id"), ["estimate_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_payments_estimate_id_estimates"),
            "estimates",
            ["estimate_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            "has_document", "invoice_id IS NOT NULL OR estimate_id IS NOT NULL"
        )


def downgrade():
    # Deposits not yet moved onto an invoice have no place in the old schema.
    op.execute("DELETE FROM payments WHERE invoice_id IS NULL")
    op.execute("DELETE FROM checkout_sessions WHERE invoice_id IS NULL")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_payments_has_document"), type_="check")
        batch_op.drop_constraint(
            batch_op.f("fk_payments_estimate_id_estimates"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_payments_estimate_id"))
        batch_op.alter_column("invoice_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("estimate_id")

    with op.batch_alter_table("checkout_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_checkout_sessions_estimate_id_estimates"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_checkout_sessions_estimate_id"))
        batch_op.alter_column("invoice_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("estimate_id")

    with op.batch_alter_table("billing_settings", schema=None) as batch_op:
        batch_op.drop_column("deposit_value")
        batch_op.drop_column("deposit_kind")

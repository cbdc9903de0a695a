"""customer other phones, tags and company name

Revision ID: 8b199bc39d90
Revises: 07c0428b1be5
Create Date: 2026-12-02 13:48:31.896309

Existing customers get empty lists and no company name: what an earlier import put into
their notes ("Tags: ...", "Company: ...", "Other phones: ...") stays there, not guessed at.
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# revision identifiers, used by Alembic.
revision = '8b199bc39d90'
down_revision = '07c0428b1be5'
branch_labels = None
depends_on = None

JSON_LIST = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade():
    # Plain ALTER TABLE, not a batch: SQLite's batch mode copies the table and would lose
    # the expression indexes it cannot reflect (ix_customers_company_email_lower).
    op.add_column('customers', sa.Column('company_name', sa.String(length=120), nullable=True))
    op.add_column(
        'customers',
        sa.Column('other_phones', JSON_LIST, server_default=sa.text("'[]'"), nullable=False),
    )
    op.add_column(
        'customers', sa.Column('tags', JSON_LIST, server_default=sa.text("'[]'"), nullable=False)
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_customers_tags ON customers USING gin (tags jsonb_path_ops)')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_customers_tags')
    op.drop_column('customers', 'tags')
    op.drop_column('customers', 'other_phones')
    op.drop_column('customers', 'company_name')

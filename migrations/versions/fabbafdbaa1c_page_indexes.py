"""page indexes: the jobs board's tabs, and trigram indexes for its search

Revision ID: fabbafdbaa1c
Revises: 899401be3b7c
Create Date: 2026-11-26 21:00:00

- ix_jobs_company_status_start (company_id, status, scheduled_start, id): every tab of the
  board is one or a few ranges of it (a status, a window of start times), read in board
  order and counted without touching the table.
- ix_customers_company_newest (company_id, id): the customer picker's newest customers.
- ix_customers_name_trgm, ix_customers_phone_trgm, ix_jobs_description_trgm: the board's
  search is a substring match (ILIKE '%...%'), which a B-tree cannot serve. On PostgreSQL
  they are GIN indexes of (company_id, the column's trigrams): pg_trgm for the trigrams,
  btree_gin for the company id, so one index scan finds a company's matches (both are
  trusted extensions since PostgreSQL 13: the database owner can create them). SQLite
  has no such index type and gets a plain (company_id, column) index, as `create_all`
  makes from the models.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'fabbafdbaa1c'
down_revision = "899401be3b7c"
branch_labels = None
depends_on = None


TRIGRAM_INDEXES = [
    ('customers', 'ix_customers_name_trgm', 'name'),
    ('customers', 'ix_customers_phone_trgm', 'mobile_phone'),
    ('jobs', 'ix_jobs_description_trgm', 'description'),
]


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('CREATE EXTENSION IF NOT EXISTS btree_gin')
    # The customer picker's empty box lists a company's newest customers: read in order.
    op.create_index('ix_customers_company_newest', 'customers', ['company_id', 'id'])
    op.create_index(
        'ix_jobs_company_status_start',
        'jobs',
        ['company_id', 'status', 'scheduled_start', 'id'],
        unique=False,
    )
    for table, name, column in TRIGRAM_INDEXES:
        op.create_index(
            name,
            table,
            ['company_id', column],
            unique=False,
            postgresql_using='gin',
            postgresql_ops={column: 'gin_trgm_ops'},
        )


def downgrade():
    for table, name, _column in reversed(TRIGRAM_INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index('ix_jobs_company_status_start', table_name='jobs')
    op.drop_index('ix_customers_company_newest', table_name='customers')
    # pg_trgm and btree_gin stay: other objects in the database may use them, and an
    # unused extension costs nothing.

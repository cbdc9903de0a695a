"""customer search index: trigrams of name + email + address, per company (PostgreSQL)

Revision ID: 3c1f0e7a9b2d
Revises: fabbafdbaa1c
Create Date: 2026-11-27 01:30:00

The customer picker and the customers list match every word typed against one text made
of a customer's name, email and address (app.models.customer.customer_search_text),
lowercased. A LIKE '%word%' on it read every customer of the company: 56-72 ms p95 for a
name at 20,000 customers (docs/performance.md). This GIN index of (company_id, the
text's trigrams) lets PostgreSQL read only the matches. The expression must stay exactly
the one the queries spell; tests/test_migrations.py compares this index with the one the
models create.

PostgreSQL only: SQLite has no trigram index and gets nothing (as the models say, with
`ddl_if`). pg_trgm and btree_gin were created by fabbafdbaa1c.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = '3c1f0e7a9b2d'
down_revision = 'fabbafdbaa1c'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "CREATE INDEX ix_customers_search_trgm ON customers USING gin ("
            "company_id, "
            "lower(name || ' ' || coalesce(email, '') || ' ' || coalesce(address, '')) "
            "gin_trgm_ops)"
        )


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_customers_search_trgm')

"""customer imports: the CSV import of customers and what each one changed (for its undo)

Revision ID: 643126c465c7
Revises: 775f122bad8a
Create Date: 2026-12-02 07:42:27.648199

`customer_imports` keeps the uploaded file until the import has run, the column mapping,
the dry run's and the import's counts, the progress and the undo deadline.
`customer_import_changes` has one row per customer an import created or merged into, with
a merged customer's previous field values. `ix_customers_company_email_lower` lets the
import match a batch's emails (ignoring case) without scanning the company's customers.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '643126c465c7'
down_revision = "775f122bad8a"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('customer_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('company_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('encoding', sa.String(length=20), nullable=False),
    sa.Column('delimiter', sa.String(length=1), nullable=False),
    sa.Column('header', sa.JSON(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('planned_new', sa.Integer(), nullable=False),
    sa.Column('planned_merged', sa.Integer(), nullable=False),
    sa.Column('planned_skipped', sa.Integer(), nullable=False),
    sa.Column('review', sa.JSON(), nullable=True),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('created_count', sa.Integer(), nullable=False),
    sa.Column('merged_count', sa.Integer(), nullable=False),
    sa.Column('skipped_count', sa.Integer(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('confirmed_by_id', sa.Integer(), nullable=True),
    sa.Column('confirmed_at', sa.DateTime(), nullable=True),
    sa.Column('lease_until', sa.DateTime(), nullable=True),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('undo_until', sa.DateTime(), nullable=True),
    sa.Column('undone_at', sa.DateTime(), nullable=True),
    sa.Column('undone_by_id', sa.Integer(), nullable=True),
    sa.Column('undo_report', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_customer_imports_company_id_companies'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['confirmed_by_id'], ['users.id'], name=op.f('fk_customer_imports_confirmed_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_customer_imports_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['undone_by_id'], ['users.id'], name=op.f('fk_customer_imports_undone_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_imports'))
    )
    with op.batch_alter_table('customer_imports', schema=None) as batch_op:
        batch_op.create_index('ix_customer_imports_company_created', ['company_id', 'created_at'], unique=False)
        batch_op.create_index('ix_customer_imports_status', ['status'], unique=False)

    op.create_table('customer_import_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('row_number', sa.Integer(), nullable=False),
    sa.Column('created', sa.Boolean(), nullable=False),
    sa.Column('previous', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_customer_import_changes_customer_id_customers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['import_id'], ['customer_imports.id'], name=op.f('fk_customer_import_changes_import_id_customer_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_import_changes')),
    sa.UniqueConstraint('import_id', 'customer_id', name=op.f('uq_customer_import_changes_import_id_customer_id'))
    )
    with op.batch_alter_table('customer_import_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_import_changes_customer_id'), ['customer_id'], unique=False)

    op.create_index(
        'ix_customers_company_email_lower', 'customers', ['company_id', sa.text('lower(email)')]
    )



def downgrade():
    op.drop_index('ix_customers_company_email_lower', table_name='customers')
    with op.batch_alter_table('customer_import_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_import_changes_customer_id'))

    op.drop_table('customer_import_changes')
    with op.batch_alter_table('customer_imports', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_imports_status')
        batch_op.drop_index('ix_customer_imports_company_created')

    op.drop_table('customer_imports')

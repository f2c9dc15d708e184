"""bulk imports (imports: report, progress) and their key ledger (import_keys: one row per imported manifest row)

Revision ID: 8dacdd44f425
Revises: b7c4e2d91a30
Create Date: 2026-12-02 15:16:34.851429

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8dacdd44f425'
# Also the merge point of the two issue-14 branches (exports and collection projects) until the lead re-chains.
down_revision = 'b7c4e2d91a30'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('dry_run', sa.Boolean(), nullable=False),
    sa.Column('batch', sa.String(length=128), nullable=False),
    sa.Column('source_kind', sa.String(length=16), nullable=False),
    sa.Column('source_label', sa.String(length=1024), nullable=False),
    sa.Column('manifest_name', sa.String(length=255), nullable=False),
    sa.Column('package', sa.Boolean(), nullable=False),
    sa.Column('manifest_sha256', sa.String(length=64), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('phase', sa.String(length=16), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=False),
    sa.Column('rows_done', sa.Integer(), nullable=False),
    sa.Column('bytes_total', sa.BigInteger(), nullable=False),
    sa.Column('bytes_done', sa.BigInteger(), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=False),
    sa.Column('problems', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_imports_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imports'))
    )
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_imports_created_by_id'), ['created_by_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_imports_status'), ['status'], unique=False)

    op.create_table('import_keys',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('entity_type', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.Integer(), nullable=False),
    sa.Column('batch', sa.String(length=128), nullable=False),
    sa.Column('ref', sa.String(length=128), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('import_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['imports.id'], name=op.f('fk_import_keys_import_id_imports'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_import_keys'))
    )
    with op.batch_alter_table('import_keys', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_keys_batch'), ['batch'], unique=False)



def downgrade():
    with op.batch_alter_table('import_keys', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_keys_batch'))

    op.drop_table('import_keys')
    with op.batch_alter_table('imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_imports_status'))
        batch_op.drop_index(batch_op.f('ix_imports_created_by_id'))

    op.drop_table('imports')

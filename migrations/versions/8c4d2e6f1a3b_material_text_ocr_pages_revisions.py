"""material text: OCR or text-layer pages, their revisions, and the material's current full text

Revision ID: 8c4d2e6f1a3b
Revises: 5e1f0c2a9b7d
Create Date: 2026-12-02 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '8c4d2e6f1a3b'
down_revision = '5e1f0c2a9b7d'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_content', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('text_revision', sa.Integer(), server_default='0', nullable=False))

    op.create_table('material_text_pages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('width', sa.Float(), nullable=False),
    sa.Column('height', sa.Float(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('engine', sa.String(length=32), nullable=True),
    sa.Column('lines', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['material_id'], ['materials.id'], name=op.f('fk_material_text_pages_material_id_materials'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_text_pages')),
    sa.UniqueConstraint('material_id', 'number', name='uq_material_text_pages_material_number')
    )
    op.create_table('material_text_revisions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('material_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('base_number', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('engine', sa.String(length=32), nullable=True),
    sa.Column('job_id', sa.String(length=32), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('comment', sa.String(length=255), nullable=True),
    sa.Column('pages', sa.JSON(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_material_text_revisions_created_by_id_users')),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_material_text_revisions_job_id_jobs'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['material_id'], ['materials.id'], name=op.f('fk_material_text_revisions_material_id_materials'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_material_text_revisions')),
    sa.UniqueConstraint('job_id', name=op.f('uq_material_text_revisions_job_id')),
    sa.UniqueConstraint('material_id', 'number', name='uq_material_text_revisions_material_number')
    )
    with op.batch_alter_table('material_text_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_material_text_revisions_material_id'), ['material_id'], unique=False)


def downgrade():
    with op.batch_alter_table('material_text_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_material_text_revisions_material_id'))
    op.drop_table('material_text_revisions')
    op.drop_table('material_text_pages')
    with op.batch_alter_table('materials', schema=None) as batch_op:
        batch_op.drop_column('text_revision')
        batch_op.drop_column('text_content')

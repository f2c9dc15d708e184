"""OAI-PMH ledger: what was ever published to harvesters (oai_records, oai_record_sets) and how far it has read
(oai_state)

Revision ID: 3b8e5d1c7a20
Revises: b3d5f0a1c2e8
Create Date: 2026-12-02 15:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3b8e5d1c7a20'
down_revision = 'b3d5f0a1c2e8'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('oai_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entity_type', sa.String(length=16), nullable=False),
    sa.Column('entity_id', sa.BigInteger(), nullable=False),
    sa.Column('datestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deleted', sa.Boolean(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oai_records')),
    sa.UniqueConstraint('entity_type', 'entity_id', name='uq_oai_records_entity')
    )
    op.create_index('ix_oai_records_datestamp', 'oai_records', ['datestamp', 'id'], unique=False)
    op.create_table('oai_record_sets',
    sa.Column('record_id', sa.Integer(), nullable=False),
    sa.Column('spec', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['record_id'], ['oai_records.id'], name=op.f('fk_oai_record_sets_record_id_oai_records'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('record_id', 'spec', name=op.f('pk_oai_record_sets'))
    )
    with op.batch_alter_table('oai_record_sets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oai_record_sets_spec'), ['spec'], unique=False)
    op.create_table('oai_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.Column('checked_day', sa.Date(), nullable=False),
    sa.Column('public_projects', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_oai_state'))
    )


def downgrade():
    op.drop_table('oai_state')
    with op.batch_alter_table('oai_record_sets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oai_record_sets_spec'))
    op.drop_table('oai_record_sets')
    op.drop_index('ix_oai_records_datestamp', table_name='oai_records')
    op.drop_table('oai_records')

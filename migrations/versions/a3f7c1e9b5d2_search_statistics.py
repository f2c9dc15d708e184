"""search: stored document frequencies (per kind: how many documents, and in how many each common character or
pair of characters occurs), worked out after a reindex and nightly, instead of counted for every query

Revision ID: a3f7c1e9b5d2
Revises: e8b2c4d6f1a9
Create Date: 2026-12-03 23:40:00.000000

A query of several words weighed each by its document frequency, counted on every search (up to 1,000 matches
per word): four counts for a two-word query, a tenth of its time on a large archive. The frequencies change
slowly; they are now read from these tables, filled by ``liufang search statistics`` (and by a reindex and a
nightly job). Until they are first filled, a query's words weigh alike.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a3f7c1e9b5d2'
down_revision = 'e8b2c4d6f1a9'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'search_statistics',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('documents', sa.Integer(), nullable=False),
        sa.Column('refreshed_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('kind', name=op.f('pk_search_statistics')),
    )
    op.create_table(
        'search_term_statistics',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('term', sa.String(length=8), nullable=False),
        sa.Column('documents', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'term', name=op.f('pk_search_term_statistics')),
    )


def downgrade():
    op.drop_table('search_term_statistics')
    op.drop_table('search_statistics')

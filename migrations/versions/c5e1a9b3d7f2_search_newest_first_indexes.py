"""search: a b-tree on id per document kind (PostgreSQL), so the newest documents of one kind are read in order

Revision ID: c5e1a9b3d7f2
Revises: a7c3e9d2f410
Create Date: 2026-12-03 11:30:00.000000

The planner reads "the newest matches of this kind" backwards along an index and stops at the limit when a word is
common; along the primary key it would first walk past every newer document of the other kinds (100,000 profiles
behind 1,000,000 segments), so it read every match through the GIN index and sorted them instead. SQLite's FTS5
tables are per kind already.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'c5e1a9b3d7f2'
down_revision = 'a7c3e9d2f410'
branch_labels = None
depends_on = None

# backend/models/search.py DOCUMENT_KINDS
_KINDS = ("segment", "person", "material", "interview", "public_material")


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for kind in _KINDS:
            op.execute(f"CREATE INDEX ix_search_documents_newest_{kind} ON search_documents (id) "
                       f"WHERE kind = '{kind}'")


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        for kind in _KINDS:
            op.execute(f"DROP INDEX IF EXISTS ix_search_documents_newest_{kind}")

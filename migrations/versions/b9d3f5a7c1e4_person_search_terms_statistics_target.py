"""persons: PostgreSQL keeps a finer histogram of the search terms, so a name search's matches are estimated well

Revision ID: b9d3f5a7c1e4
Revises: a3f7c1e9b5d2
Create Date: 2026-12-04 02:20:00.000000

A name search is a prefix range over ``person_search_terms.term`` (every suffix of every name, its pinyin and
initials: 1.2M rows for 100,000 profiles). With the default statistics target (100 histogram buckets) PostgreSQL
took ``张…`` for 58 rows where 5,137 match, joined and sorted them all (33 ms) instead of walking the newest
profiles until a page is full (3 ms). With 2,000 buckets its estimate is within a few per cent. SQLite: nothing.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'b9d3f5a7c1e4'
down_revision = 'a3f7c1e9b5d2'
branch_labels = None
depends_on = None

TARGET = 2000


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE person_search_terms ALTER COLUMN term SET STATISTICS {TARGET}")
        op.execute("ANALYZE person_search_terms")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE person_search_terms ALTER COLUMN term SET STATISTICS -1")

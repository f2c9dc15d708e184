"""search (PostgreSQL): each document's tsvector also holds the range of ids it belongs to, so the newest matches
of a common word are read range by range instead of all at once

Revision ID: d4e6a8c0b2f5
Revises: b9d3f5a7c1e4
Create Date: 2026-12-04 02:40:00.000000

The GIN index answers "which documents hold these lexemes" as an unordered set: to return the newest 500 of a
word held by 27,648 of 1,000,000 segments, PostgreSQL read all of them and sorted (40–60 ms). A document now also
holds the lexemes ``#<id // 16384>`` and ``%<id // 131072>`` (eight ranges in one: ORing many narrow ranges costs
the index more than one wide one; ``#`` and ``%`` are never in folded text), and the engine asks for the word AND
the newest ranges first (backend/services/search_engines.py PostgresTsvector): the GIN index intersects the two,
and only the matches in those ranges are read. The column is generated, so this rewrites ``search_documents`` and
rebuilds its GIN indexes (minutes for a million documents). SQLite: nothing.
"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'd4e6a8c0b2f5'
down_revision = 'b9d3f5a7c1e4'
branch_labels = None
depends_on = None

# backend/models/search.py DOCUMENT_KINDS; backend/services/search_engines.py ID_RANGE_BITS (and + WIDE_RANGE_BITS)
_KINDS = ("segment", "person", "material", "interview", "public_material")
_ID_RANGE_BITS = 14
_WIDE_RANGE_BITS = 17


def _tsv(expression: str) -> None:
    for kind in _KINDS:
        op.execute(f"DROP INDEX IF EXISTS ix_search_documents_tsv_{kind}")
    op.execute("ALTER TABLE search_documents DROP COLUMN tsv")
    op.execute(f"ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS ({expression}) STORED")
    for kind in _KINDS:
        op.execute(f"CREATE INDEX ix_search_documents_tsv_{kind} ON search_documents USING gin (tsv) "
                   f"WHERE kind = '{kind}'")
    op.execute("ANALYZE search_documents")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        _tsv("array_to_tsvector(search_grams(title) || search_grams(body) "
             f"|| ARRAY['#' || (id >> {_ID_RANGE_BITS})::text, '%' || (id >> {_WIDE_RANGE_BITS})::text])")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        _tsv("array_to_tsvector(search_grams(title) || search_grams(body))")

"""search index: search_documents, with FTS5 tables (SQLite) or a tsvector column and GIN indexes (PostgreSQL)

Revision ID: a7c3e9d2f410
Revises: 8dacdd44f425
Create Date: 2026-12-02 15:00:00.000000

The index starts empty: run ``liufang search reindex`` once after upgrading a database that holds records.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a7c3e9d2f410'
down_revision = '8dacdd44f425'
branch_labels = None
depends_on = None

# backend/models/search.py DOCUMENT_KINDS
_KINDS = ("segment", "person", "material", "interview", "public_material")


_GRAMS = """
CREATE FUNCTION search_grams(spaced text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT g), '{}') FROM (
    SELECT t AS g FROM unnest(string_to_array(spaced, ' ')) AS t
    UNION ALL
    SELECT a || b FROM (SELECT t AS a, lead(t) OVER (ORDER BY n) AS b
                        FROM unnest(string_to_array(spaced, ' ')) WITH ORDINALITY AS u(t, n)) AS pairs
    WHERE b IS NOT NULL) AS grams WHERE g <> ''
$$"""


def upgrade():
    op.create_table('search_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('ref_id', sa.Integer(), nullable=False),
    sa.Column('transcript_id', sa.Integer(), nullable=True),
    sa.Column('material_id', sa.Integer(), nullable=True),
    sa.Column('start', sa.Float(), nullable=True),
    sa.Column('end', sa.Float(), nullable=True),
    sa.Column('category', sa.String(length=16), nullable=True),
    sa.Column('area', sa.String(length=64), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_search_documents')),
    sa.UniqueConstraint('kind', 'ref_id', name='uq_search_documents_kind_ref')
    )
    op.create_index('ix_search_documents_kind_id', 'search_documents', ['kind', 'id'], unique=False)
    op.create_index('ix_search_documents_material', 'search_documents', ['material_id'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        # The document's distinct characters and pairs of adjacent characters (backend/services/search_engines.py
        # PostgresTsvector), from the spaced text.
        op.execute(_GRAMS)
        op.execute("ALTER TABLE search_documents ADD COLUMN tsv tsvector GENERATED ALWAYS AS "
                   "(array_to_tsvector(search_grams(title) || search_grams(body))) STORED")
        for kind in _KINDS:
            op.execute(f"CREATE INDEX ix_search_documents_tsv_{kind} ON search_documents USING gin (tsv) "
                       f"WHERE kind = '{kind}'")
    else:
        for kind in _KINDS:
            op.execute(f"CREATE VIRTUAL TABLE search_fts_{kind} USING fts5(title, body, "
                       "content='search_documents', content_rowid='id', tokenize='ascii')")


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        for kind in _KINDS:
            op.execute(f"DROP TABLE IF EXISTS search_fts_{kind}")
    op.drop_index('ix_search_documents_material', table_name='search_documents')
    op.drop_index('ix_search_documents_kind_id', table_name='search_documents')
    op.drop_table('search_documents')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP FUNCTION IF EXISTS search_grams(text)")

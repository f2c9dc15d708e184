"""search: SQLite's FTS5 tables also index each pair of adjacent characters, so words of two or more characters are looked up by their pairs

Revision ID: e8b2c4d6f1a9
Revises: c5e1a9b3d7f2
Create Date: 2026-12-03 13:30:00.000000

A word was a phrase of single characters: every common character's long list of positions was read and lined up.
Now it is a phrase of character pairs (纺织厂 → 纺织 织厂), whose lists are short; single characters are still
looked up as themselves. The tables become contentless (the pairs are not a column of ``search_documents``) and
are filled here from ``search_documents``. PostgreSQL's tsvector holds the pairs already.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e8b2c4d6f1a9'
down_revision = 'c5e1a9b3d7f2'
branch_labels = None
depends_on = None

# backend/models/search.py DOCUMENT_KINDS
_KINDS = ("segment", "person", "material", "interview", "public_material")
_BREAK = "¶"  # backend/services/search_text.py FIELD_BREAK
_BATCH = 5000


def _pairs(title, body):
    """As backend/services/search_engines.py pair_tokens at this revision (frozen here: the tables are filled
    with what this revision's code deletes)."""
    fields = []
    for spaced in (title, body):
        if spaced:
            fields += [part.replace(" ", "") for part in spaced.split(_BREAK)]
    return f" {_BREAK} ".join(" ".join(field[i:i + 2] for i in range(len(field) - 1))
                              for field in fields if len(field) > 1)


def _fill(connection, kind):
    documents = sa.table("search_documents", sa.column("id"), sa.column("kind"), sa.column("title"),
                         sa.column("body"))
    last = 0
    while rows := connection.execute(sa.select(documents.c.id, documents.c.title, documents.c.body)
                                     .where(documents.c.kind == kind, documents.c.id > last)
                                     .order_by(documents.c.id).limit(_BATCH)).all():
        last = rows[-1].id
        connection.execute(sa.text(f"INSERT INTO search_fts_{kind}(rowid, title, body, pairs) "
                                   "VALUES (:id, :title, :body, :pairs)"),
                           [{"id": row.id, "title": row.title, "body": row.body,
                             "pairs": _pairs(row.title, row.body)} for row in rows])
    connection.execute(sa.text(f"INSERT INTO search_fts_{kind}(search_fts_{kind}) VALUES ('optimize')"))


def upgrade():
    connection = op.get_bind()
    if connection.dialect.name == 'postgresql':
        return
    for kind in _KINDS:
        op.execute(f"DROP TABLE IF EXISTS search_fts_{kind}")
        op.execute(f"CREATE VIRTUAL TABLE search_fts_{kind} USING fts5(title, body, pairs, content='', "
                   "tokenize='ascii')")
        _fill(connection, kind)


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        return
    for kind in _KINDS:
        op.execute(f"DROP TABLE IF EXISTS search_fts_{kind}")
        op.execute(f"CREATE VIRTUAL TABLE search_fts_{kind} USING fts5(title, body, "
                   "content='search_documents', content_rowid='id', tokenize='ascii')")
        op.execute(f"INSERT INTO search_fts_{kind}(rowid, title, body) SELECT id, title, body FROM search_documents "
                   f"WHERE kind = '{kind}' ORDER BY id")

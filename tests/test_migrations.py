"""Migrations upgrade a blank database (SQLite and PostgreSQL) to exactly the schema the models describe."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backend import create_app
from backend.extensions import db
from backend.services.search_engines import engine_managed


@pytest.mark.both_databases  # migrations: each engine's DDL
def test_migrated_schema_matches_models(app):
    with app.app_context():
        with db.engine.connect() as connection:
            # The search engines' own objects (FTS5 tables, the tsvector column and its GIN indexes) are made by
            # the migration beside the models' tables; test_search_index_objects checks them.
            context = MigrationContext.configure(connection, opts={"compare_type": True,
                                                                   "include_name": _not_engine_managed})
            differences = compare_metadata(context, db.metadata)
    assert differences == []


def _not_engine_managed(name: str | None, type_: str, parent: dict[str, Any]) -> bool:
    return not engine_managed(name, type_, parent)


@pytest.mark.both_databases  # each engine's own index objects
def test_search_index_objects(app):
    with app.app_context():
        inspector = sa.inspect(db.engine)
        if db.engine.dialect.name == "postgresql":
            assert "tsv" in {column["name"] for column in inspector.get_columns("search_documents")}
            indexes = {index["name"] for index in inspector.get_indexes("search_documents")}
            assert {f"ix_search_documents_tsv_{kind}" for kind in ("segment", "person", "material", "interview",
                                                                   "public_material")} <= indexes
        else:
            tables = set(inspector.get_table_names())
            assert {"search_fts_segment", "search_fts_person", "search_fts_material", "search_fts_interview",
                    "search_fts_public_material"} <= tables


@pytest.mark.both_databases  # PostgreSQL's planner statistics (nothing on SQLite)
def test_name_search_terms_keep_a_fine_histogram_on_postgresql(app):
    """A name search's plan depends on how many profiles PostgreSQL expects a prefix of a name to match."""
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            pytest.skip("PostgreSQL's planner statistics")
        target = db.session.scalar(sa.text("SELECT attstattarget FROM pg_attribute WHERE attrelid = "
                                           "'person_search_terms'::regclass AND attname = 'term'"))
        assert target == 2000


# --- upgrading a database that holds data -----------------------------------------------------------------------

def _filled(table: sa.Table, **given: Any) -> dict[str, Any]:
    """A row for ``table``: ``given``, plus a plain value for every other NOT NULL column without a default."""
    row = dict(given)
    for column in table.columns:
        if column.name in row or column.nullable or column.server_default is not None or column.primary_key:
            continue
        kind = column.type
        if isinstance(kind, sa.Boolean):
            row[column.name] = False
        elif isinstance(kind, (sa.Integer, sa.Float, sa.Numeric)):
            row[column.name] = 0
        elif isinstance(kind, sa.JSON):
            row[column.name] = {}
        elif isinstance(kind, sa.DateTime):
            row[column.name] = datetime(2026, 5, 1, tzinfo=timezone.utc)
        elif isinstance(kind, sa.Date):
            row[column.name] = date(2026, 5, 1)
        else:
            row[column.name] = "x"
    return row


def test_upgrade_of_a_populated_sqlite_database_keeps_every_row(tmp_path):
    """SQLite rebuilds a table to drop a constraint: the rows that refer to it (links, derivatives, transcripts,
    consents) must survive, and an interview-scoped consent must stay scoped."""
    from flask_migrate import upgrade

    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "test-secret-key-that-is-long-enough-for-hs256",
                      "SQLALCHEMY_DATABASE_URI": url, "QUEUE_URL": "memory", "STORAGE_URL": str(tmp_path / "m")})
    with app.app_context():
        upgrade(revision="42fdc26e7f0c")
        metadata = sa.MetaData()
        metadata.reflect(db.engine)
        t = metadata.tables
        with db.engine.begin() as connection:
            def add(table: str, /, **values: Any) -> None:
                connection.execute(t[table].insert().values(**_filled(t[table], **values)))

            add("users", id=1, username="wang")
            add("users", id=2, username="li")
            add("persons", id=1, name="张三", category="good_person", created_by_id=1, client_uuid="u-1")
            add("interviews", id=1, created_by_id=1)
            add("interview_persons", interview_id=1, person_id=1)
            add("materials", id=1, collector_id=1, sha256="a" * 64, interview_id=1, kind="audio")
            add("person_materials", person_id=1, material_id=1, role="interviewee")
            add("derivatives", material_id=1, variant="proxy")
            add("transcripts", id=1, material_id=1)
            add("transcript_segments", transcript_id=1, index=0)
            add("fixity_events", material_id=1)
            add("person_tags", person_id=1, tag="渔民")
            add("consents", id=1, person_id=1, material_id=1, scope="public", created_by_id=1)
            add("consents", id=2, person_id=1, material_id=1, scope="public", created_by_id=1, interview_id=1)
        before = _row_counts(db.engine)
        upgrade()
        after = _row_counts(db.engine)
        assert {table: after.get(table) for table in before} == before  # tables added later start empty
        with db.engine.begin() as connection:
            scoped = dict(connection.execute(sa.text("SELECT id, interview_scoped FROM consents")).all())
            assert {key: bool(value) for key, value in scoped.items()} == {1: False, 2: True}
            assert connection.execute(sa.text("PRAGMA foreign_keys")).scalar() == 1
            # what the new constraints allow: the same bytes and the same client_uuid for another user
            connection.execute(t["materials"].insert().values(**_filled(t["materials"], id=2, collector_id=2,
                                                                        sha256="a" * 64, kind="audio")))
            connection.execute(t["persons"].insert().values(**_filled(t["persons"], id=2, name="李四",
                                                                      category="notable", created_by_id=2,
                                                                      client_uuid="u-1")))
        db.engine.dispose()


def _row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        names = sa.inspect(connection).get_table_names()
        return {name: connection.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()
                for name in names if name != "alembic_version"}

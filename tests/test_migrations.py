"""Migrations upgrade a blank database (SQLite and PostgreSQL) to exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backend.extensions import db

pytestmark = pytest.mark.both_databases  # migrations: each engine's DDL


def test_migrated_schema_matches_models(app):
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
    assert differences == []

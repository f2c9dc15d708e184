"""Column types and SQL shared by the models: timezone-aware UTC timestamps, JSON arrays of a group, the same on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from backend.clock import clock


def utcnow() -> datetime:
    """Now, timezone-aware UTC, from the app's clock (backend.clock: the system clock unless a test moved it)."""
    return clock.now()


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC; always returns an aware datetime (SQLite drops the zone, so it is put back on load)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class json_array_agg(FunctionElement[Any]):  # noqa: N801 -- named like the SQL functions it stands for
    """Aggregate: the values of one column in a group as a JSON array (``[]`` for none), loaded as a list."""

    type = JSON()
    name = "json_array_agg"
    inherit_cache = True


@compiles(json_array_agg)
def _json_array_agg_postgresql(element: json_array_agg, compiler: Any, **kw: Any) -> str:
    return f"coalesce(json_agg({compiler.process(element.clauses, **kw)}), '[]'::json)"


@compiles(json_array_agg, "sqlite")
def _json_array_agg_sqlite(element: json_array_agg, compiler: Any, **kw: Any) -> str:
    return f"json_group_array({compiler.process(element.clauses, **kw)})"

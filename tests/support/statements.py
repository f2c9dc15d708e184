"""The SQL statements an app sends while a block runs (to hold a request to a number of round trips)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask
from sqlalchemy import event

from backend.extensions import db


@contextmanager
def counted_statements(app: Flask) -> Iterator[list[str]]:
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)

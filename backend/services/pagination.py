"""Paging of list queries into the one list shape the API uses: items, total, page, per_page (and next_cursor).

Two things keep list pages as cheap as a single lookup however many rows there are:

- **Totals are counted once per state of the data.** Counting the rows a filter matches is what most of a list
  request cost. A list of synced records (profiles, materials, interviews) asks for ``cache_total``: its exact count
  is kept per (query, the change log's position) and reused until the next commit that changes a synced record
  moves the position (backend.services.change_log numbers every such commit). The key is the compiled query with
  its parameters, so the caller's visibility (their id, their role's condition, today's date for embargoes) is part
  of it: a total is only ever reused for the very same question, and it stays exact, never an estimate.
- **Deep pages by keyset.** ``page`` = N costs an OFFSET that reads and drops every row before it. A list with a
  stable order hands out ``next_cursor`` (the sort values of the page's last row); sending it back as ``cursor``
  continues right after that row through the order's index, as cheap at row 100,000 as at row 20, and a cursor
  walk shows every row exactly once even while rows are added. A deep ``page`` still works, its ids found along
  the order's index before its rows are loaded.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Sequence, TypeVar

from sqlalchemy import Select, and_, func, literal, or_, select, tuple_
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.types import TypeDecorator

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.services import change_log
from backend.services.text import INT64_MAX, INT64_MIN, invalid_character

T = TypeVar("T")
MAX_PER_PAGE = 100
DEFERRED_OFFSET = 1000  # rows: below that an OFFSET is as cheap
MAX_PAGE = (2**63 - 1) // MAX_PER_PAGE  # the row offset of any page still fits a 64-bit integer
COUNT_CACHE_SIZE = 4096


@dataclass
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int | None
    per_page: int
    next_cursor: str | None = None


class InvalidCursor(ValidationFailed):
    code, message = "invalid_cursor", "翻页游标无效，请从第一页重新开始"


# --- totals --------------------------------------------------------------------------------------------------------

def _query_key(query: Select[Any]) -> tuple[Any, ...]:
    """The statement's identity: SQLAlchemy's own cache key of its structure (what its compiled-SQL cache is keyed
    by) with every bound value; the compiled text where a statement has no cache key."""
    cache_key = query._generate_cache_key()  # noqa: SLF001 -- the public API for it is the compiled cache itself
    if cache_key is None:
        compiled = query.compile(dialect=db.engine.dialect)
        return compiled.string, tuple(sorted((name, repr(value)) for name, value in compiled.params.items()))
    return cache_key.key, tuple(repr(bind.effective_value) for bind in cache_key.bindparams)


def _count(query: Select[Any]) -> int:
    return db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0


def count_total(query: Select[Any], *, cache: bool = False, seen: Any = change_log.UNREAD,
                key: tuple[Any, ...] | None = None) -> int:
    """How many rows ``query`` matches. With ``cache`` (only for lists whose rows and visibility are made of synced
    records) the count is reused while the change log stands still (``seen``: its position, if just read; ``key``:
    the query's, if taken before a statement built on it ran); this transaction's own unlogged writes, or a commit
    that lands while counting, bypass the cache."""
    if not cache:
        return _count(query)
    return change_log.cached("count", COUNT_CACHE_SIZE, key or _query_key(query), lambda: _count(query), seen=seen)


# --- keyset cursors -------------------------------------------------------------------------------------------------

def _encode_value(value: Any) -> Any:
    return {"t": value.isoformat()} if isinstance(value, datetime) else value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"t"} and isinstance(value["t"], str):
        return datetime.fromisoformat(value["t"])
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return value
    raise ValueError("not a sort value")


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(value) for value in values], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = [_decode_value(value) for value in json.loads(raw.decode("utf-8"))]
    except (binascii.Error, ValueError, UnicodeDecodeError, TypeError) as error:
        raise InvalidCursor(details={"cursor": ["无法解析"]}) from error
    if len(values) != width:
        raise InvalidCursor(details={"cursor": ["与排序方式不符"]})
    return values


def _column_and_direction(term: UnaryExpression[Any]) -> tuple[ColumnElement[Any], bool]:
    return term.element, term.modifier is operators.desc_op


def _check_types(order: Sequence[UnaryExpression[Any]], values: Sequence[Any]) -> None:
    """A cursor's values must be of its columns' types (a cursor of another sort order, or made up, is a 422, never
    a database error)."""
    for term, value in zip(order, values):
        column_type = _column_and_direction(term)[0].type
        if isinstance(column_type, TypeDecorator):
            column_type = column_type.impl_instance
        expected = column_type.python_type
        if expected is datetime:
            fits = isinstance(value, datetime) and value.tzinfo is not None
        elif expected is int:
            fits = isinstance(value, int) and INT64_MIN <= value <= INT64_MAX
        elif expected is str:
            fits = isinstance(value, str) and len(value) <= 1024 and invalid_character(value) is None
        else:
            fits = isinstance(value, expected)
        if not fits:
            raise InvalidCursor(details={"cursor": ["与排序方式不符"]})


def _after(order: Sequence[UnaryExpression[Any]], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows strictly after ``values`` in ``order`` (sort columns NOT NULL, the last one unique)."""
    columns_and_directions = [_column_and_direction(term) for term in order]
    directions = {descending for _column, descending in columns_and_directions}
    if len(directions) == 1:  # one row-value comparison: both engines walk the order's index from there
        columns = tuple_(*(column for column, _descending in columns_and_directions))
        bound = tuple_(*(literal(value, column.type) for (column, _d), value in zip(columns_and_directions, values)))
        return columns < bound if directions == {True} else columns > bound
    alternatives = []
    for depth, term in enumerate(order):
        column, descending = _column_and_direction(term)
        equal_so_far = [_column_and_direction(order[i])[0] == values[i] for i in range(depth)]
        beyond = column < values[depth] if descending else column > values[depth]
        alternatives.append(and_(*equal_so_far, beyond))
    return or_(*alternatives)


def _sort_values(row: Any, order: Sequence[UnaryExpression[Any]]) -> list[Any]:
    return [getattr(row, _column_and_direction(term)[0].key) for term in order]


# --- pages --------------------------------------------------------------------------------------------------------

def _offset(query: Select[Any], offset: int, limit: int) -> Select[Any]:
    """``query`` from row ``offset`` on. A deep page finds its rows' ids first, reading only the order's index
    (an OFFSET reads and drops every whole row before it: page 2,000 of 100,000 profiles, 37 ms against 7 ms for
    the first), then loads those rows alone."""
    if offset < DEFERRED_OFFSET:
        return query.offset(offset)
    entity = query.column_descriptions[0]["entity"]
    page_ids = query.with_only_columns(entity.id).offset(offset).limit(limit)
    return query.where(entity.id.in_(page_ids))


def _rows(query: Select[Any], *, stamp: bool) -> tuple[list[Any], Any]:
    """The rows of ``query`` (unique: a collection may be loaded joined) and, with ``stamp``, the change log's
    position read by the same statement (a round trip fewer for a cached total; UNREAD when no row came back)."""
    if not stamp:
        return list(db.session.scalars(query).unique().all()), change_log.UNREAD
    rows = db.session.execute(query.add_columns(*change_log.position_columns())).unique().all()
    if not rows:
        return [], change_log.UNREAD
    return [row[0] for row in rows], change_log.position_of(rows[0][1], rows[0][2])


def paginate(query: Select[Any], page: int | None, per_page: int, *,
             order: Sequence[UnaryExpression[Any]] | None = None, cursor: str | None = None,
             cache_total: bool = False) -> Page[Any]:
    """One page of ``query``. With ``order`` (columns of the selected entity, NOT NULL, ending in a unique one) the
    page also carries ``next_cursor``, and ``cursor`` continues after the row it names (then ``page`` is None)."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    # The total's key is taken first: compiling a statement for the first time marks the ORM subqueries it shares
    # with ``query`` (a loader option's), and a key taken after that would differ from the next request's.
    key = _query_key(query) if cache_total else None
    if order is None:
        page = max(1, page or 1)
        items, seen = _rows(query.limit(per_page).offset((page - 1) * per_page), stamp=cache_total)
        return Page(items=items, total=count_total(query, cache=cache_total, seen=seen, key=key), page=page,
                    per_page=per_page)
    paged = query.order_by(*order)
    if cursor is not None:
        page = None
        values = decode_cursor(cursor, len(order))
        _check_types(order, values)
        paged = paged.where(_after(order, values))
    else:
        page = max(1, page or 1)
        paged = _offset(paged, (page - 1) * per_page, per_page + 1)
    rows, seen = _rows(paged.limit(per_page + 1), stamp=cache_total)
    total = count_total(query, cache=cache_total, seen=seen, key=key)
    items, more = rows[:per_page], len(rows) > per_page
    next_cursor = encode_cursor(_sort_values(items[-1], order)) if more and items else None
    return Page(items=items, total=total, page=page, per_page=per_page, next_cursor=next_cursor)

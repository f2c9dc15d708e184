"""Paging of list queries into the one list shape the API uses: items, total, page, per_page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Sequence, TypeVar

from sqlalchemy import Select, func, select

from backend.extensions import db

T = TypeVar("T")
MAX_PER_PAGE = 100
MAX_PAGE = (2**63 - 1) // MAX_PER_PAGE  # the row offset of any page still fits a 64-bit integer


@dataclass
class Page(Generic[T]):
    items: Sequence[T]
    total: int
    page: int
    per_page: int


def paginate(query: Select[Any], page: int, per_page: int) -> Page[Any]:
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    items = db.session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=items, total=total, page=page, per_page=per_page)

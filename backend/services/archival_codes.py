"""Archival reference codes (档号) of profiles and interviews: made from the configured pattern when a record is
first approved, in the approval's own transaction, one number after another in each series; never changed, never
reused, and without gaps (a rolled-back approval gives its number back with the rest of its transaction).

A series is the code with everything but its number filled in: with the default pattern
``{fonds}-{series}-{year}-{seq:04d}`` the interviews approved in 2026 form the series ``LYG-KS-2026-{seq}``
(LYG-KS-2026-0001, -0002, …), and numbering starts again at 1 in 2027. The counter row of a series is locked
(SELECT … FOR UPDATE) until the approving transaction ends, so concurrent approvals on PostgreSQL wait for each
other there and take consecutive numbers; SQLite has one writer anyway.
"""

from __future__ import annotations

import string
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import ColumnElement, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.extensions import db
from backend.models import ArchivalCounter, Interview, Person, User
from backend.models.types import utcnow
from backend.services import audit

# The year of a code is the year of its approval where the archive is (as the statistics count months).
ARCHIVE_TIME = ZoneInfo("Asia/Shanghai")
KINDS: dict[type, str] = {Person: "person", Interview: "interview"}
_SEQ_MARK = "{seq}"


def series_code(kind: str, category: str | None = None) -> str:
    """The series code (类别号) of a kind of record, per category where one is configured."""
    configured: dict[str, str] = current_app.config["ARCHIVAL_SERIES"]
    if category and f"{kind}.{category}" in configured:
        return configured[f"{kind}.{category}"]
    return configured.get(kind) or kind.upper()


def _render(pattern: str, values: dict[str, Any], seq: int | None) -> str:
    """The pattern filled in; with ``seq`` None the number stays a mark, which names the series."""
    parts: list[str] = []
    for literal, name, spec, conversion in string.Formatter().parse(pattern):
        parts.append(literal)
        if name is None:
            continue
        if name == "seq" and seq is None:
            parts.append(_SEQ_MARK)
            continue
        value = seq if name == "seq" else values[name]
        if conversion:
            value = {"s": str, "r": repr, "a": ascii}[conversion](value)
        parts.append(format(value, spec or ""))
    return "".join(parts)


def code_values(kind: str, category: str | None, when: datetime) -> dict[str, Any]:
    return {"fonds": current_app.config["ARCHIVAL_FONDS"], "series": series_code(kind, category),
            "year": when.astimezone(ARCHIVE_TIME).year}


def series_of(kind: str, category: str | None, when: datetime) -> str:
    """The series (counter) a record approved at ``when`` is numbered in, e.g. ``LYG-KS-2026-{seq}``."""
    return _render(current_app.config["ARCHIVAL_CODE_PATTERN"], code_values(kind, category, when), None)


def _take_next(series: str) -> int:
    """The next number of ``series``, its counter row locked until this transaction ends."""
    insert = postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(ArchivalCounter).values(series=series, last_seq=0, updated_at=utcnow())
                       .on_conflict_do_nothing(index_elements=[ArchivalCounter.series]))
    last = db.session.scalar(select(ArchivalCounter.last_seq).where(ArchivalCounter.series == series)
                             .with_for_update())
    number = int(last or 0) + 1
    db.session.execute(update(ArchivalCounter).where(ArchivalCounter.series == series)
                       .values(last_seq=number, updated_at=utcnow()).execution_options(synchronize_session=False))
    return number


def assign(record: Person | Interview) -> str | None:
    """Give ``record`` its 档号 unless it has one (a record keeps its first code for good: returned, approved
    again, withdrawn or edited): the new code, or None when it had one. Called inside the approval's transaction,
    whose audit event records the code (``record_assignment`` where no other event does)."""
    if record.archival_code:
        return None
    kind = KINDS[type(record)]
    category = getattr(record, "category", None)
    when = record.approved_at or utcnow()
    series = series_of(kind, category, when)
    number = _take_next(series)
    code = _render(current_app.config["ARCHIVAL_CODE_PATTERN"], code_values(kind, category, when), number)
    record.archival_code = code
    db.session.flush()
    return code


def record_assignment(record: Person | Interview, actor: User | None, code: str | None) -> None:
    """Audit a code given outside an approval event (a backfill, an archivist's edit of an approved record)."""
    if code is not None:
        audit.record(KINDS[type(record)], record.id, "assign_archival_code", actor,
                     changes={"archival_code": {"before": None, "after": code}}, comment=f"档号 {code}")


def matches(column: Any, value: str) -> ColumnElement[bool]:
    """Condition: the code in ``column`` starts with ``value`` (a whole code, or a series such as
    ``LYG-KS-2026``): an index range on the byte-ordered column."""
    value = value.strip()
    return column.between(value, value + "\U0010ffff")


def missing(kind: str) -> list[Any]:
    """Records approved before codes existed (or before this database had them), in approval order."""
    model = next(model for model, name in KINDS.items() if name == kind)
    return list(db.session.scalars(select(model).where(model.approved_at.is_not(None),
                                                       model.archival_code.is_(None))
                                   .order_by(model.approved_at, model.id)))


def assign_missing(actor: User | None = None) -> list[tuple[str, int, str]]:
    """Give every approved profile and interview without a code its code, oldest approval first, in the series of
    its approval's year (for databases that held approved records before 档号 existed): [(kind, id, code)]."""
    assigned = []
    for kind in KINDS.values():
        for record in missing(kind):
            code = assign(record)
            record_assignment(record, actor, code)
            assigned.append((kind, record.id, code))
    db.session.flush()
    return assigned

"""The write side of offline sync: every commit that changes a synced record, or a row that shapes one, moves that
record to the end of the change log (``sync_changes``), numbered in commit order, in the same transaction.

Nothing has to call this: session hooks see every ORM insert, change and delete (and bulk INSERT/UPDATE/DELETE
statements on mapped tables) and map the row to the record(s) it belongs to; only SQL written as text, or sent on a
connection of its own, goes unseen, so every change of a synced record must go through the session. The numbers
are handed out at the very end of the transaction, just before COMMIT, by one ``UPDATE sync_state SET last_seq =
last_seq + n``: on PostgreSQL that row's lock is held until COMMIT, so the next writer gets its numbers only after
this one is visible; on SQLite writers are serialised by the database lock anyway. Hence a reader that has seen number N has seen every change numbered below
N, and a cursor never skips a change that commits late (the autoincrement trap)."""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, TypeVar

from flask import Flask, current_app
from sqlalchemy import (BinaryExpression, BindParameter, ColumnElement, Select, event, literal, select, union_all,
                        update)
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BooleanClauseList

from backend.extensions import db
from backend.models import (SYNCED_TYPES, AuditEvent, Consent, Derivative, Interview, InterviewPerson, Material,
                            Notification, Person, PersonMaterial, PersonSearchTerm, PersonTag, Project,
                            ProjectCollector, ProjectPerson, SyncChange, SyncState)
from backend.models.types import utcnow

log = logging.getLogger(__name__)

Key = tuple[str, int]
STATE_ID = 1
_PENDING = "liufang_sync_pending"
_CHUNK = 500  # rows or ids per statement (SQLite's limit on bound parameters)
_CACHES = "liufang_log_caches"
T = TypeVar("T")

# Rows that ARE a synced record: their deletion is the record's.
OWN_TYPE: dict[type, str] = {Person: "person", Material: "material", Interview: "interview",
                             Notification: "notification", Project: "project"}
# Rows that are part of a synced record (its serialised fields or what it may become).
PART_OF: dict[type, Callable[[Any], Key]] = {
    PersonTag: lambda row: ("person", row.person_id),
    PersonSearchTerm: lambda row: ("person", row.person_id),
    Consent: lambda row: ("person", row.person_id),
    PersonMaterial: lambda row: ("material", row.material_id),         # person_ids
    Derivative: lambda row: ("material", row.material_id),             # variants
    InterviewPerson: lambda row: ("interview", row.interview_id),      # interviewee_ids
    ProjectPerson: lambda row: ("project", row.project_id),            # person_ids
    ProjectCollector: lambda row: ("project", row.project_id),         # collector_ids: who sees it
}
# Records that name another record: when a profile changes (withdrawn, published, edited), the materials and
# interviews that refer to it are logged as well, so whatever the policy derives for them from the profile (what
# their person_ids show, whether they are visible) reaches the phones without the policy having to say so here.
DEPENDENTS: dict[str, tuple[tuple[str, Callable[[list[int]], Select[Any]]], ...]] = {
    "person": (
        ("material", lambda ids: select(PersonMaterial.material_id).where(PersonMaterial.person_id.in_(ids))),
        ("interview", lambda ids: select(InterviewPerson.interview_id).where(InterviewPerson.person_id.in_(ids))),
        ("project", lambda ids: select(ProjectPerson.project_id).where(ProjectPerson.person_id.in_(ids))),
    ),
    # who sees a project decides what the project_id of its interviews and materials shows
    "project": (("material", lambda ids: select(Material.id).where(Material.project_id.in_(ids))),
                ("interview", lambda ids: select(Interview.id).where(Interview.project_id.in_(ids)))),
    "interview": (("material", lambda ids: select(Material.id).where(Material.interview_id.in_(ids))),),
    "material": (("interview", lambda ids: select(Interview.id).where(Interview.consent_material_id.in_(ids))),),
}


@dataclass
class _Pending:
    """What this transaction changed: {record: "upsert" | "delete"}, and the records whose dependents are noted."""

    changes: dict[Key, str] = field(default_factory=dict)
    expanded: set[Key] = field(default_factory=set)

    def note(self, key: Key, kind: str = "upsert") -> None:
        if key[1] is None:  # a row not yet flushed names no record
            return
        if self.changes.get(key) != "delete":
            self.changes[key] = kind


def _pending(session: Session) -> _Pending:
    return session.info.setdefault(_PENDING, _Pending())


def keys_of(row: Any) -> list[tuple[Key, bool]]:
    """The synced records ``row`` belongs to, each with whether ``row`` is the record itself."""
    kind = type(row)
    if kind in OWN_TYPE:
        return [((OWN_TYPE[kind], row.id), True)]
    if kind in PART_OF:
        return [(PART_OF[kind](row), False)]
    if kind is AuditEvent and row.entity_type in SYNCED_TYPES and str(row.entity_id).isascii() \
            and str(row.entity_id).isdigit():
        # Every audited change names its record: a safety net for rows written by plain INSERT statements.
        return [((row.entity_type, int(row.entity_id)), False)]
    return []


def _labelled(entity_type: str, query: Select[Any]) -> Select[Any]:
    return query.with_only_columns(literal(entity_type).label("type"), *query.selected_columns)


def _expand(connection: Connection, pending: _Pending, keys: Iterable[Key]) -> None:
    """Note the dependents of ``keys`` (once per record), as the database shows them now: one query (a UNION of
    each relation) per few hundred records."""
    wanted = sorted({key for key in keys if key not in pending.expanded and key[0] in DEPENDENTS})
    pending.expanded.update(wanted)
    for start in range(0, len(wanted), _CHUNK):
        by_type: dict[str, list[int]] = {}
        for entity_type, entity_id in wanted[start:start + _CHUNK]:
            by_type.setdefault(entity_type, []).append(entity_id)
        queries = [_labelled(dependent_type, query(ids))
                   for entity_type, ids in by_type.items() for dependent_type, query in DEPENDENTS[entity_type]]
        for dependent_type, dependent_id in connection.execute(union_all(*queries)):
            if dependent_id is not None:
                pending.note((dependent_type, int(dependent_id)))


# --- session hooks -------------------------------------------------------------------------------------------------

def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Deletions are noted before they run: the rows that tie dependents to the record go with it (ON DELETE)."""
    pending = _pending(session)
    deleted: list[Key] = []
    for row in session.deleted:
        for key, own in keys_of(row):
            pending.note(key, "delete" if own else "upsert")
            if own:
                deleted.append(key)
    if deleted:
        _expand(session.connection(), pending, deleted)


def _after_flush(session: Session, _context: Any) -> None:
    pending = _pending(session)
    for row in session.new:
        for key, _own in keys_of(row):
            pending.note(key)
    for row in session.dirty:
        keys = keys_of(row)
        if keys and session.is_modified(row):
            for key, _own in keys:
                pending.note(key)


def _do_orm_execute(state: ORMExecuteState) -> Any:
    """Bulk statements on mapped tables (``update(Notification).where(...)``, a conditional version UPDATE, an
    INSERT … RETURNING id) bypass the unit of work: note the records they touch."""
    if not (state.is_update or state.is_delete or state.is_insert) or state.bind_mapper is None:
        return None
    model = state.bind_mapper.class_
    if model not in OWN_TYPE and model not in PART_OF:
        return None
    pending = _pending(state.session)
    if state.is_insert:
        if model not in OWN_TYPE:
            log.warning("bulk INSERT into %s: sync relies on the audit record of its owner", model.__tablename__)
            return None
        if not state.statement.returning_column_descriptions:
            log.warning("INSERT into %s without RETURNING id: sync relies on its audit record", model.__tablename__)
            return None
        frozen = state.invoke_statement().freeze()
        for row in frozen().mappings():
            if row.get("id") is not None:
                pending.note((OWN_TYPE[model], int(row["id"])))
        return frozen()
    where = state.statement.whereclause
    if model in OWN_TYPE:
        ids = _pinned_ids(model, where)
        if ids is None:
            ids = list(state.session.scalars(select(model.id) if where is None else select(model.id).where(where)))
        touched = [((OWN_TYPE[model], int(entity_id)), True) for entity_id in ids]
    else:
        query = select(model) if where is None else select(model).where(where)
        touched = [key for row in state.session.scalars(query) for key in keys_of(row)]
    deleted = [key for key, own in touched if own and state.is_delete]
    for key, own in touched:
        pending.note(key, "delete" if own and state.is_delete else "upsert")
    if deleted:
        _expand(state.session.connection(), pending, deleted)
    return None


def _pinned_ids(model: type, where: ColumnElement[bool] | None) -> list[Any] | None:
    """The ids a WHERE clause pins (``id = :x AND …``), so a conditional UPDATE by id costs no extra query; None
    when it pins none. (If the other conditions match no row, the record is noted for nothing: harmless.)"""
    if where is None:
        return None
    conjunction = isinstance(where, BooleanClauseList) and where.operator is operators.and_
    for condition in (where.clauses if conjunction else [where]):
        if (isinstance(condition, BinaryExpression) and condition.operator is operators.eq
                and isinstance(condition.left, ColumnElement)
                and condition.left.shares_lineage(model.__table__.c.id) and isinstance(condition.right, BindParameter)
                and condition.right.effective_value is not None):
            return [condition.right.effective_value]
    return None


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint: the outer transaction writes the log at its own commit
    session.flush()
    pending: _Pending | None = session.info.pop(_PENDING, None)
    if pending is None or not pending.changes:
        return
    connection = session.connection()
    _expand(connection, pending, [key for key, kind in pending.changes.items() if kind != "delete"])
    write(connection, pending.changes)


def _after_commit(session: Session) -> None:
    leftover: _Pending | None = session.info.pop(_PENDING, None)
    if leftover is not None and leftover.changes:
        log.error("changes flushed after the sync log was written are not in it: %s", sorted(leftover.changes))


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # rolled back or closed: nothing of it was committed
        session.info.pop(_PENDING, None)


def has_unlogged_changes(session: Session) -> bool:
    """Whether this transaction has flushed changes of synced records that its commit has yet to log."""
    pending: _Pending | None = session.info.get(_PENDING)
    return bool(pending is not None and pending.changes)


def position() -> tuple[str, int] | None:
    """The log's epoch and last number as this transaction sees them: equal positions, equal synced records (what
    list totals are cached by); None before the first change."""
    row = db.session.execute(select(SyncState.epoch, SyncState.last_seq).where(SyncState.id == STATE_ID)).first()
    return None if row is None else (row.epoch, int(row.last_seq))


# What ``cached`` is told when its caller did not read the position along with its own statement.
UNREAD: Any = object()


def position_columns() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The log's epoch and last number as two columns another statement can carry (read in its snapshot, like
    ``position()``): a list page learns the position with its rows instead of in a round trip of its own."""
    state = SyncState.__table__
    return (select(state.c.epoch).where(state.c.id == STATE_ID).scalar_subquery().label("log_epoch"),
            select(state.c.last_seq).where(state.c.id == STATE_ID).scalar_subquery().label("log_last_seq"))


def position_of(epoch: str | None, last_seq: int | None) -> tuple[str, int] | None:
    """The position from the values of ``position_columns()``."""
    return None if epoch is None or last_seq is None else (epoch, int(last_seq))


class _PositionCache:
    """Values by (log position, key), least recently used first out."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


def cached(name: str, size: int, key: Any, compute: Callable[[], T], *, seen: Any = UNREAD) -> T:
    """``compute()`` (something read from synced records only: a list's total, the public recordings), reused
    while the log stands still: kept in the app's cache ``name`` (at most ``size`` values, one cache per app and
    process) by the position it was read at and ``key``. ``seen`` is the position if this transaction has just read
    it (``position_columns()``). This transaction's own unlogged writes, or a commit that lands while computing,
    bypass the cache."""
    db.session.flush()
    if has_unlogged_changes(db.session()):
        return compute()
    caches: dict[str, _PositionCache] = current_app.extensions.setdefault(_CACHES, {})
    cache = caches.get(name) or caches.setdefault(name, _PositionCache(size))
    before = position() if seen is UNREAD else seen
    value = cache.get((before, key))
    if value is None:
        value = compute()
        if position() == before:  # nothing committed in between: the value is exactly that state's
            cache.put((before, key), value)
    return value


# --- writing the log -----------------------------------------------------------------------------------------------

def _insert(connection: Connection) -> Any:
    return postgresql_insert if connection.dialect.name == "postgresql" else sqlite_insert


def take_numbers(connection: Connection, count: int) -> int:
    """Reserve ``count`` numbers; returns the last. The state row stays locked until this transaction ends."""
    state = SyncState.__table__
    bump = (update(state).where(state.c.id == STATE_ID).values(last_seq=state.c.last_seq + count)
            .returning(state.c.last_seq))
    last = connection.scalar(bump)
    if last is None:  # a database whose log was never started (or was emptied): start it under a new epoch
        connection.execute(_insert(connection)(state).values(id=STATE_ID, last_seq=0, epoch=new_epoch())
                           .on_conflict_do_nothing(index_elements=[state.c.id]))
        last = connection.scalar(bump)
    return int(last)


def new_epoch() -> str:
    return secrets.token_hex(16)


def write(connection: Connection, changes: dict[Key, str]) -> None:
    """Move each changed record to the end of the log, in one block of consecutive numbers."""
    ordered = sorted(changes.items())
    last = take_numbers(connection, len(ordered))
    first = last - len(ordered) + 1
    now = utcnow()
    table = SyncChange.__table__
    for start in range(0, len(ordered), _CHUNK):
        rows = [{"entity_type": entity_type, "entity_id": entity_id, "seq": first + start + offset,
                 "created_seq": first + start + offset, "kind": kind, "changed_at": now}
                for offset, ((entity_type, entity_id), kind) in enumerate(ordered[start:start + _CHUNK])]
        statement = _insert(connection)(table).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=[table.c.entity_type, table.c.entity_id],
            set_={"seq": statement.excluded.seq, "kind": statement.excluded.kind,
                  "changed_at": statement.excluded.changed_at})
        connection.execute(statement)


def init_app(_app: Flask) -> None:
    """Install the hooks (once per process: they apply to every Flask-SQLAlchemy session)."""
    session_class = db.session.session_factory.class_
    for name, hook in (("before_flush", _before_flush), ("after_flush", _after_flush),
                       ("do_orm_execute", _do_orm_execute), ("before_commit", _before_commit),
                       ("after_commit", _after_commit), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(session_class, name, hook):
            event.listen(session_class, name, hook)

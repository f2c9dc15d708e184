"""The read side of offline sync: what changed for one user since a cursor, re-checked against what they may see now.

A page lists records in the order of their latest change (the change log, backend.services.change_log). Each is sent
as it is now if the user may see it now, and as a tombstone otherwise: deleted, or no longer visible (a profile
withdrawn, a material restricted). Records created after the cursor that the user may not see are left out (the
phone cannot have them), so a first sync sends no tombstones at all. Materials whose embargo ended since the
cursor's day are sent too: time alone made them visible, without a change to log.

The cursor is opaque to clients: ``base64url("1.<epoch>.<seq>.<day>.<after>")``: the log's epoch, the last change
number delivered, the day embargoes were last compared with, and where a page of embargo ends stopped.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Callable

from sqlalchemy import ColumnElement, and_, case, exists, false, or_, select

from backend.errors import Gone, ValidationFailed
from backend.extensions import db
from backend.models import Interview, Material, Notification, Person, Project, SyncChange, SyncState, User
from backend.services import change_log, notifications, policy

DEFAULT_LIMIT = 100
MAX_LIMIT = 500
NO_EPOCH = "0"  # a log that has not started yet: only a cursor at 0 (a full sync) can name it
_CURSOR_RE = re.compile(r"1\.([0-9a-f]{1,32})\.([0-9]{1,18})\.([0-9]{1,7})\.([0-9]{1,18})")

# What a user may see of each synced type, as conditions on its table (the policy's, never restated here).
VISIBLE: dict[str, tuple[Any, Callable[[User], ColumnElement[bool]]]] = {
    "person": (Person, policy.visible_persons),
    "material": (Material, policy.visible_materials),
    "interview": (Interview, policy.visible_interviews),
    "notification": (Notification, notifications.mine),
    "project": (Project, policy.visible_projects),
}


@dataclass(frozen=True)
class Cursor:
    epoch: str
    seq: int
    day: date
    embargo_after: int = 0

    def encode(self) -> str:
        raw = f"1.{self.epoch}.{self.seq}.{self.day.toordinal()}.{self.embargo_after}"
        return base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def _invalid_cursor() -> ValidationFailed:
    return ValidationFailed("同步游标无效：请使用上次同步返回的 cursor，或不带 since 重新完整同步",
                            code="invalid_cursor", details={"fields": {"since": ["not a cursor from this server"]}})


def decode_cursor(text: str) -> Cursor:
    """The cursor a page handed out (422 invalid_cursor for anything else)."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True).decode("ascii")
        match = _CURSOR_RE.fullmatch(raw)
        if match is None:
            raise ValueError(raw)
        epoch, seq, day, after = match.groups()
        return Cursor(epoch, int(seq), date.fromordinal(int(day)), int(after))
    except (ValueError, UnicodeError, binascii.Error, OverflowError):
        raise _invalid_cursor() from None


@dataclass
class Change:
    """One record in a page: ``record`` is its current state, or None for a tombstone."""

    type: str
    id: int
    record: Any | None


@dataclass
class SyncPage:
    changes: list[Change]
    cursor: str
    has_more: bool


def _log_state() -> tuple[str, int]:
    row = db.session.execute(select(SyncState.epoch, SyncState.last_seq)
                             .where(SyncState.id == change_log.STATE_ID)).first()
    return (row.epoch, int(row.last_seq)) if row is not None else (NO_EPOCH, 0)


def _start(since: str | None, epoch: str, last_seq: int, today: date) -> Cursor:
    if since is None:
        return Cursor(epoch, 0, today)
    cursor = decode_cursor(since)
    if cursor.seq == 0:  # nothing delivered yet: a full sync, whatever log it came from
        return Cursor(epoch, 0, today)
    if cursor.epoch != epoch or cursor.seq > last_seq:
        raise Gone("同步游标已失效（服务器的变更记录已重新开始），请不带 since 重新完整同步",
                   code="full_sync_required", details={"since": since})
    return cursor


def _candidates(actor: User, cursor_seq: int) -> ColumnElement[bool]:
    """Log rows worth sending: records the user may see now, and records they may have had (created up to the
    cursor) that are gone or hidden now (tombstones). Another user's notification is never theirs to delete."""
    could_have_had = SyncChange.created_seq <= cursor_seq
    branches = []
    for entity_type, (model, visible) in VISIBLE.items():
        shown = exists().where(model.id == SyncChange.entity_id, visible(actor))
        if entity_type == "notification":
            hidden = and_(could_have_had, ~exists().where(model.id == SyncChange.entity_id))
        else:
            hidden = could_have_had
        branches.append((SyncChange.entity_type == entity_type, or_(shown, hidden)))
    # One CASE, not an OR of "type = …" terms: the planner then walks the seq index from the cursor and stops
    # after a page, instead of reading every row of each type and sorting them.
    return case(*branches, else_=false())


def _current(actor: User, keys: list[tuple[str, int]]) -> dict[tuple[str, int], Any]:
    """The records among ``keys`` that ``actor`` may see now."""
    found: dict[tuple[str, int], Any] = {}
    for entity_type, (model, visible) in VISIBLE.items():
        ids = [entity_id for kind, entity_id in keys if kind == entity_type]
        if ids:
            for record in db.session.scalars(select(model).where(model.id.in_(ids), visible(actor))):
                found[(entity_type, record.id)] = record
    return found


def _embargoes_ended(actor: User, since_day: date, today: date, after: int, limit: int) -> list[Material]:
    return list(db.session.scalars(
        select(Material).where(Material.embargo_until > since_day, Material.embargo_until <= today,
                               Material.id > after, policy.visible_materials(actor))
        .order_by(Material.id).limit(limit)))


def changes_since(actor: User, since: str | None, *, limit: int = DEFAULT_LIMIT) -> SyncPage:
    """One page of what changed for ``actor`` since the cursor ``since`` (None: everything they may see)."""
    epoch, last_seq = _log_state()
    today = policy.current_date()
    cursor = _start(since, epoch, last_seq, today)
    changes: list[Change] = []

    if cursor.seq > 0 and cursor.day < today:
        ended = _embargoes_ended(actor, cursor.day, today, cursor.embargo_after, limit + 1)
        if len(ended) > limit:
            changes = [Change("material", material.id, material) for material in ended[:limit]]
            return SyncPage(changes, Cursor(epoch, cursor.seq, cursor.day, ended[limit - 1].id).encode(), True)
        changes = [Change("material", material.id, material) for material in ended]

    room = limit - len(changes)
    rows = db.session.execute(
        select(SyncChange.entity_type, SyncChange.entity_id, SyncChange.seq)
        .where(SyncChange.seq > cursor.seq, _candidates(actor, cursor.seq))
        .order_by(SyncChange.seq).limit(room + 1)).all()
    has_more = len(rows) > room
    rows = rows[:room]
    keys = [(row.entity_type, int(row.entity_id)) for row in rows]
    current = _current(actor, keys)
    sent = {(change.type, change.id) for change in changes}
    for key in keys:
        if key not in sent:
            sent.add(key)
            changes.append(Change(key[0], key[1], current.get(key)))

    if has_more:
        seq = rows[-1].seq if rows else cursor.seq
    else:
        # Every change numbered up to last_seq had committed when it was read (numbers are handed out in commit
        # order), and none of them is left to send: the next sync may start after it.
        seq = max([last_seq, cursor.seq, *(row.seq for row in rows)])
    return SyncPage(changes, Cursor(epoch, int(seq), today).encode(), has_more)

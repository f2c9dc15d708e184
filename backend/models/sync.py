"""The change log that offline sync reads: one row per synced record, moved to the end whenever the record changes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow

# The record types a phone syncs (the ``type`` of each change in GET /api/v1/sync).
SYNCED_TYPES = ("person", "material", "interview", "notification", "project")
CHANGE_KINDS = ("upsert", "delete")


class SyncChange(db.Model):
    """The latest change of one record. ``seq`` is handed out in commit order (backend.services.change_log), so a
    reader that has seen ``seq`` N has seen every change committed up to N; a record that changes again gets a new,
    higher ``seq`` (the log keeps one row per record, its deletion included, and is never trimmed)."""

    __tablename__ = "sync_changes"

    entity_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    entity_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    # The seq of the record's first change: a phone whose cursor is older than this never had the record.
    created_seq: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(8))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SyncState(db.Model):
    """One row: the last ``seq`` handed out (its row lock orders writers on PostgreSQL) and the log's epoch, a random
    name that changes when the log starts again (a new database), so older cursors ask for a full sync."""

    __tablename__ = "sync_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    epoch: Mapped[str] = mapped_column(String(32))

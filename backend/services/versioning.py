"""Optimistic concurrency for versioned records (profiles, materials, interviews, transcripts): the If-Match check,
and the version bump plus audit entry that every real edit makes."""

from __future__ import annotations

from typing import Any

from backend.errors import PreconditionFailed
from backend.models import User
from backend.models.types import utcnow
from backend.services import audit


def check_version(record: Any, expected_version: int | None) -> None:
    """412 when the client edits an older version than the stored one (None: the client sent no If-Match)."""
    if expected_version is not None and expected_version != record.version:
        raise PreconditionFailed(details={"current_version": record.version, "your_version": expected_version})


def record_edit(entity_type: str, record: Any, actor: User, before: dict[str, Any], after: dict[str, Any]
                ) -> dict[str, Any]:
    """If fields changed: bump the version, touch updated_at and audit the before/after values (in the caller's
    transaction). Returns the changes; an edit that changes nothing keeps the version."""
    changes = audit.diff(before, after)
    if changes:
        record.version += 1
        record.updated_at = utcnow()
        audit.record(entity_type, record.id, "update", actor, changes=changes)
    return changes

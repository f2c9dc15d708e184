"""Optimistic concurrency for versioned records (profiles, materials, interviews): If-Match is required where others
may edit the record (428 without it), a stale version is 412, and every real edit moves the version by a
conditional UPDATE (``WHERE id = :id AND version = :expected``), so of two edits made from the same version exactly
one is saved. Transcripts follow the same rule in the review services."""

from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.orm.attributes import set_committed_value

from backend.errors import PreconditionFailed, PreconditionRequired
from backend.extensions import db
from backend.models import AuditEvent, User
from backend.models.types import utcnow
from backend.services import audit


def stale(record: Any, expected_version: int, current_version: int | None) -> PreconditionFailed:
    return PreconditionFailed(details={"current_version": current_version, "your_version": expected_version})


def check_version(record: Any, expected_version: int | None, *, required: bool = True) -> int:
    """The version the caller edits: 428 when it sent none and must, 412 when it is not the stored one.

    Without If-Match (only where ``required`` is false) the edit is made against the version just read.
    """
    if expected_version is None:
        if required:
            raise PreconditionRequired(details={"current_version": record.version})
        return int(record.version)
    if expected_version != record.version:
        raise stale(record, expected_version, record.version)
    return expected_version


def only_edited_by(entity_type: str, entity_id: Any, actor: User) -> bool:
    """Whether every recorded change of the record is ``actor``'s (nobody else has edited it yet)."""
    others = exists().where(AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id),
                            AuditEvent.actor_id != actor.id)
    return not db.session.scalar(select(others))


def advance(record: Any, expected_version: int) -> None:
    """Move ``record`` to the next version if it is still at ``expected_version`` (else 412, with the version that
    won). Two transactions racing here are serialised by the row: the second finds the version moved."""
    model = type(record)
    now = utcnow()
    result = db.session.execute(
        update(model).where(model.id == record.id, model.version == expected_version)
        .values(version=expected_version + 1, updated_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        current = db.session.scalar(select(model.version).where(model.id == record.id))
        raise stale(record, expected_version, current)
    set_committed_value(record, "version", expected_version + 1)
    set_committed_value(record, "updated_at", now)


def record_edit(entity_type: str, record: Any, actor: User, before: dict[str, Any], after: dict[str, Any],
                expected_version: int, *, comment: str | None = None) -> dict[str, Any]:
    """If fields changed: advance the version from ``expected_version`` and audit the before/after values (in the
    caller's unit of work). Returns the changes; an edit that changes nothing keeps the version."""
    changes = audit.diff(before, after)
    if changes:
        advance(record, expected_version)
        audit.record(entity_type, record.id, "update", actor, changes=changes, comment=comment)
    return changes

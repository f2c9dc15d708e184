"""Recording and reading the audit trail; every service that changes a record calls ``record`` in its transaction."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from backend.extensions import db
from backend.models import AuditEvent, User
from backend.services.pagination import Page, paginate


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Fields whose value changed, as ``{field: {"before": old, "after": new}}``."""
    return {key: {"before": _plain(before.get(key)), "after": _plain(after.get(key))}
            for key in after if before.get(key) != after.get(key)}


def record(entity_type: str, entity_id: Any, action: str, actor: User | None, *,
           changes: dict[str, Any] | None = None, comment: str | None = None) -> AuditEvent:
    event = AuditEvent(entity_type=entity_type, entity_id=str(entity_id), action=action,
                       actor_id=actor.id if actor else None, changes=changes or {}, comment=comment)
    db.session.add(event)
    return event


def list_events(*, entity_type: str | None, entity_id: str | None, actor_id: int | None,
                page: int, per_page: int) -> Page[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if entity_type:
        query = query.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEvent.entity_id == str(entity_id))
    if actor_id:
        query = query.where(AuditEvent.actor_id == actor_id)
    return paginate(query, page, per_page)


def actor_names(events: list[AuditEvent]) -> dict[int, str]:
    """The display names (or usernames) of the events' actors, looked up once for a page of events."""
    ids = {event.actor_id for event in events if event.actor_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(User.id, User.display_name, User.username).where(User.id.in_(ids)))
    return {row.id: row.display_name or row.username for row in rows}

"""Notifications: telling a collector or editor that their work came back with an archivist's comment."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select, update

from backend.errors import NotFound
from backend.extensions import db
from backend.models import Notification, User
from backend.models.types import utcnow
from backend.services.pagination import Page, paginate


def notify(user_id: int, kind: str, entity_type: str, entity_id: object, message: str, *,
           comment: str | None = None, actor: User | None = None) -> Notification:
    """Add a notification in the caller's transaction (the caller commits)."""
    notification = Notification(user_id=user_id, kind=kind, entity_type=entity_type, entity_id=str(entity_id),
                                message=message, comment=comment, actor_id=actor.id if actor else None)
    db.session.add(notification)
    return notification


def mine(user: User) -> ColumnElement[bool]:
    """Condition: the notification is ``user``'s (nobody sees another's)."""
    return Notification.user_id == user.id


def list_for(user: User, *, unread_only: bool, page: int, per_page: int, entity_type: str | None = None,
             entity_id: str | None = None) -> Page[Notification]:
    query = select(Notification).where(mine(user))
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if entity_type:
        query = query.where(Notification.entity_type == entity_type)
    if entity_id:
        query = query.where(Notification.entity_id == entity_id)
    return paginate(query.order_by(Notification.id.desc()), page, per_page)


def unread_count(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None))) or 0


def mark_read(user: User, notification_id: int) -> Notification:
    notification = db.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound("通知不存在", code="notification_not_found")
    if notification.read_at is None:
        notification.read_at = utcnow()
        db.session.flush()
    return notification


def mark_all_read(user: User) -> int:
    result = db.session.execute(update(Notification).where(
        Notification.user_id == user.id, Notification.read_at.is_(None)).values(read_at=utcnow()))
    db.session.flush()
    return result.rowcount

"""The signed-in user's notifications (e.g. a profile or transcript returned with a comment): list, mark read."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api.base import login_required
from backend.extensions import db
from backend.models import Notification, User
from backend.schemas.consents import NotificationArgsSchema, NotificationPageSchema, NotificationSchema, ReadAllSchema
from backend.services import notifications as notification_service

blp = Blueprint("notifications", __name__, url_prefix="/api/v1/me/notifications",
                description="我的通知 / My notifications")
_schema = NotificationSchema()


def serialise(notification: Notification) -> dict[str, Any]:
    data = _schema.dump(notification)
    actor = db.session.get(User, notification.actor_id) if notification.actor_id else None
    data["actor_name"] = (actor.display_name or actor.username) if actor else None
    return data


@blp.route("", methods=["GET"])
@blp.arguments(NotificationArgsSchema, location="query")
@blp.response(200, NotificationPageSchema)
@login_required()
def list_notifications(args: dict[str, Any]) -> Response:
    """Your notifications, newest first (``?unread=true``: unread only; ``entity_type`` and ``entity_id``: about
    one record, e.g. a profile); ``unread`` counts all unread ones."""
    page = notification_service.list_for(current_user, unread_only=args["unread"], page=args["page"],
                                         per_page=args["per_page"], entity_type=args.get("entity_type"),
                                         entity_id=args.get("entity_id"))
    return jsonify({"items": [serialise(n) for n in page.items], "total": page.total, "page": page.page,
                    "per_page": page.per_page, "unread": notification_service.unread_count(current_user)})


@blp.route("/<int:notification_id>/read", methods=["POST"])
@blp.response(200, NotificationSchema)
@blp.alt_response(404, description="No such notification of yours")
@login_required()
def mark_read(notification_id: int) -> Response:
    """Mark one of your notifications read (someone else's answers 404)."""
    return jsonify(serialise(notification_service.mark_read(current_user, notification_id)))


@blp.route("/read-all", methods=["POST"])
@blp.response(200, ReadAllSchema)
@login_required()
def mark_all_read() -> Any:
    """Mark all your notifications read."""
    marked = notification_service.mark_all_read(current_user)
    return {"marked": marked, "unread": notification_service.unread_count(current_user)}

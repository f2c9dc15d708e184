"""Audit trail endpoint (archivists and admins)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_smorest import Blueprint

from backend.services.policy import Permission
from backend.api.base import login_required
from backend.schemas.audit import AuditArgsSchema, AuditEventSchema, AuditPageSchema
from backend.services import audit as audit_service

blp = Blueprint("audit", __name__, url_prefix="/api/v1/audit", description="审计记录 / Audit trail")
_event_schema = AuditEventSchema()


@blp.route("", methods=["GET"])
@blp.arguments(AuditArgsSchema, location="query")
@blp.response(200, AuditPageSchema)
@login_required(Permission.AUDIT_READ)
def list_events(args: dict[str, Any]) -> Any:
    """Who did what, when: filter by entity_type and entity_id (e.g. person, 12), or actor_id; newest first."""
    page = audit_service.list_events(entity_type=args.get("entity_type"), entity_id=args.get("entity_id"),
                                     actor_id=args.get("actor_id"), page=args["page"], per_page=args["per_page"])
    names = audit_service.actor_names(page.items)
    items = [{**_event_schema.dump(event), "actor_name": names.get(event.actor_id)} for event in page.items]
    return jsonify({"items": items, "total": page.total, "page": page.page, "per_page": page.per_page})

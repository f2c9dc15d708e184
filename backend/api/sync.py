"""Offline sync for field apps: one endpoint that pages through what changed for the signed-in user since a cursor."""

from __future__ import annotations

from typing import Any, Callable

from flask import Response, jsonify
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api import interviews, materials, notifications, persons, projects
from backend.api.base import etag_for, login_required
from backend.schemas.sync import SyncArgsSchema, SyncPageSchema
from backend.services import sync as sync_service

blp = Blueprint("sync", __name__, url_prefix="/api/v1/sync", description="离线同步 / Offline sync for field apps")

# The serialisers of the records' own GETs, so a synced record equals what GET answers (visibility and masking).
SERIALISERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "person": persons.serialise,
    "material": materials.serialise,
    "interview": interviews.serialise,
    "notification": notifications.serialise,
    "project": projects.serialise,
}


def _change(change: sync_service.Change) -> dict[str, Any]:
    if change.record is None:
        return {"type": change.type, "id": change.id, "op": "delete"}
    answer: dict[str, Any] = {"type": change.type, "id": change.id, "op": "upsert"}
    version = getattr(change.record, "version", None)
    if version is not None:
        answer["version"] = version
        answer["etag"] = etag_for(version)
    answer["data"] = SERIALISERS[change.type](change.record)
    return answer


@blp.route("", methods=["GET"])
@blp.arguments(SyncArgsSchema, location="query")
@blp.response(200, SyncPageSchema)
@blp.alt_response(410, description="full_sync_required: the cursor names a change log that is gone; sync again "
                                   "without `since` and replace what you stored")
@blp.alt_response(422, description="invalid_cursor: `since` is not a cursor this server handed out")
@login_required()
def sync(args: dict[str, Any]) -> Response:
    """What changed for you since `since`: your drafts (with the archivist's return comment), the profiles,
    interviews and materials you may see, your notifications, and tombstones (`op: delete`) for records deleted or
    no longer visible to you. Repeat with the returned `cursor` while `has_more` is true."""
    page = sync_service.changes_since(current_user, args.get("since"), limit=args["limit"])
    return jsonify({"changes": [_change(change) for change in page.changes], "cursor": page.cursor,
                    "has_more": page.has_more})

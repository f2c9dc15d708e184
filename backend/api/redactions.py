"""Redaction endpoints: editors and archivists mark time ranges of a transcript as kept from the public."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.services.policy import Permission
from backend.api.base import login_required
from backend.schemas.public import (RedactionCreatedSchema, RedactionInputSchema, RedactionListArgsSchema,
                                    RedactionPageSchema)
from backend.services import redactions as redaction_service

blp = Blueprint("redactions", __name__, url_prefix="/api/v1/transcripts",
                description="转写稿限制片段 / Redactions: ranges left out of the public transcript and silenced in "
                            "the public audio")
_created_schema = RedactionCreatedSchema()


@blp.route("/<int:transcript_id>/redactions", methods=["GET"])
@blp.arguments(RedactionListArgsSchema, location="query")
@blp.response(200, RedactionPageSchema)
@login_required(Permission.TRANSCRIPT_REDACT)
def list_redactions(args: dict[str, Any], transcript_id: int) -> Any:
    """The redacted ranges of a transcript, in time order (editors, archivists, admins)."""
    return redaction_service.list_redactions(current_user, transcript_id, **args)


@blp.route("/<int:transcript_id>/redactions", methods=["POST"])
@blp.arguments(RedactionInputSchema)
@blp.response(201, RedactionCreatedSchema, description="Recorded; job_id re-renders the public proxy")
@blp.alt_response(422, description="Not 0 ≤ start < end ≤ the recording's duration, or an unknown reason")
@login_required(Permission.TRANSCRIPT_REDACT)
def add_redaction(data: dict[str, Any], transcript_id: int) -> Response:
    """Keep ``[start, end)`` (seconds) from the public: its segments leave the public transcript, and the public
    audio/video is re-rendered with the range silenced. The archive's original and proxy are untouched."""
    redaction, job = redaction_service.add_redaction(current_user, transcript_id, data)
    response = jsonify({**_created_schema.dump(redaction), "job_id": job.id if job else None})
    response.status_code = 201
    return response


@blp.route("/<int:transcript_id>/redactions/<int:redaction_id>", methods=["DELETE"])
@blp.response(204)
@login_required(Permission.TRANSCRIPT_REDACT)
def delete_redaction(transcript_id: int, redaction_id: int) -> None:
    """Lift a redaction; the public proxy is re-rendered (or dropped when none is left)."""
    redaction_service.delete_redaction(current_user, transcript_id, redaction_id)

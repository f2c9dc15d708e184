"""Transcript review endpoints: the queue, claims, segment edits (If-Match), speakers, revisions, diffs, reverts and
the review / approve / return workflow."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request
from flask_jwt_extended import current_user
from flask_smorest import Blueprint
from marshmallow import ValidationError

from backend.services.policy import Permission
from backend.api.base import expected_version, login_required, versioned_json
from backend.errors import PreconditionRequired, ValidationFailed
from backend.models import Transcript
from backend.schemas.transcript_review import (
    SPEAKERS_FIELD,
    BulkSaveSchema,
    ClaimSchema,
    DiffArgsSchema,
    DiffSchema,
    MergeSchema,
    QueueArgsSchema,
    QueueItemSchema,
    QueuePageSchema,
    RevertSchema,
    RevisionArgsSchema,
    RevisionPageSchema,
    RevisionSchema,
    RevisionSummarySchema,
    SegmentPatchSchema,
    SplitSchema,
    TranscriptTransitionSchema,
)
from backend.schemas.transcripts import TranscriptSchema, UserRefSchema
from backend.services import transcript_edits as edit_service
from backend.services import transcript_lineage as lineage_service
from backend.services import transcript_locks as lock_service
from backend.services import transcript_workflow as workflow_service

blp = Blueprint("transcript_review", __name__, url_prefix="/api/v1",
                description="转写稿校对与审定 / Transcript review: queue, claims, edits, lineage, workflow")
IF_MATCH = {"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"},
            "description": "The transcript's ETag (version) from GET; missing → 428 if_match_required, "
                           "stale → 412 version_conflict"}
_transcript_schema = TranscriptSchema()
_claim_schema = ClaimSchema()
_queue_item_schema = QueueItemSchema()
_user_ref_schema = UserRefSchema()
_revision_schema = RevisionSchema()
_revision_summary_schema = RevisionSummarySchema()


def required_version() -> int:
    """The version named by If-Match, which every save and workflow action must send (no header, or ``*`` → 428)."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() in ("", "*"):
        raise PreconditionRequired("保存转写稿须在 If-Match 中附上读取时的版本（ETag）",
                                   details={"header": "If-Match"})
    version = expected_version()
    assert version is not None
    return version


def _answer(transcript: Transcript, status: int = 200) -> Response:
    return versioned_json(_transcript_schema.dump(lock_service.with_lock(transcript)), transcript.version, status)


def _save_doc(view: Any) -> Any:
    view = blp.response(200, TranscriptSchema,
                        description="The transcript after the save; ETag is the new version")(view)
    view = blp.alt_response(409, description="Approved transcripts are read-only (transcript_approved)")(view)
    view = blp.alt_response(412, description="If-Match missing (if_match_required) or stale (version_conflict)")(view)
    view = blp.alt_response(423, description="Someone else holds the claim (transcript_locked)")(view)
    return blp.doc(parameters=[IF_MATCH])(view)


# --- the queue -----------------------------------------------------------------------------------------------------

@blp.route("/transcripts", methods=["GET"])
@blp.arguments(QueueArgsSchema, location="query")
@blp.response(200, QueuePageSchema)
@login_required(Permission.TRANSCRIPT_EDIT)
def review_queue(args: dict[str, Any]) -> Response:
    """The review queue: most-flagged first, then oldest; filter by status, flagged, person, collector, holder."""
    page = workflow_service.review_queue(current_user, **args)
    items = [{**_queue_item_schema.dump(transcript), "material_title": title,
              "collector": _user_ref_schema.dump(collector) if collector else None}
             for transcript, title, collector in page.items]
    return jsonify({"items": items, "total": page.total, "page": page.page, "per_page": page.per_page})


# --- claims --------------------------------------------------------------------------------------------------------

@blp.route("/transcripts/<int:transcript_id>/claim", methods=["POST"])
@blp.response(200, ClaimSchema, description="Claimed (or renewed) until lock.expires_at")
@blp.alt_response(423, description="Someone else holds the claim (transcript_locked: holder, expires_at)")
@blp.alt_response(409, description="Approved transcripts cannot be claimed")
@login_required(Permission.TRANSCRIPT_EDIT)
def claim(transcript_id: int) -> Response:
    """Claim a transcript for editing (LIUFANG_TRANSCRIPT_LOCK_MINUTES); the holder claims again to renew."""
    transcript = lock_service.claim(current_user, transcript_id)
    return versioned_json(_claim_schema.dump(lock_service.with_lock(transcript)), transcript.version)


@blp.route("/transcripts/<int:transcript_id>/claim", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(423, description="Held by someone else (only an admin may break it)")
@login_required(Permission.TRANSCRIPT_EDIT)
def release(transcript_id: int) -> None:
    """Release your claim; an admin may break anyone's."""
    lock_service.release(current_user, transcript_id)


# --- edits -----------------------------------------------------------------------------------------------------------

@blp.route("/transcripts/<int:transcript_id>/segments/<int:index>", methods=["PATCH"])
@blp.arguments(SegmentPatchSchema)
@_save_doc
@login_required(Permission.TRANSCRIPT_EDIT)
def edit_segment(data: dict[str, Any], transcript_id: int, index: int) -> Response:
    """Edit one segment's text, speaker, start, end (or clear its flag); a new revision records it."""
    transcript = edit_service.edit_segment(current_user, transcript_id, index, data,
                                           expected_version=required_version())
    return _answer(transcript)


@blp.route("/transcripts/<int:transcript_id>/segments/<int:index>/split", methods=["POST"])
@blp.arguments(SplitSchema)
@_save_doc
@login_required(Permission.TRANSCRIPT_EDIT)
def split_segment(data: dict[str, Any], transcript_id: int, index: int) -> Response:
    """Split a segment at `at` seconds into two; later indexes move up by one."""
    transcript = edit_service.split_segment(current_user, transcript_id, index, **data,
                                            expected_version=required_version())
    return _answer(transcript)


@blp.route("/transcripts/<int:transcript_id>/segments/merge", methods=["POST"])
@blp.arguments(MergeSchema)
@_save_doc
@login_required(Permission.TRANSCRIPT_EDIT)
def merge_segments(data: dict[str, Any], transcript_id: int) -> Response:
    """Merge adjacent segments of one speaker; later indexes move down."""
    transcript = edit_service.merge_segments(current_user, transcript_id, data["indexes"],
                                             expected_version=required_version())
    return _answer(transcript)


@blp.route("/transcripts/<int:transcript_id>/segments", methods=["PUT"])
@blp.arguments(BulkSaveSchema)
@_save_doc
@login_required(Permission.TRANSCRIPT_EDIT)
def bulk_save(data: dict[str, Any], transcript_id: int) -> Response:
    """Save many segments at once (each names its index and the fields it changes) as one revision."""
    transcript = edit_service.bulk_save(current_user, transcript_id, data["segments"],
                                        expected_version=required_version())
    return _answer(transcript)


@blp.route("/transcripts/<int:transcript_id>/speakers", methods=["PUT"])
@_save_doc
@blp.doc(requestBody={"required": True, "content": {"application/json": {"schema": {
    "type": "object", "example": {"SPEAKER_1": {"person_id": 3}, "SPEAKER_2": {"name": "采访人 王芳"}},
    "additionalProperties": {"type": "object", "properties": {"person_id": {"type": "integer"},
                                                              "name": {"type": "string", "maxLength": 128}}}}}}})
@login_required(Permission.TRANSCRIPT_EDIT)
def set_speakers(transcript_id: int) -> Response:
    """Map speaker labels to persons (existing, visible) or free names; replaces the whole mapping."""
    body = request.get_json()
    if not isinstance(body, dict):
        raise ValidationFailed("请求体须为 {标签: {person_id 或 name}} 对象", code="invalid_speakers",
                               details={"fields": {"_schema": ["须为 JSON 对象"]}})
    try:
        mapping = SPEAKERS_FIELD.deserialize(body)
    except ValidationError as exc:
        raise ValidationFailed("说话人对应关系无效", code="invalid_speakers",
                               details={"fields": exc.messages}) from None
    transcript = edit_service.set_speakers(current_user, transcript_id, mapping,
                                           expected_version=required_version())
    return _answer(transcript)


@blp.route("/transcripts/<int:transcript_id>/revert", methods=["POST"])
@blp.arguments(RevertSchema)
@_save_doc
@login_required(Permission.TRANSCRIPT_EDIT)
def revert(data: dict[str, Any], transcript_id: int) -> Response:
    """Restore exactly the segments of an earlier revision, as a new revision."""
    transcript = edit_service.revert(current_user, transcript_id, data["revision"],
                                     expected_version=required_version())
    return _answer(transcript)


# --- lineage ---------------------------------------------------------------------------------------------------------

@blp.route("/transcripts/<int:transcript_id>/revisions", methods=["GET"])
@blp.arguments(RevisionArgsSchema, location="query")
@blp.response(200, RevisionPageSchema)
@login_required()
def list_revisions(args: dict[str, Any], transcript_id: int) -> Response:
    """Every saved revision, newest first (revision 1 is the machine output)."""
    page = lineage_service.list_revisions(current_user, transcript_id, **args)
    return jsonify({"items": _revision_summary_schema.dump(page.items, many=True), "total": page.total,
                    "page": page.page, "per_page": page.per_page})


@blp.route("/transcripts/<int:transcript_id>/revisions/<int:number>", methods=["GET"])
@blp.response(200, RevisionSchema)
@login_required()
def get_revision(transcript_id: int, number: int) -> Any:
    """One revision with the segments exactly as they were."""
    return lineage_service.get_revision(current_user, transcript_id, number)


@blp.route("/transcripts/<int:transcript_id>/diff", methods=["GET"])
@blp.arguments(DiffArgsSchema, location="query")
@blp.response(200, DiffSchema)
@login_required()
def diff(args: dict[str, Any], transcript_id: int) -> Response:
    """Added, removed and changed segments between two revisions, with character-level text changes."""
    return jsonify(lineage_service.diff(current_user, transcript_id, args.get("from_"), args.get("to")))


# --- workflow --------------------------------------------------------------------------------------------------------

def _transition_view(action: str, doc: str, if_match: dict[str, Any], permission: Permission) -> None:
    @login_required(permission)
    def view(body: dict[str, Any] | None, transcript_id: int) -> Response:
        version = required_version() if if_match["required"] else expected_version()
        transcript = workflow_service.transition(current_user, transcript_id, action,
                                                 comment=(body or {}).get("comment"), expected_version=version)
        return _answer(transcript)

    view.__name__ = f"{action}_transcript"
    view.__doc__ = doc
    blp.route(f"/transcripts/<int:transcript_id>/{action}", methods=["POST"])(
        blp.arguments(TranscriptTransitionSchema(), required=False)(
            blp.response(200, TranscriptSchema)(
                blp.alt_response(409, description="Not allowed from the current status (invalid_transition)")(
                    blp.doc(parameters=[if_match])(view)))))


_transition_view("review", "Mark an in-review transcript reviewed (editor); ends the claim.", IF_MATCH, Permission.TRANSCRIPT_EDIT)
_transition_view("approve", "Approve a reviewed transcript (archivist); it becomes read-only.", IF_MATCH,
                 Permission.TRANSCRIPT_APPROVE)
_transition_view("return", "Return a reviewed or approved transcript to review with a comment (archivist); the "
                 "editor who marked it reviewed is notified.", IF_MATCH, Permission.TRANSCRIPT_APPROVE)

"""Transcript endpoints: request a transcription, list a material's transcripts, read one, export it."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api.base import login_required, versioned_json
from backend.schemas.materials import JobSchema
from backend.schemas.transcripts import (
    ExportArgsSchema,
    TranscribeRequestSchema,
    TranscriptSchema,
    TranscriptSummarySchema,
)
from backend.services import transcript_locks as lock_service
from backend.services import transcripts as transcript_service
from media.storage.base import content_disposition

blp = Blueprint("transcripts", __name__, url_prefix="/api/v1", description="转写稿 / Transcripts")
_job_schema = JobSchema()
_transcript_schema = TranscriptSchema()


@blp.route("/materials/<int:material_id>/transcripts", methods=["POST"])
@blp.arguments(TranscribeRequestSchema(), required=False)
@blp.response(202, JobSchema, description="Queued: follow the job at /api/v1/jobs/{id}")
@blp.alt_response(409, description="The material is not processed yet")
@login_required()
def request_transcription(body: dict[str, Any] | None, material_id: int) -> Response:
    """Transcribe an audio/video material (optional engine, model, language, prompt)."""
    job = transcript_service.request_transcription(current_user, material_id, body or {})
    response = jsonify(_job_schema.dump(job))
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return response


@blp.route("/materials/<int:material_id>/transcripts", methods=["GET"])
@blp.response(200, TranscriptSummarySchema(many=True))
@login_required()
def list_transcripts(material_id: int) -> Any:
    """A material's transcripts, newest first."""
    return transcript_service.list_for_material(current_user, material_id)


@blp.route("/transcripts/<int:transcript_id>", methods=["GET"])
@blp.response(200, TranscriptSchema)
@login_required()
def get_transcript(transcript_id: int) -> Response:
    """A transcript with its segments; the version is the ETag."""
    transcript = lock_service.with_lock(transcript_service.get_transcript(current_user, transcript_id))
    data = _transcript_schema.dump(transcript)
    data["speakers"] = transcript_service.speakers_for(current_user, transcript)
    return versioned_json(data, transcript.version)


@blp.route("/transcripts/<int:transcript_id>/export", methods=["GET"])
@blp.arguments(ExportArgsSchema, location="query")
@blp.response(200, description="SRT, WebVTT, plain text, JSON or Word (DOCX) with the interview's details on top")
@login_required()
def export_transcript(args: dict[str, Any], transcript_id: int) -> Response:
    """Download the transcript as srt, vtt, txt, json or docx."""
    body, content_type, filename = transcript_service.export(current_user, transcript_id, args["format"])
    return Response(body, content_type=content_type,
                    headers={"Content-Disposition": content_disposition(filename, "attachment")})

"""Endpoints of a material's text: read it (pages, lines, boxes, confidence), correct it (If-Match, kept as a
revision), its revisions, and reading it again by OCR."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api.base import expected_version, if_match_doc, login_required, versioned_json
from backend.models import Material
from backend.schemas.material_text import (MaterialTextSchema, OcrRequestSchema, TextRevisionSchema,
                                           TextSaveSchema)
from backend.schemas.materials import JobSchema
from backend.services import material_text as text_service
from backend.services import policy

blp = Blueprint("material_text", __name__, url_prefix="/api/v1",
                description="资料文字（OCR、PDF 文字层、人工校对） / Material text")
_text_schema = MaterialTextSchema()
_job_schema = JobSchema()


def _answer(material: Material) -> Response:
    revision = text_service.current_revision(material)
    pages = text_service.pages_of(material)
    data = {"material_id": material.id, "revision": material.text_revision, "text": material.text_content,
            "source": revision.source if revision else None, "engine": revision.engine if revision else None,
            "updated_at": revision.created_at if revision else None,
            "updated_by": revision.created_by if revision else None,
            "can_edit": policy.can_edit_material_text(current_user, material),
            "pages": [{"number": p.number, "width": p.width, "height": p.height, "source": p.source,
                       "engine": p.engine, "text": p.text, "lines": p.lines} for p in pages]}
    return versioned_json(_text_schema.dump(data), material.text_revision)


@blp.route("/materials/<int:material_id>/text", methods=["GET"])
@blp.response(200, MaterialTextSchema)
@login_required()
def get_text(material_id: int) -> Response:
    """The material's text: per page its lines with boxes and confidence, the full text, the revision (ETag)."""
    return _answer(text_service.visible_text(current_user, material_id))


@blp.route("/materials/<int:material_id>/text", methods=["PUT"])
@blp.arguments(TextSaveSchema)
@blp.response(200, MaterialTextSchema)
@if_match_doc(blp)
@login_required()
def save_text(data: dict[str, Any], material_id: int) -> Response:
    """Save a correction of the whole text (every page and line), as a new revision; If-Match: the ETag read."""
    material = text_service.save_text(current_user, material_id, data["pages"], expected_version=expected_version(),
                                      comment=data.get("comment"))
    return _answer(material)


@blp.route("/materials/<int:material_id>/text/revisions", methods=["GET"])
@blp.response(200, TextRevisionSchema(many=True))
@login_required()
def text_revisions(material_id: int) -> Any:
    """Every revision of the text, newest first: OCR runs, text-layer readings and corrections (who, when, from
    which revision)."""
    return text_service.revisions(current_user, material_id)


@blp.route("/materials/<int:material_id>/text/ocr", methods=["POST"])
@blp.arguments(OcrRequestSchema(), required=False)
@blp.response(202, JobSchema, description="Queued: follow the job at /api/v1/jobs/{id}")
@blp.alt_response(409, description="Not a photo or PDF, or not processed yet")
@login_required()
def request_ocr(body: dict[str, Any] | None, material_id: int) -> Response:
    """Read the text again (optionally with another engine): a new revision on top of the current one."""
    job = text_service.request_ocr(current_user, material_id, (body or {}).get("engine"))
    response = jsonify(_job_schema.dump(job))
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return response

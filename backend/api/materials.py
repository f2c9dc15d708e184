"""Material endpoints: list and find by hash, small uploads as one form POST, metadata edits, person links,
content streaming with HTTP Range (or a presigned S3 URL), and fixity history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, current_app, request
from flask_jwt_extended import current_user
from flask_smorest import Blueprint
from werkzeug.datastructures import FileStorage

from backend import transaction
from backend.services.policy import Permission
from backend.api.base import (accepts_body, expected_version, if_match_doc, login_required, skip_idempotency,
                              versioned_json)
from backend.api.streaming import send_stored
from backend.errors import PayloadTooLarge, ValidationFailed
from backend.models import Material
from backend.schemas.materials import (
    ContentArgsSchema,
    FixityEventSchema,
    LinkedPersonSchema,
    LinkSchema,
    MaterialCreatedSchema,
    MaterialFormSchema,
    MaterialListArgsSchema,
    MaterialPageSchema,
    MaterialSchema,
    MaterialUpdateSchema,
    UnlinkArgsSchema,
)
from backend.services import materials as material_service
from backend.services.storage import get_storage

blp = Blueprint("materials", __name__, url_prefix="/api/v1/materials",
                description="资料（音频、视频、照片、文档） / Materials")
_material_schema = MaterialCreatedSchema()


def _answer(material: Material, status: int = 200, **extra: Any) -> Response:
    return versioned_json({**_material_schema.dump(material), **extra}, material.version, status)


@blp.route("", methods=["GET"])
@blp.arguments(MaterialListArgsSchema, location="query")
@blp.response(200, MaterialPageSchema)
@login_required()
def list_materials(args: dict[str, Any]) -> Any:
    """List materials you may see; `?sha256=HEX` tells a phone whether a file is already archived."""
    return material_service.list_materials(current_user, **args)


@blp.route("", methods=["POST"])
@blp.response(201, MaterialCreatedSchema, description="Stored (200 with duplicate=true if already archived)")
@blp.alt_response(413, description="Larger than LIUFANG_MULTIPART_MAX_SIZE: use the tus endpoint")
@blp.alt_response(415, description="Content is not an accepted audio, video, image or PDF")
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["file"],
    "properties": {"file": {"type": "string", "format": "binary"},
                   **{name: {"type": "string"} for name in MaterialFormSchema().fields}}}}}})
@accepts_body("multipart/form-data")
@skip_idempotency
@login_required(Permission.MATERIAL_UPLOAD)
def upload_material(**_kwargs: Any) -> Response:
    """Upload a small file in one multipart/form-data request (large files: resumable tus at /api/v1/uploads)."""
    max_size = current_app.config["MULTIPART_MAX_SIZE"]
    if (request.content_length or 0) > max_size + 64 * 1024:
        raise PayloadTooLarge(f"文件超过 {max_size} 字节，请用断点续传上传", code="file_too_large",
                              details={"max_size": max_size})
    request.max_content_length = max_size + 64 * 1024
    # The form streams in next (for minutes, from a slow phone): no connection or snapshot is held meanwhile.
    transaction.end_read_only()
    upload: FileStorage | None = request.files.get("file")
    if upload is None:
        raise ValidationFailed("缺少 file 字段", code="file_required", details={"fields": {"file": ["required"]}})
    form = MaterialFormSchema().load(request.form.to_dict())
    form.setdefault("filename", upload.filename or "")
    metadata = material_service.check_upload_metadata(current_user, form)
    tmp_dir = Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")
    material, duplicate = material_service.ingest_stream(current_user, upload.stream, metadata=metadata,
                                                         max_size=max_size, tmp_dir=tmp_dir)
    return _answer(material, 200 if duplicate else 201, duplicate=duplicate)


@blp.route("/<int:material_id>", methods=["GET"])
@blp.response(200, MaterialSchema)
@login_required()
def get_material(material_id: int) -> Response:
    """One material with its media info, processing status and linked persons."""
    return _answer(material_service.get_material(current_user, material_id))


@blp.route("/<int:material_id>", methods=["PATCH"])
@blp.arguments(MaterialUpdateSchema)
@blp.response(200, MaterialSchema)
@if_match_doc(blp)
@login_required()
def update_material(data: dict[str, Any], material_id: int) -> Response:
    """Edit descriptive metadata; access level and embargo are set by archivists."""
    material = material_service.update_material(current_user, material_id, data, expected_version=expected_version())
    return _answer(material)


@blp.route("/<int:material_id>/persons", methods=["GET"])
@blp.response(200, LinkedPersonSchema(many=True))
@login_required()
def material_persons(material_id: int) -> Any:
    """The persons this material is about, with the role of each link."""
    material = material_service.get_material(current_user, material_id)
    return material_service.persons_of(current_user, material)


@blp.route("/<int:material_id>/persons", methods=["POST"])
@blp.arguments(LinkSchema)
@blp.response(200, MaterialSchema)
@login_required()
def link_person(data: dict[str, Any], material_id: int) -> Response:
    """Link a person to the material with a role (interviewee, subject, mentioned, donor, certificate, …)."""
    return _answer(material_service.link_person(current_user, material_id, data["person_id"], data["role"]))


@blp.route("/<int:material_id>/persons/<int:person_id>", methods=["DELETE"])
@blp.arguments(UnlinkArgsSchema, location="query")
@blp.response(200, MaterialSchema)
@login_required()
def unlink_person(args: dict[str, Any], material_id: int, person_id: int) -> Response:
    """Remove a person link (all roles, or only `?role=`)."""
    return _answer(material_service.unlink_person(current_user, material_id, person_id, args.get("role")))


@blp.route("/<int:material_id>/fixity", methods=["GET"])
@blp.response(200, FixityEventSchema(many=True))
@login_required(Permission.MATERIAL_READ_FIXITY)
def fixity(material_id: int) -> Any:
    """Fixity checks of the stored original, newest first."""
    return material_service.fixity_events(current_user, material_id)


@blp.route("/<int:material_id>/content", methods=["GET"])
@blp.arguments(ContentArgsSchema, location="query")
@blp.response(200, description="The bytes (206 for a Range request), or 302 to a presigned URL on S3")
@login_required()
def content(args: dict[str, Any], material_id: int) -> Response:
    """Stream the original or a derivative (asr, proxy, poster, thumbnail, waveform) with Range and ETag support."""
    target = material_service.content_target(current_user, material_id, args["variant"])
    return send_stored(get_storage(), target.key, size=target.size, sha256=target.sha256, mime=target.mime,
                       download_name=target.download_name,
                       disposition="attachment" if args["download"] else "inline",
                       cache_control="private, max-age=3600", presign_for=current_app.config["PRESIGNED_EXPIRES"])

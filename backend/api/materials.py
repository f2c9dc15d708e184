"""Material endpoints: list and find by hash, small uploads as one form POST, metadata edits, person links,
content streaming with HTTP Range (or a presigned S3 URL), and fixity history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Response, current_app, jsonify, request
from flask_jwt_extended import current_user
from flask_smorest import Blueprint
from marshmallow import ValidationError
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
from backend.services import policy
from backend.services.pagination import Page
from backend.services.storage import get_storage

blp = Blueprint("materials", __name__, url_prefix="/api/v1/materials",
                description="资料（音频、视频、照片、文档） / Materials")
_material_schema = MaterialSchema()


def serialise(material: Material, visible_persons: set[int] | None = None) -> dict[str, Any]:
    """A material as GET /materials/{id} shows it to the signed-in user (the offline sync sends the same): linked
    persons and the interview only where they may see those too. ``visible_persons``: the caller's visible ids among a whole page's links, looked up once."""
    data = _material_schema.dump(material)
    if visible_persons is None:
        data["person_ids"] = policy.visible_person_ids(current_user, material.person_ids)
    else:
        data["person_ids"] = [pid for pid in material.person_ids if pid in visible_persons]
    data["interview_id"] = policy.shown_interview_id(current_user, material.interview_id)
    data["project_id"] = policy.shown_project_id(current_user, material.project_id)
    return data


def page_json(page: Page[Material]) -> Response:
    visible = set(policy.visible_person_ids(current_user, (pid for m in page.items for pid in m.person_ids)))
    return jsonify({"items": [serialise(m, visible) for m in page.items], "total": page.total, "page": page.page,
                    "per_page": page.per_page})


def _answer(material: Material, status: int = 200, **extra: Any) -> Response:
    return versioned_json({**serialise(material), **extra}, material.version, status)


@blp.route("", methods=["GET"])
@blp.arguments(MaterialListArgsSchema, location="query")
@blp.response(200, MaterialPageSchema)
@login_required()
def list_materials(args: dict[str, Any]) -> Response:
    """List materials you may see; `?sha256=HEX` tells a phone whether a file you may see is already archived."""
    return page_json(material_service.list_materials(current_user, **args))


@blp.route("", methods=["POST"])
@blp.response(201, MaterialCreatedSchema, description="Stored")
@blp.alt_response(200, schema=MaterialCreatedSchema,
                  description="A material you may see already holds these bytes (duplicate=true)")
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
    form = _form_fields(upload)
    form.setdefault("filename", upload.filename or "")
    metadata = material_service.check_upload_metadata(current_user, form)
    tmp_dir = Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads")
    material, duplicate = material_service.ingest_stream(current_user, upload.stream, metadata=metadata,
                                                         max_size=max_size, tmp_dir=tmp_dir)
    return _answer(material, 200 if duplicate else 201, duplicate=duplicate)


def _form_fields(upload: FileStorage | None) -> dict[str, Any]:
    """The fields beside ``file``, validated; one 422 names every field that is unknown, repeated or invalid."""
    errors: dict[str, list[str]] = {}
    for name in request.files:
        if name != "file":
            errors[name] = ["Unknown field."]
        elif len(request.files.getlist(name)) > 1:
            errors[name] = ["只能上传一个文件"]
    for name in request.form:
        if name == "file":
            errors[name] = ["须为文件"]
        elif len(request.form.getlist(name)) > 1:
            errors[name] = ["字段重复"]
    if upload is None and "file" not in errors:
        errors["file"] = ["required"]
    form: dict[str, Any] = {}
    try:
        form = MaterialFormSchema().load({k: v for k, v in request.form.items() if k != "file"})
    except ValidationError as exc:
        errors.update({name: messages for name, messages in exc.messages_dict.items() if name not in errors})
    if errors:
        code = "file_required" if set(errors) == {"file"} and upload is None else "validation_error"
        raise ValidationFailed("表单字段无效" if code != "file_required" else "缺少 file 字段", code=code,
                               details={"fields": errors})
    return form


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

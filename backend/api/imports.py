"""Bulk import endpoints for archivists: start a check or an import of a manifest with a zip or a server directory,
follow its progress and problem report, run what a check passed, resume or cancel."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_jwt_extended import current_user
from flask_smorest import Blueprint
from marshmallow import ValidationError
from werkzeug.datastructures import FileStorage

from backend import transaction
from backend.api.base import accepts_body, login_required, skip_idempotency
from backend.errors import PayloadTooLarge, ValidationFailed
from backend.schemas.imports import (ImportFormSchema, ImportListArgsSchema, ImportPageSchema, ImportSchema,
                                     ImportSummarySchema)
from backend.services import imports as import_service
from backend.services.imports import MANIFEST_MAX_BYTES
from backend.services.policy import Permission

blp = Blueprint("imports", __name__, url_prefix="/api/v1/imports", description="批量导入 / Bulk imports")
_FILES = ("manifest", "archive")


@blp.route("", methods=["POST"])
@blp.response(202, ImportSchema, description="Queued: follow it with GET /imports/{id}")
@blp.alt_response(413, description="Larger than LIUFANG_IMPORT_MAX_ARCHIVE")
@blp.alt_response(415, description="The archive is not a zip file")
@blp.doc(requestBody={"content": {"multipart/form-data": {"schema": {
    "type": "object",
    "properties": {"manifest": {"type": "string", "format": "binary",
                                "description": "清单: .csv or .xlsx (none for a Liufang preservation package)"},
                   "archive": {"type": "string", "format": "binary", "description": "the files, as a .zip"},
                   "directory": {"type": "string", "maxLength": 1024},
                   "batch": {"type": "string", "maxLength": 128},
                   "dry_run": {"type": "boolean", "default": True}}}}}})
@accepts_body("multipart/form-data")
@skip_idempotency
@login_required(Permission.IMPORT_RUN)
def create_import(**_kwargs: Any) -> Any:
    """Check (dry_run, the default) or import a manifest of persons, interviews and files; the files come as a zip
    (`archive`) or are already on the server (`directory` under LIUFANG_IMPORT_ROOT). A Liufang preservation
    package (its bag as a zip, or its folder) needs no manifest."""
    limit = int(current_app.config.get("IMPORT_MAX_ARCHIVE") or 0) + MANIFEST_MAX_BYTES + 64 * 1024
    if (request.content_length or 0) > limit:
        raise PayloadTooLarge("压缩包过大：较大的馆藏请放到服务器导入目录后按目录导入", code="file_too_large",
                              details={"max_size": current_app.config.get("IMPORT_MAX_ARCHIVE")})
    request.max_content_length = limit
    transaction.end_read_only()  # the zip streams in next: no connection or snapshot is held meanwhile
    form = _form()
    manifest: FileStorage | None = request.files.get("manifest")
    archive: FileStorage | None = request.files.get("archive")
    record = import_service.create_import(
        current_user, manifest=manifest.stream if manifest is not None else None,
        manifest_name=manifest.filename if manifest is not None else None, directory=form.get("directory"),
        archive=archive.stream if archive is not None else None,
        archive_name=archive.filename if archive is not None else None,
        batch=form.get("batch"), dry_run=form["dry_run"])
    return record, 202


def _form() -> dict[str, Any]:
    """The fields beside the files, validated; one 422 names every field that is unknown, repeated or invalid."""
    errors: dict[str, list[str]] = {}
    for name in request.files:
        if name not in _FILES:
            errors[name] = ["Unknown field."]
        elif len(request.files.getlist(name)) > 1:
            errors[name] = ["只能上传一个文件"]
    for name in request.form:
        if name in _FILES:
            errors[name] = ["须为文件"]
        elif len(request.form.getlist(name)) > 1:
            errors[name] = ["字段重复"]
    if "manifest" not in request.files and "archive" not in request.files and "directory" not in request.form \
            and "manifest" not in errors:
        errors["manifest"] = ["required"]
    form: dict[str, Any] = {"dry_run": True}
    try:
        form = ImportFormSchema().load({k: v for k, v in request.form.items() if k not in _FILES})
    except ValidationError as exc:
        errors.update({name: messages for name, messages in exc.messages_dict.items() if name not in errors})
    if errors:
        raise ValidationFailed("表单字段无效", code="validation_error", details={"fields": errors})
    return form


@blp.route("", methods=["GET"])
@blp.arguments(ImportListArgsSchema, location="query")
@blp.response(200, ImportPageSchema)
@login_required(Permission.IMPORT_RUN)
def list_imports(args: dict[str, Any]) -> Any:
    """Imports and checks, newest first (without their problem reports)."""
    page = import_service.list_imports(current_user, **args)
    return {"items": page.items, "total": page.total, "page": page.page, "per_page": page.per_page}


@blp.route("/<int:import_id>", methods=["GET"])
@blp.response(200, ImportSchema)
@login_required(Permission.IMPORT_RUN)
def get_import(import_id: int) -> Any:
    """Status (queued, running, succeeded, failed, cancelled), phase, progress, counts and every problem found."""
    return import_service.visible_import(current_user, import_id)


@blp.route("/<int:import_id>/run", methods=["POST"])
@blp.response(202, ImportSchema, description="Queued")
@blp.alt_response(409, description="Still running, already done, or the check found errors")
@login_required(Permission.IMPORT_RUN)
def run_import(import_id: int) -> Any:
    """Import for real what a check passed (the same manifest and files), or resume a failed or cancelled run:
    rows imported before are skipped."""
    return import_service.start_run(current_user, import_id), 202


@blp.route("/<int:import_id>/cancel", methods=["POST"])
@blp.response(200, ImportSummarySchema)
@blp.alt_response(409, description="The import already ended")
@login_required(Permission.IMPORT_RUN)
def cancel_import(import_id: int) -> Any:
    """Stop a queued or running import after the row it is on; what was imported stays (run it again to go on)."""
    return import_service.cancel(current_user, import_id)

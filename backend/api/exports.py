"""Preservation packages and four-property reports: ask for a package of a scope, follow its job, download it
(HTTP Range), read its DA/T 70 report; or a report of any scope without a package. Archivists and admins only."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api.base import login_required
from backend.api.streaming import send_stored
from backend.schemas.exports import (ExportListArgsSchema, ExportPageSchema, ExportRequestSchema, ExportSchema,
                                     ReportFormatArgsSchema, ReportSchema, ScopeReportArgsSchema)
from backend.services import dat70, packages
from backend.services.policy import Permission
from backend.services.storage import get_storage
from media.storage.base import content_disposition

blp = Blueprint("exports", __name__, url_prefix="/api/v1", description="长期保存封装包与四性检测 / Preservation packages")
_export_schema = ExportSchema()
_REPORT_DOC = "The report as JSON (default), or as a printable Chinese page: format=html or format=pdf"


@blp.route("/exports", methods=["POST"])
@blp.arguments(ExportRequestSchema)
@blp.response(202, ExportSchema, description="Queued: follow it at /api/v1/exports/{id}")
@blp.alt_response(404, description="One of the ids names no record")
@login_required(Permission.EXPORT_CREATE)
def create_export(body: dict[str, Any]) -> Response:
    """Build a BagIt package of persons, interviews or projects (originals, derivatives, transcripts, consent
    forms, METS/PREMIS, Dublin Core, EAC-CPF) in a background job."""
    export = packages.request_export(current_user, body["scope"], body["ids"], body["format"])
    response = jsonify(_export_schema.dump(export))
    response.status_code = 202
    response.headers["Location"] = f"/api/v1/exports/{export.id}"
    return response


@blp.route("/exports", methods=["GET"])
@blp.arguments(ExportListArgsSchema, location="query")
@blp.response(200, ExportPageSchema)
@login_required(Permission.EXPORT_CREATE)
def list_exports(args: dict[str, Any]) -> Any:
    """Packages, newest first."""
    page = packages.list_exports(current_user, page=args["page"], per_page=args["per_page"])
    return {"items": page.items, "total": page.total, "page": page.page, "per_page": page.per_page}


@blp.route("/exports/<int:export_id>", methods=["GET"])
@blp.response(200, ExportSchema)
@login_required(Permission.EXPORT_CREATE)
def get_export(export_id: int) -> Any:
    """Status (queued, running, succeeded, failed), progress, and the package's size and SHA-256 once made."""
    return packages.get_export(current_user, export_id)


@blp.route("/exports/<int:export_id>/download", methods=["GET"])
@blp.response(200, description="The package (206 for a Range request), or 302 to a presigned URL on S3")
@blp.alt_response(409, description="The package is not made (yet)")
@login_required(Permission.EXPORT_CREATE)
def download_export(export_id: int) -> Response:
    """The package file: a zip or tar holding one BagIt bag."""
    export = packages.finished_export(current_user, export_id)
    return send_stored(get_storage(), export.storage_key or "", size=export.size or 0, sha256=export.sha256 or "",
                       mime=packages.PACKAGE_TYPES[export.format], download_name=packages.download_name(export),
                       disposition="attachment", cache_control="private, no-cache",
                       presign_for=current_app.config["PRESIGNED_EXPIRES"])


def _answer(report: dict[str, Any], fmt: str, name: str) -> Response:
    body, content_type = dat70.render(report, fmt)
    headers = {"Cache-Control": "no-store"}
    if fmt != "json":
        headers["Content-Disposition"] = content_disposition(f"{name}.{fmt}", "inline")
    return Response(body, content_type=content_type, headers=headers)


@blp.route("/exports/<int:export_id>/report", methods=["GET"])
@blp.arguments(ReportFormatArgsSchema, location="query")
@blp.response(200, ReportSchema, description=_REPORT_DOC)
@blp.alt_response(409, description="The package is not made (yet)")
@login_required(Permission.EXPORT_CREATE)
def export_report(args: dict[str, Any], export_id: int) -> Response:
    """The DA/T 70 four-property report of the package as it is stored now (every file re-hashed and opened)."""
    return _answer(dat70.package_report(current_user, export_id), args["format"], f"四性检测报告-封装包{export_id}")


@blp.route("/reports", methods=["GET"])
@blp.arguments(ScopeReportArgsSchema, location="query")
@blp.response(200, ReportSchema, description=_REPORT_DOC)
@blp.alt_response(404, description="One of the ids names no record")
@login_required(Permission.EXPORT_CREATE)
def scope_report(args: dict[str, Any]) -> Response:
    """The four-property report of persons, interviews or projects as the storage holds them, without a package."""
    report = dat70.scope_report(current_user, args["scope"], args["ids"])
    return _answer(report, args["format"], f"四性检测报告-{args['scope']}-{'-'.join(map(str, args['ids'][:5]))}")

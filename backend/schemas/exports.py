"""Schemas of preservation packages (exports) and four-property reports."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate
from webargs.fields import DelimitedList

from backend.models import EXPORT_FORMATS, EXPORT_SCOPES, EXPORT_STATUSES
from backend.schemas.common import Int64, PageArgsSchema, StrictSchema, page_of
from backend.services import packages
from backend.services.package_contents import MAX_IDS

REPORT_FORMATS = ("json", "html", "pdf")
_IDS = {"validate": validate.Length(min=1, max=MAX_IDS),
        "metadata": {"description": f"1 to {MAX_IDS} ids of persons, interviews or projects"}}


class ExportRequestSchema(StrictSchema):
    scope = fields.Str(required=True, validate=validate.OneOf(EXPORT_SCOPES))
    ids = fields.List(Int64(validate=validate.Range(min=1)), required=True, **_IDS)
    format = fields.Str(load_default="zip", validate=validate.OneOf(EXPORT_FORMATS),
                        metadata={"description": "The bag's container: zip (default) or tar"})


class ExportSchema(Schema):
    id = Int64()
    uuid = fields.Str(metadata={"description": "The package's identifier (bag name, METS OBJID)"})
    scope = fields.Str(metadata={"enum": list(EXPORT_SCOPES)})
    ids = fields.List(Int64())
    format = fields.Str(metadata={"enum": list(EXPORT_FORMATS)})
    status = fields.Method("_status", metadata={"enum": list(EXPORT_STATUSES)})
    progress = fields.Method("_progress", metadata={"description": "Percent done, 0–100"})
    error = fields.Str(allow_none=True)
    job_id = fields.Str(allow_none=True)
    created_by_id = Int64()
    created_at = fields.DateTime()
    finished_at = fields.DateTime(allow_none=True)
    size = Int64(allow_none=True, metadata={"description": "Bytes of the package file"})
    sha256 = fields.Str(allow_none=True, metadata={"description": "SHA-256 of the package file when it was made"})
    file_count = Int64(allow_none=True, metadata={"description": "Payload files (data/...)"})
    payload_bytes = Int64(allow_none=True)
    download_url = fields.Method("_download")
    report_url = fields.Method("_report")

    def _status(self, export: Any) -> str:
        return packages.status_of(export)

    def _progress(self, export: Any) -> float:
        return packages.progress_of(export)

    def _download(self, export: Any) -> str | None:
        return f"/api/v1/exports/{export.id}/download" if export.status == "succeeded" else None

    def _report(self, export: Any) -> str | None:
        return f"/api/v1/exports/{export.id}/report" if export.status == "succeeded" else None


ExportPageSchema = page_of(ExportSchema, "ExportPageSchema")


class ExportListArgsSchema(PageArgsSchema):
    pass


class ReportFormatArgsSchema(StrictSchema):
    format = fields.Str(load_default="json", validate=validate.OneOf(REPORT_FORMATS))


class ScopeReportArgsSchema(ReportFormatArgsSchema):
    scope = fields.Str(required=True, validate=validate.OneOf(EXPORT_SCOPES))
    ids = DelimitedList(Int64(validate=validate.Range(min=1)), required=True, **{
        **_IDS, "metadata": {"description": f"Comma-separated ids, 1 to {MAX_IDS}"}})


class ReportItemSchema(Schema):
    id = fields.Str()
    name = fields.Str()
    result = fields.Str(metadata={"enum": ["passed", "failed", "not_checked"]})
    result_label = fields.Str()
    checked = Int64()
    evidence = fields.List(fields.Str())


class ReportGroupSchema(Schema):
    property = fields.Str(metadata={"enum": ["authenticity", "integrity", "usability", "security"]})
    label = fields.Str()
    items = fields.List(fields.Nested(ReportItemSchema))


class ReportSchema(Schema):
    title = fields.Str()
    standard = fields.Str()
    scope = fields.Str()
    ids = fields.List(Int64())
    export_id = Int64(allow_none=True)
    package = fields.Dict(allow_none=True)
    generated_at = fields.Str()
    archive = fields.Str()
    software = fields.Str()
    result = fields.Str(metadata={"enum": ["passed", "failed"]})
    summary = fields.Dict(keys=fields.Str(), values=Int64())
    groups = fields.List(fields.Nested(ReportGroupSchema))

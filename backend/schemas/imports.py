"""Schemas of bulk imports: the form that starts one, and the import with its progress and problem report."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.models.imports import IMPORT_SOURCES, IMPORT_STATUSES
from backend.schemas.common import Int64, PageArgsSchema, StrictSchema, page_of


class ImportFormSchema(StrictSchema):
    """The fields beside the ``manifest`` file (and the ``archive`` zip) of POST /imports."""

    directory = fields.Str(validate=validate.Length(min=1, max=1024), metadata={
        "description": "A folder under LIUFANG_IMPORT_ROOT on the server holding the files (instead of archive)"})
    batch = fields.Str(validate=validate.Length(min=1, max=128), metadata={
        "description": "Batch name: with each row's ref, its import key (default: the manifest's name without "
                       "extension). Import the same collection again under the same batch and nothing is created "
                       "twice."})
    dry_run = fields.Bool(load_default=True, metadata={
        "description": "true (default): only check and report; false: check, then import if there is no error"})


class ProblemSchema(Schema):
    row = Int64(allow_none=True, metadata={"description": "Row number as the spreadsheet shows it (header: 1)"})
    column = fields.Str(allow_none=True, metadata={"description": "The column's header as written in the manifest"})
    code = fields.Str(metadata={"description": "e.g. unknown_column, bad_date, bad_id_number, missing_file, "
                                               "duplicate_file, already_archived, unknown_category, bad_reference"})
    severity = fields.Str(metadata={"enum": ["error", "warning"]})
    message = fields.Str()
    value = fields.Str(allow_none=True, metadata={"description": "The cell's value (personal data masked)"})


class ImportSummarySchema(Schema):
    id = Int64()
    status = fields.Str(metadata={"enum": list(IMPORT_STATUSES)})
    phase = fields.Str(metadata={"enum": ["queued", "checking", "checked", "importing", "done"]})
    dry_run = fields.Bool()
    batch = fields.Str()
    source_kind = fields.Str(metadata={"enum": list(IMPORT_SOURCES)})
    source = fields.Str(attribute="source_label")
    manifest_name = fields.Str()
    manifest_sha256 = fields.Str()
    progress = fields.Float(metadata={"description": "Percent, 0–100"})
    rows_total = Int64()
    rows_done = Int64()
    bytes_total = Int64()
    bytes_done = Int64()
    counts = fields.Dict(metadata={"description": "rows, persons, interviews, files, already_imported, errors, "
                                                  "warnings; after a run created {person, interview, material}, "
                                                  "skipped, linked_existing"})
    error = fields.Str(allow_none=True)
    job_id = fields.Str(allow_none=True)
    created_by = Int64(attribute="created_by_id")
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


class ImportSchema(ImportSummarySchema):
    problems = fields.List(fields.Nested(ProblemSchema), metadata={
        "description": "Every problem found, in manifest order (at most 5,000; counts.problems_truncated says so)"})


ImportPageSchema = page_of(ImportSummarySchema, "ImportPageSchema")


class ImportListArgsSchema(PageArgsSchema):
    status = fields.Str(validate=validate.OneOf(IMPORT_STATUSES))

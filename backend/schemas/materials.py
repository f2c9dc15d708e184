"""Schemas of materials, their links to persons, interviews, fixity events and jobs."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.models import ACCESS_LEVELS, KINDS, LINK_ROLES, MATERIAL_STATUSES, VARIANTS
from backend.schemas.common import Int64, PageArgsSchema, StrictSchema, page_of


class MaterialSchema(Schema):
    id = Int64()
    kind = fields.Str(metadata={"enum": list(KINDS)})
    status = fields.Str(metadata={"enum": list(MATERIAL_STATUSES)})
    failure_reason = fields.Str(allow_none=True)
    version = Int64()
    title = fields.Str()
    description = fields.Str()
    captured_at = fields.DateTime(allow_none=True)
    place = fields.Str(allow_none=True)
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    device = fields.Str(allow_none=True)
    collector_id = Int64()
    original_filename = fields.Str(allow_none=True, metadata={"description": "As sent by the phone; a label only"})
    mime = fields.Str()
    size = Int64()
    sha256 = fields.Str()
    media_info = fields.Dict()
    access_level = fields.Str(metadata={"enum": list(ACCESS_LEVELS)})
    embargo_until = fields.Date(allow_none=True)
    interview_id = Int64(allow_none=True)
    project_id = Int64(allow_none=True, metadata={"description": "The collection project it was filed into"})
    person_ids = fields.List(Int64())
    variants = fields.Method("_variants", metadata={"description": "Variants available at .../content?variant="})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _variants(self, material) -> list[str]:  # type: ignore[no-untyped-def]
        return ["original", *sorted(d.variant for d in material.derivatives)]


class MaterialCreatedSchema(MaterialSchema):
    duplicate = fields.Bool(metadata={"description": "True when these bytes were already archived"})


MaterialPageSchema = page_of(MaterialSchema, "MaterialPageSchema")


class MaterialListArgsSchema(PageArgsSchema):
    kind = fields.Str(validate=validate.OneOf(KINDS))
    status = fields.Str(validate=validate.OneOf(MATERIAL_STATUSES))
    sha256 = fields.Str(validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"),
                        metadata={"description": "Find a material by the SHA-256 of its bytes before uploading"})
    person_id = Int64()
    interview_id = Int64()
    collector = Int64()
    access_level = fields.Str(validate=validate.OneOf(ACCESS_LEVELS))
    project_id = Int64()


class MaterialUpdateSchema(StrictSchema):
    title = fields.Str(validate=validate.Length(max=255))
    description = fields.Str(validate=validate.Length(max=20000))
    captured_at = fields.AwareDateTime(allow_none=True, default_timezone=None)
    place = fields.Str(allow_none=True, validate=validate.Length(max=255))
    latitude = fields.Float(allow_none=True, validate=validate.Range(min=-90, max=90))
    longitude = fields.Float(allow_none=True, validate=validate.Range(min=-180, max=180))
    device = fields.Str(allow_none=True, validate=validate.Length(max=128))
    access_level = fields.Str(validate=validate.OneOf(ACCESS_LEVELS))
    embargo_until = fields.Date(allow_none=True)
    interview_id = Int64(allow_none=True)
    project_id = Int64(allow_none=True, metadata={"description": "File into a collection project (one you are "
                                                                 "assigned to, not closed)"})


class MaterialFormSchema(StrictSchema):
    """Fields sent beside ``file`` in a multipart POST (the same keys a tus upload sends as metadata)."""

    filename = fields.Str(validate=validate.Length(max=255))
    sha256 = fields.Str(validate=validate.Regexp(r"^[0-9a-fA-F]{64}$"))
    person_id = fields.Str()
    interview_id = fields.Str()
    project_id = fields.Str()
    role = fields.Str(validate=validate.OneOf(LINK_ROLES))
    captured_at = fields.Str()
    latitude = fields.Str()
    longitude = fields.Str()
    device = fields.Str()
    title = fields.Str()
    description = fields.Str()
    place = fields.Str()


class ContentArgsSchema(StrictSchema):
    variant = fields.Str(load_default="original", validate=validate.OneOf(VARIANTS))
    download = fields.Bool(load_default=False, metadata={"description": "Content-Disposition: attachment"})


class LinkSchema(StrictSchema):
    person_id = Int64(required=True)
    role = fields.Str(load_default="subject", validate=validate.OneOf(LINK_ROLES))


class LinkedPersonSchema(Schema):
    person_id = Int64()
    name = fields.Str()
    category = fields.Str()
    role = fields.Str()


class UnlinkArgsSchema(StrictSchema):
    role = fields.Str(validate=validate.OneOf(LINK_ROLES))


class FixityEventSchema(Schema):
    id = Int64()
    material_id = Int64()
    checked_at = fields.DateTime()
    outcome = fields.Str(metadata={"enum": ["ok", "mismatch", "missing"]})
    expected_sha256 = fields.Str()
    actual_sha256 = fields.Str(allow_none=True)
    detail = fields.Str(allow_none=True)


class InterviewSchema(Schema):
    id = Int64()
    title = fields.Str()
    date = fields.Str(allow_none=True)
    place = fields.Str(allow_none=True)
    interviewers = fields.List(fields.Str())
    interviewee_ids = fields.List(Int64())
    language = fields.Str(allow_none=True)
    consent_material_id = Int64(allow_none=True)
    notes = fields.Str()
    project_id = Int64(allow_none=True, metadata={"description": "The collection project it belongs to"})
    created_by = Int64(attribute="created_by_id")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    version = Int64()
    approved_at = fields.DateTime(allow_none=True, metadata={
        "description": "Accepted into the archive: by an archivist, or with the first approved transcript"})
    archival_code = fields.Str(allow_none=True, metadata={
        "description": "档号, given at the first approval and never changed, e.g. LYG-KS-2026-0001"})


InterviewPageSchema = page_of(InterviewSchema, "InterviewPageSchema")


class InterviewInputSchema(StrictSchema):
    title = fields.Str(validate=validate.Length(max=255))
    date = fields.Str(allow_none=True, validate=validate.Length(max=10), metadata={"example": "2026-05"})
    place = fields.Str(allow_none=True, validate=validate.Length(max=255))
    interviewers = fields.List(fields.Str(validate=validate.Length(min=1, max=128)), validate=validate.Length(max=20))
    interviewee_ids = fields.List(Int64(), validate=validate.Length(max=50))
    language = fields.Str(allow_none=True, validate=validate.Length(max=64),
                          metadata={"description": "Language or dialect, e.g. 普通话, 海州方言"})
    consent_material_id = Int64(allow_none=True)
    notes = fields.Str(validate=validate.Length(max=20000))
    project_id = Int64(allow_none=True, metadata={"description": "File into a collection project (one you are "
                                                                 "assigned to, not closed)"})


class InterviewListArgsSchema(PageArgsSchema):
    person_id = Int64()
    q = fields.Str(validate=validate.Length(max=64))
    project_id = Int64()
    archival_code = fields.Str(validate=validate.Length(min=1, max=64), metadata={
        "description": "档号 or its start: a whole code, or a series such as LYG-KS-2026"})


class JobSchema(Schema):
    id = fields.Str()
    kind = fields.Str()
    status = fields.Str(metadata={"enum": ["queued", "running", "succeeded", "failed", "cancelled"]})
    progress = fields.Float(metadata={"description": "Percent, 0–100"})
    attempts = Int64()
    max_attempts = Int64()
    error = fields.Str(allow_none=True)
    material_id = Int64(allow_none=True)
    params = fields.Dict()
    result = fields.Dict()
    cancel_requested = fields.Bool()
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)

"""Schemas of offline sync: the query (cursor, page size) and a page of changes."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.models import SYNCED_TYPES
from backend.schemas.common import StrictSchema
from backend.services.sync import DEFAULT_LIMIT, MAX_LIMIT

# The records' own schemas, as GET /persons/{id}, /materials/{id}, /interviews/{id} and /me/notifications answer.
RECORD_SCHEMAS = {"person": "Person", "material": "Material", "interview": "Interview",
                  "notification": "Notification", "project": "Project"}


class SyncArgsSchema(StrictSchema):
    since = fields.Str(validate=validate.Length(min=1, max=256), metadata={
        "description": "The `cursor` of the last page you stored. Leave it out for a full sync."})
    limit = fields.Int(load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT),
                       metadata={"description": "Most changes in this page"})


class SyncChangeSchema(Schema):
    type = fields.Str(required=True, metadata={"enum": list(SYNCED_TYPES)})
    id = fields.Int(required=True)
    op = fields.Str(required=True, metadata={
        "enum": ["upsert", "delete"],
        "description": "upsert: store `data` (replacing what you have); delete: drop the record if you have it "
                       "(deleted, or no longer visible to you)"})
    version = fields.Int(metadata={"description": "Upserts of profiles, materials and interviews: the version"})
    etag = fields.Str(metadata={"description": "The same as an ETag: send it in If-Match when you change the record"})
    data = fields.Raw(metadata={
        "description": "Upserts only: the record exactly as its own GET answers it for you (same masking)",
        "anyOf": [{"$ref": f"#/components/schemas/{name}"} for name in RECORD_SCHEMAS.values()]})


class SyncPageSchema(Schema):
    changes = fields.List(fields.Nested(SyncChangeSchema), required=True, metadata={
        "description": "In the order to apply them; one record appears at most once a page"})
    cursor = fields.Str(required=True, metadata={
        "description": "Opaque. Store it with the page (in one local transaction) and send it as `since` next time"})
    has_more = fields.Bool(required=True, metadata={"description": "true: ask again at once with the new cursor"})

"""Schemas of resumable (tus) uploads: the status an app reads with GET (tus itself answers in headers)."""

from __future__ import annotations

from marshmallow import Schema, fields

from backend.models import UPLOAD_STATUSES
from backend.schemas.common import Int64


class UploadStatusSchema(Schema):
    id = fields.Str()
    status = fields.Str(metadata={"enum": list(UPLOAD_STATUSES)})
    offset = Int64(metadata={"description": "Bytes durably received"})
    length = Int64(metadata={"description": "Upload-Length declared at creation"})
    expires_at = fields.Str(allow_none=True, metadata={"description": "ISO 8601, while receiving"})
    failure_reason = fields.Str(allow_none=True)
    material_id = Int64(allow_none=True, metadata={"description": "The material it became, once completed"})
    duplicate = fields.Bool(allow_none=True, metadata={"description": "The bytes were already archived"})
    metadata = fields.Dict(metadata={"description": "Upload-Metadata as accepted (normalised)"})
    created_at = fields.Str(metadata={"description": "ISO 8601"})
    updated_at = fields.Str(metadata={"description": "ISO 8601"})

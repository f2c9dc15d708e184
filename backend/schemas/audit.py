"""Schemas of the audit trail."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.schemas.common import Int64, PageArgsSchema, page_of


class AuditEventSchema(Schema):
    id = Int64()
    entity_type = fields.Str()
    entity_id = fields.Str()
    action = fields.Str()
    actor_id = Int64(allow_none=True)
    actor_name = fields.Str(allow_none=True, metadata={"description": "Who did it (display name or username)"})
    created_at = fields.DateTime()
    changes = fields.Dict()
    comment = fields.Str(allow_none=True)


AuditPageSchema = page_of(AuditEventSchema, "AuditPageSchema")


class AuditArgsSchema(PageArgsSchema):
    entity_type = fields.Str(validate=validate.Length(max=32))
    entity_id = fields.Str(validate=validate.Length(max=64))
    actor_id = Int64()

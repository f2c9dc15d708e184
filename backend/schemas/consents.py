"""Schemas of consents (授权书) and of a user's notifications."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.models import CONSENT_SCOPES
from backend.schemas.common import Int64, PageArgsSchema, StrictSchema, page_of


class ConsentInputSchema(StrictSchema):
    scope = fields.Str(required=True, validate=validate.OneOf(CONSENT_SCOPES), metadata={
        "description": "archive_only 仅存档 / research 可供研究 / public 可公开发布"})
    signed_at = fields.Date(required=True, metadata={"description": "签署日期 (YYYY-MM-DD), not in the future"})
    material_id = Int64(required=True, strict=True, metadata={
        "description": "The signed form (scan, photo or recording), a material you may see"})
    interview_id = Int64(allow_none=True, strict=True, metadata={
        "description": "Set when the consent covers one interview only (the person must be among its interviewees)"})
    conditions = fields.Str(load_default="", validate=validate.Length(max=5000), metadata={
        "description": "附加条件, e.g. 不公开家庭住址"})


class ConsentWithdrawSchema(StrictSchema):
    reason = fields.Str(allow_none=True, validate=validate.Length(max=5000))


class ConsentSchema(Schema):
    id = Int64()
    person_id = Int64()
    scope = fields.Str(metadata={"enum": list(CONSENT_SCOPES)})
    signed_at = fields.Date()
    material_id = Int64(allow_none=True)
    interview_id = Int64(allow_none=True)
    interview_scoped = fields.Bool(metadata={
        "description": "Signed for one interview only; stays so (and is withdrawn) when that interview is deleted"})
    conditions = fields.Str()
    active = fields.Function(lambda consent: consent.withdrawn_at is None, metadata={"type": "boolean"})
    created_by = Int64(attribute="created_by_id")
    created_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)
    withdrawn_by = Int64(attribute="withdrawn_by_id", allow_none=True)
    withdraw_reason = fields.Str(allow_none=True)


ConsentPageSchema = page_of(ConsentSchema, "ConsentPageSchema")


class NotificationSchema(Schema):
    id = Int64()
    kind = fields.Str(metadata={"description": "e.g. person_returned, transcript_returned"})
    entity_type = fields.Str()
    entity_id = fields.Str()
    message = fields.Str()
    comment = fields.Str(allow_none=True, metadata={"description": "The reviewer's comment, e.g. 请补充出生日期"})
    actor_id = Int64(allow_none=True)
    actor_name = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)
    read = fields.Function(lambda n: n.read_at is not None, metadata={"type": "boolean"})


class NotificationPageSchema(page_of(NotificationSchema, "NotificationListSchema")):  # type: ignore[misc]
    unread = Int64(required=True, metadata={"description": "Unread notifications in total"})


class NotificationArgsSchema(PageArgsSchema):
    unread = fields.Bool(load_default=False, metadata={"description": "true: unread ones only"})
    entity_type = fields.Str(validate=validate.Length(max=32), metadata={
        "description": "Only those about this kind of record, e.g. person (with entity_id: about one record)"})
    entity_id = fields.Str(validate=validate.Length(max=64), metadata={"description": "e.g. 12"})


class ReadAllSchema(Schema):
    marked = Int64(metadata={"description": "How many were marked read now"})
    unread = Int64()

"""Schemas of transcript review: the queue, claims, segment edits, speakers, revisions, diffs and workflow actions."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from backend.models import TRANSCRIPT_STATUSES
from backend.schemas.common import Int64, PageArgsSchema, StrictSchema, page_of, storable_text
from backend.schemas.transcripts import TranscriptLockSchema, TranscriptSummarySchema, UserRefSchema

MAX_TEXT = 10_000
_user_ref_schema = UserRefSchema()


class QueueArgsSchema(PageArgsSchema):
    status = fields.Str(validate=validate.OneOf(TRANSCRIPT_STATUSES))
    flagged = fields.Bool(metadata={"description": "true: only transcripts with flagged segments; false: none"})
    person = Int64(validate=validate.Range(min=1), metadata={"description": "Person linked to the material "
                                                                                 "or interviewed in it"})
    collector = Int64(validate=validate.Range(min=1), metadata={"description": "User id of the collector"})
    holder = Int64(validate=validate.Range(min=1), metadata={"description": "User id holding an unexpired claim "
                                                                             "(your own: what you are working on)"})


class QueueItemSchema(TranscriptSummarySchema):
    material_title = fields.Str()
    collector = fields.Nested(UserRefSchema, allow_none=True, metadata={"description": "Who recorded the material"})
    lock = fields.Nested(TranscriptLockSchema, allow_none=True, metadata={"description": "The unexpired claim, if any"})


QueuePageSchema = page_of(QueueItemSchema, "TranscriptQueuePage")


class ClaimSchema(Schema):
    transcript_id = Int64(attribute="id")
    status = fields.Str(metadata={"enum": list(TRANSCRIPT_STATUSES)})
    version = Int64()
    lock = fields.Nested(TranscriptLockSchema)


class _SegmentFields(StrictSchema):
    text = fields.Str(validate=validate.Length(max=MAX_TEXT))
    speaker = fields.Str(allow_none=True, validate=validate.Length(max=64),
                         metadata={"description": "Speaker label, e.g. SPEAKER_1 (map labels with PUT speakers)"})
    start = fields.Float(validate=validate.Range(min=0), metadata={"description": "Seconds"})
    end = fields.Float(validate=validate.Range(min=0), metadata={"description": "Seconds"})
    flagged = fields.Bool(metadata={"description": "Clear once the segment has been listened to"})


class SegmentPatchSchema(_SegmentFields):
    @validates_schema
    def _not_empty(self, data: dict[str, Any], **_: Any) -> None:
        if not data:
            raise ValidationError("至少提交一个字段：text、speaker、start、end 或 flagged")


class BulkSegmentSchema(_SegmentFields):
    index = Int64(required=True, validate=validate.Range(min=0))


class BulkSaveSchema(StrictSchema):
    segments = fields.List(fields.Nested(BulkSegmentSchema), required=True,
                           validate=validate.Length(min=1, max=5000))


class SplitSchema(StrictSchema):
    at = fields.Float(required=True, metadata={"description": "Seconds, strictly inside the segment"})
    text_before = fields.Str(required=True, validate=validate.Length(max=MAX_TEXT))
    text_after = fields.Str(required=True, validate=validate.Length(max=MAX_TEXT))


class MergeSchema(StrictSchema):
    indexes = fields.List(Int64(validate=validate.Range(min=0)), required=True,
                          validate=validate.Length(min=2, max=100),
                          metadata={"description": "Adjacent indexes in order, e.g. [4, 5]"})


class SpeakerTargetSchema(StrictSchema):
    person_id = Int64(validate=validate.Range(min=1))
    name = fields.Str(validate=validate.Length(min=1, max=128))

    @validates_schema
    def _one_of(self, data: dict[str, Any], **_: Any) -> None:
        if ("person_id" in data) == ("name" in data):
            raise ValidationError("须给出 person_id 或 name 之一")


SPEAKERS_FIELD = fields.Dict(keys=fields.Str(validate=[validate.Length(min=1, max=64), storable_text]),
                             values=fields.Nested(SpeakerTargetSchema), validate=validate.Length(max=100))


class RevertSchema(StrictSchema):
    revision = Int64(required=True, validate=validate.Range(min=1))


class TranscriptTransitionSchema(StrictSchema):
    comment = fields.Str(allow_none=True, validate=validate.Length(max=4000),
                         metadata={"description": "Required when returning"})


class RevisionSummarySchema(Schema):
    number = Int64()
    created_by = fields.Method("_created_by", metadata={"description": "null: the machine transcription"})
    created_at = fields.DateTime()
    summary = fields.Str()
    changed = fields.List(Int64(), metadata={"description": "Indexes (in the previous revision) touched"})

    def _created_by(self, revision) -> dict[str, Any] | None:  # type: ignore[no-untyped-def]
        return None if revision.created_by is None else _user_ref_schema.dump(revision.created_by)


RevisionPageSchema = page_of(RevisionSummarySchema, "TranscriptRevisionPage")


class RevisionSchema(RevisionSummarySchema):
    transcript_id = Int64()
    segments = fields.List(fields.Dict(), metadata={"description": "The segments exactly as they were"})


class RevisionArgsSchema(PageArgsSchema):
    pass


class DiffArgsSchema(StrictSchema):
    from_ = Int64(data_key="from", validate=validate.Range(min=1),
                       metadata={"description": "Revision number (default: the one before `to`)"})
    to = Int64(validate=validate.Range(min=1), metadata={"description": "Revision number (default: latest)"})


class TextOpSchema(Schema):
    op = fields.Str(metadata={"enum": ["equal", "insert", "delete", "replace"]})
    before = fields.Str()
    after = fields.Str()


class SegmentChangeSchema(Schema):
    type = fields.Str(metadata={"enum": ["added", "removed", "changed"]})
    from_index = Int64(allow_none=True)
    to_index = Int64(allow_none=True)
    before = fields.Dict(allow_none=True)
    after = fields.Dict(allow_none=True)
    fields_ = fields.List(fields.Str(), data_key="fields", attribute="fields")
    text_ops = fields.List(fields.Nested(TextOpSchema), metadata={"description": "Character-level, for text changes"})


class DiffStatsSchema(Schema):
    added = Int64()
    removed = Int64()
    changed = Int64()
    unchanged = Int64()


class DiffSchema(Schema):
    transcript_id = Int64()
    from_ = Int64(data_key="from", attribute="from")
    to = Int64()
    stats = fields.Nested(DiffStatsSchema)
    segments = fields.List(fields.Nested(SegmentChangeSchema))

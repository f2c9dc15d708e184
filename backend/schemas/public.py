"""Schemas of the public archive API, of redactions and of programme statistics. Public output schemas list every
field the public may see: anything not declared here (personal data, staff ids, hashes, keys, file names) is
never written."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.models import REDACTION_REASONS
from backend.models.person import CATEGORIES
from backend.schemas.common import CursorPageArgsSchema, Int64, PageArgsSchema, StrictSchema, page_of
from backend.schemas.persons import AreaSchema, HonourSchema
from backend.services.public import REQUESTABLE_VARIANTS

# --- public archive ---------------------------------------------------------------------------------------------


class PublicPersonListArgsSchema(CursorPageArgsSchema):
    category = fields.Str(validate=validate.OneOf(CATEGORIES),
                          metadata={"description": "good_person 好人 / notable 名家 / local_worthy 乡贤"})
    area = fields.Str(validate=validate.Length(max=64), metadata={"description": "District, town or village"})
    q = fields.Str(validate=validate.Length(max=64), metadata={"description": "Name, alias, pinyin or initials"})


class PublicPersonSummarySchema(Schema):
    id = Int64()
    category = fields.Str()
    category_label = fields.Str(metadata={"description": "好人 / 名家 / 乡贤"})
    name = fields.Str()
    name_pinyin = fields.Str()
    aliases = fields.List(fields.Str())
    area = fields.Nested(AreaSchema)
    occupation = fields.Str(allow_none=True)
    tags = fields.List(fields.Str())
    archival_code = fields.Str(allow_none=True, metadata={"description": "档号 (archival reference code)"})
    url = fields.Str(metadata={"description": "This profile in the public API"})


class PublicLinkSchema(Schema):
    id = Int64()
    url = fields.Str()


class PublicMaterialSchema(Schema):
    id = Int64()
    kind = fields.Str(metadata={"enum": ["audio", "video", "image", "document"]})
    title = fields.Str()
    description = fields.Str()
    captured_at = fields.DateTime(allow_none=True)
    duration = fields.Float(allow_none=True, metadata={"description": "Seconds (audio and video)"})
    content = fields.Dict(keys=fields.Str(), values=fields.Str(),
                          metadata={"description": "URL per public variant: proxy (playback), poster, thumbnail"})
    transcripts = fields.List(fields.Nested(PublicLinkSchema), metadata={"description": "Approved transcripts"})


class PublicPersonSchema(PublicPersonSummarySchema):
    gender = fields.Str(allow_none=True)
    ethnicity = fields.Str(allow_none=True)
    birth_date = fields.Str(allow_none=True)
    death_date = fields.Str(allow_none=True)
    native_place = fields.Str(allow_none=True)
    honours = fields.List(fields.Nested(HonourSchema))
    biography = fields.Str(metadata={"description": "Markdown"})
    published_at = fields.DateTime(allow_none=True)
    materials = fields.List(fields.Nested(PublicMaterialSchema))


PublicPersonPageSchema = page_of(PublicPersonSummarySchema, "PublicPersonPageSchema", cursor=True)


class PublicProjectSummarySchema(Schema):
    id = Int64()
    title = fields.Str(metadata={"description": "主题"})
    content = fields.Str(metadata={"description": "内容"})
    background = fields.Str(metadata={"description": "历史背景"})
    place = fields.Str(allow_none=True)
    planned_start = fields.Date(allow_none=True)
    planned_end = fields.Date(allow_none=True)
    methods = fields.List(fields.Str(), metadata={"description": "audio, video, photo, document"})
    url = fields.Str(metadata={"description": "This project in the public API"})


class PublicProjectSchema(PublicProjectSummarySchema):
    persons = fields.List(fields.Nested(PublicPersonSummarySchema),
                          metadata={"description": "Its public profiles: narrators and persons of its materials"})
    materials = fields.List(fields.Nested(PublicMaterialSchema), metadata={"description": "Its public materials"})


PublicProjectPageSchema = page_of(PublicProjectSummarySchema, "PublicProjectPageSchema")
PublicProjectListArgsSchema = PageArgsSchema


class PublicContentArgsSchema(StrictSchema):
    variant = fields.Str(required=True, validate=validate.OneOf(REQUESTABLE_VARIANTS),
                         metadata={"description": "proxy (audio/video playback), poster (video), thumbnail "
                                                  "(photos, documents)"})


class PublicSegmentSchema(Schema):
    index = Int64()
    start = fields.Float()
    end = fields.Float()
    text = fields.Str()
    speaker = fields.Str(allow_none=True)


class PublicRangeSchema(Schema):
    start = fields.Float()
    end = fields.Float()


class PublicTranscriptSchema(Schema):
    id = Int64()
    material_id = Int64()
    material_url = fields.Str(metadata={"description": "The playback proxy this transcript belongs to"})
    language = fields.Str(allow_none=True)
    duration = fields.Float()
    approved_at = fields.DateTime(allow_none=True)
    redacted = fields.List(fields.Nested(PublicRangeSchema),
                           metadata={"description": "Ranges kept from the public: silent in the audio; every "
                                                    "segment touching one is left out whole"})
    segments = fields.List(fields.Nested(PublicSegmentSchema))


# --- redactions -------------------------------------------------------------------------------------------------


class RedactionInputSchema(StrictSchema):
    start = fields.Float(required=True, allow_nan=False, metadata={"description": "Seconds, ≥ 0"})
    end = fields.Float(required=True, allow_nan=False, metadata={"description": "Seconds, > start, ≤ duration"})
    reason = fields.Str(required=True, validate=validate.OneOf(REDACTION_REASONS))
    note = fields.Str(load_default="", validate=validate.Length(max=2000))


class RedactionSchema(Schema):
    id = Int64()
    transcript_id = Int64()
    start = fields.Float()
    end = fields.Float()
    reason = fields.Str(metadata={"enum": list(REDACTION_REASONS)})
    note = fields.Str()
    created_by = Int64(attribute="created_by_id")
    created_at = fields.DateTime()


class RedactionCreatedSchema(RedactionSchema):
    job_id = fields.Str(allow_none=True, metadata={"description": "The job re-rendering the public proxy"})


RedactionPageSchema = page_of(RedactionSchema, "RedactionPageSchema")
RedactionListArgsSchema = PageArgsSchema


# --- statistics -------------------------------------------------------------------------------------------------


class StatsArgsSchema(StrictSchema):
    months = Int64(load_default=24, validate=validate.Range(min=1, max=120),
                        metadata={"description": "How many months (this one included) the monthly series covers"})


class StatsSchema(Schema):
    generated_at = fields.DateTime()
    persons = fields.Dict(metadata={"description": "total, by_category, by_status, by_area [{district, count}]"})
    hours = fields.Dict(metadata={"description": "Audio/video hours: collected, transcribed, reviewed, approved"})
    materials = fields.Dict(metadata={"description": "total, by_kind, by_status, by_access_level"})
    collectors = fields.List(fields.Dict(), metadata={
        "description": "Per collector: user_id, username, display_name, materials, hours, persons_created"})
    monthly = fields.List(fields.Dict(), metadata={
        "description": "Per month (China time, oldest first): month YYYY-MM, materials, hours"})
    hours_by_month = fields.List(fields.Dict(), metadata={
        "description": "Per month (China time, oldest first): month, and hours of audio/video collected then and "
                       "first transcribed, reviewed and approved then (a material counts once per column)"})

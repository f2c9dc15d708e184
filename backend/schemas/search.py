"""Schemas of full-text search (GET /api/v1/search and GET /api/public/search): the arguments and the hits."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate

from backend.models import STATUSES, TRANSCRIPT_STATUSES
from backend.models.material import MATERIAL_STATUSES
from backend.models.person import CATEGORIES
from backend.schemas.common import Int64, PageArgsSchema, PageSchema
from backend.services.search import PUBLIC_TYPES, TYPES
from backend.services.search_text import MAX_QUERY_LENGTH

_Q_HELP = ('Words that must all occur (one or two characters work); "…" a phrase; -词 excludes. Traditional and '
           'Simplified, full- and half-width, upper and lower case match alike; names also by pinyin and initials.')


def _types_field(allowed: tuple[str, ...]) -> fields.Str:
    return fields.Str(data_key="type", validate=validate.Length(max=64), metadata={
        "description": f"Comma-separated types to search: {', '.join(allowed)} (default: all)"})


class _SearchArgsBase(PageArgsSchema):
    q = fields.Str(required=True, validate=validate.Length(min=1, max=MAX_QUERY_LENGTH),
                   metadata={"description": _Q_HELP})
    category = fields.Str(validate=validate.OneOf(CATEGORIES),
                          metadata={"description": "Hits of profiles of this category (or linked to one)"})
    area = fields.Str(validate=validate.Length(max=64),
                      metadata={"description": "Hits of profiles of this district, town or village (or linked to one)"})
    allowed_types: tuple[str, ...] = TYPES

    @post_load
    def _split_types(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        raw = data.pop("types", None)
        if raw is not None:
            wanted = [part.strip() for part in raw.split(",") if part.strip()]
            unknown = [part for part in wanted if part not in self.allowed_types]
            if unknown or not wanted:
                raise ValidationError({"type": [f"one or more of {', '.join(self.allowed_types)}"]})
            data["types"] = wanted
        return data


class SearchArgsSchema(_SearchArgsBase):
    types = _types_field(TYPES)
    person = Int64(metadata={"description": "Hits of this profile, or linked to it"})
    collector = Int64(metadata={"description": "Hits of this collector's profiles, materials and interviews"})
    status = fields.Str(validate=validate.OneOf(sorted(set(STATUSES) | set(TRANSCRIPT_STATUSES)
                                                       | set(MATERIAL_STATUSES))),
                        metadata={"description": "Profiles in this workflow status, segments of transcripts in it, "
                                                 "materials in this processing status (types without it: none)"})


class PublicSearchArgsSchema(_SearchArgsBase):
    types = _types_field(PUBLIC_TYPES)
    allowed_types = PUBLIC_TYPES


class SearchHitSchema(Schema):
    type = fields.Str(metadata={"enum": list(TYPES)})
    id = Int64(metadata={"description": "The segment's, profile's, material's or interview's id"})
    title = fields.Str(metadata={"description": "Name, title, or the recording's title for a segment"})
    highlight = fields.Str(metadata={"description": "The matching text, HTML-escaped, hits in <mark>…</mark>"})
    url = fields.Str(metadata={"description": "The record in this API"})
    category = fields.Str(metadata={"description": "Profiles: their category"})
    kind = fields.Str(metadata={"description": "Materials: audio, video, image or document"})
    transcript_id = Int64(metadata={"description": "Segments: their transcript"})
    material_id = Int64(metadata={"description": "Segments: the recording"})
    segment_index = fields.Int(metadata={"description": "Segments: the index in the transcript"})
    start = fields.Float(metadata={"description": "Segments: seconds from the start of the recording"})
    end = fields.Float()
    play_url = fields.Str(metadata={"description": "Segments: the playback proxy with a media fragment "
                                                   "(#t=start,end) that starts it at the segment"})


class SearchPageSchema(PageSchema):
    items = fields.List(fields.Nested(SearchHitSchema), required=True)
    total_relation = fields.Str(metadata={"enum": ["eq", "gte"], "description": "gte: more hits than were ranked; "
                                                                                "total is a lower bound"})
    facets = fields.Dict(keys=fields.Str(), values=fields.Dict(keys=fields.Str(), values=fields.Int()),
                         metadata={"description": "Counts of the hits by type, category and area (district)"})

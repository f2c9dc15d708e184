"""Schemas of a material's text: pages of lines with boxes and confidence, its revisions, and an editor's save."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.models import TEXT_SOURCES
from backend.schemas.common import Int64, StrictSchema
from backend.schemas.transcripts import UserRefSchema

MAX_LINE = 2_000
MAX_PAGES = 2_000
MAX_LINES = 2_000
_POINT = fields.List(fields.Float(allow_nan=False, validate=validate.Range(min=-1e6, max=1e6)),
                     validate=validate.Length(equal=2))
_BOX_DESCRIPTION = ("Four corners [x, y], clockwise from top left, in the page's frame (width × height: pixels of "
                    "the photo or rendered page, PDF points for a text layer)")


class TextLineSchema(Schema):
    text = fields.Str(required=True)
    box = fields.List(_POINT, allow_none=True, metadata={"description": _BOX_DESCRIPTION})
    confidence = fields.Float(allow_none=True, metadata={
        "description": "The engine's confidence, 0–1; null for a text layer or a line a person typed or changed"})


class TextPageSchema(Schema):
    number = Int64(required=True, metadata={"description": "1 for a photo; the page number of a PDF"})
    width = fields.Float()
    height = fields.Float()
    source = fields.Str(metadata={"enum": list(TEXT_SOURCES)})
    engine = fields.Str(allow_none=True, metadata={"description": "The OCR engine (rapidocr, tesseract)"})
    text = fields.Str()
    lines = fields.List(fields.Nested(TextLineSchema))


class TextRevisionSchema(Schema):
    number = Int64()
    base_number = Int64(allow_none=True, metadata={"description": "The revision this one was made from"})
    source = fields.Str(metadata={"enum": list(TEXT_SOURCES)})
    engine = fields.Str(allow_none=True)
    comment = fields.Str(allow_none=True)
    created_at = fields.DateTime()
    created_by = fields.Nested(UserRefSchema, allow_none=True, metadata={"description": "null: an OCR job"})


class MaterialTextSchema(Schema):
    material_id = Int64()
    revision = Int64(metadata={"description": "The current revision (0: no text read yet); also the ETag"})
    text = fields.Str(allow_none=True, metadata={"description": "The full text: lines, a blank line between pages; "
                                                                "null until read"})
    source = fields.Str(allow_none=True, metadata={"enum": list(TEXT_SOURCES)})
    engine = fields.Str(allow_none=True)
    updated_at = fields.DateTime(allow_none=True)
    updated_by = fields.Nested(UserRefSchema, allow_none=True)
    can_edit = fields.Bool(metadata={"description": "Whether you may save a correction"})
    pages = fields.List(fields.Nested(TextPageSchema))


class TextLineInputSchema(StrictSchema):
    text = fields.Str(required=True, validate=validate.Length(max=MAX_LINE))
    box = fields.List(_POINT, allow_none=True, validate=validate.Length(equal=4),
                      metadata={"description": _BOX_DESCRIPTION + "; leave out to keep the line's box"})


class TextPageInputSchema(StrictSchema):
    number = Int64(required=True, validate=validate.Range(min=1, max=100_000))
    lines = fields.List(fields.Nested(TextLineInputSchema), required=True,
                        validate=validate.Length(max=MAX_LINES))


class TextSaveSchema(StrictSchema):
    pages = fields.List(fields.Nested(TextPageInputSchema), required=True, validate=validate.Length(max=MAX_PAGES),
                        metadata={"description": "Every page, every line: the whole text as it should read now. A "
                                                 "line left as it was keeps its box and confidence."})
    comment = fields.Str(validate=validate.Length(max=255))


class OcrRequestSchema(StrictSchema):
    engine = fields.Str(validate=validate.OneOf(["rapidocr", "tesseract"]),
                        metadata={"description": "Default: LIUFANG_OCR_ENGINE"})

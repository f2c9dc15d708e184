"""Schemas shared by every blueprint: errors, list pages and paging arguments."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.services.pagination import MAX_PER_PAGE


class StrictSchema(Schema):
    """Unknown fields are refused (422), so a typo in a mobile client shows up at once."""


class ErrorBodySchema(Schema):
    code = fields.Str(required=True, metadata={"description": "Stable English code, e.g. invalid_transition"})
    message = fields.Str(required=True, metadata={"description": "Message for the user (Chinese)"})
    details = fields.Dict(metadata={"description": "Field errors or context"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class PageArgsSchema(StrictSchema):
    page = fields.Int(load_default=1, validate=validate.Range(min=1))
    per_page = fields.Int(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageSchema(Schema):
    total = fields.Int(required=True)
    page = fields.Int(required=True)
    per_page = fields.Int(required=True)


def page_of(item_schema: type[Schema], name: str) -> type[Schema]:
    """A named list schema ``{"items": [...], "total", "page", "per_page"}`` for ``item_schema``."""
    return type(name, (PageSchema,), {"items": fields.List(fields.Nested(item_schema), required=True)})

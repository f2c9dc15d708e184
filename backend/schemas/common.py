"""Schemas shared by every blueprint: the strict input base (unknown fields and unstorable characters refused),
64-bit integers, errors, list pages and paging arguments."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from backend.services.pagination import MAX_PAGE, MAX_PER_PAGE
from backend.services.text import (INT64_MAX, INT64_MIN, INVALID_CHARACTER_MESSAGE, invalid_character,
                                   invalid_text_fields)


class Int64(fields.Integer):
    """An integer that fits a 64-bit database column: anything beyond is a 422, never an overflow in the
    database driver. The OpenAPI document shows the bounds (and any narrower ``validate=Range``)."""

    def __init__(self, **kwargs: Any) -> None:
        validators = kwargs.pop("validate", None)
        extra = [] if validators is None else list(validators) if isinstance(validators, (list, tuple)) else [
            validators]
        super().__init__(validate=[validate.Range(min=INT64_MIN, max=INT64_MAX), *extra], **kwargs)


class StrictSchema(Schema):
    """Input: unknown fields are refused (422), so a typo in a mobile client shows up at once; so is text, in any
    field at any depth, holding a character that XML cannot hold (control characters but tab and newline,
    U+FFFE/U+FFFF, lone surrogates), since every export to Word must open."""

    @pre_load
    def _refuse_unstorable_text(self, data: Any, **_: Any) -> Any:
        errors = invalid_text_fields(data)
        if errors:
            raise ValidationError(errors)
        return data


def storable_text(value: str) -> None:
    """A field validator for text outside a StrictSchema (a dict's keys): the same characters refused."""
    if invalid_character(value) is not None:
        raise ValidationError(INVALID_CHARACTER_MESSAGE)


class ErrorBodySchema(Schema):
    code = fields.Str(required=True, metadata={"description": "Stable English code, e.g. invalid_transition"})
    message = fields.Str(required=True, metadata={"description": "Message for the user (Chinese)"})
    details = fields.Dict(metadata={"description": "Field errors or context"})


class ErrorSchema(Schema):
    error = fields.Nested(ErrorBodySchema, required=True)


class PageArgsSchema(StrictSchema):
    page = Int64(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = Int64(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


class PageSchema(Schema):
    total = Int64(required=True)
    page = Int64(required=True)
    per_page = Int64(required=True)


class CursorPageArgsSchema(StrictSchema):
    """Paging by ``page`` (1 when neither is given) or, for deep pages, by the ``next_cursor`` of the page before."""

    page = Int64(load_default=None, validate=validate.Range(min=1, max=MAX_PAGE),
                 metadata={"description": "Page number (default 1); not with cursor"})
    per_page = Int64(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))
    cursor = fields.Str(load_default=None, validate=validate.Length(min=1, max=1024),
                        metadata={"description": "next_cursor of the previous page: continues right after its last "
                                                 "row, as fast on a deep page as on the first"})

    @validates_schema
    def _page_or_cursor(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if data.get("page") is not None and data.get("cursor") is not None:
            raise ValidationError("page 与 cursor 只能用一个", "cursor")


class CursorPageSchema(PageSchema):
    page = Int64(required=True, allow_none=True, metadata={"description": "null when the page was asked by cursor"})
    next_cursor = fields.Str(required=True, allow_none=True,
                             metadata={"description": "Send as cursor for the next page; null on the last page"})


def page_of(item_schema: type[Schema], name: str, *, cursor: bool = False) -> type[Schema]:
    """A named list schema ``{"items": [...], "total", "page", "per_page"}`` for ``item_schema`` (with
    ``next_cursor`` for lists paged by keyset)."""
    base = CursorPageSchema if cursor else PageSchema
    return type(name, (base,), {"items": fields.List(fields.Nested(item_schema), required=True)})

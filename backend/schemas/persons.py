"""Schemas of person profiles (好人 / 名家 / 乡贤) and their workflow actions."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from backend.models.person import CATEGORIES, GENDERS, STATUSES
from backend.schemas.common import CursorPageArgsSchema, Int64, StrictSchema, page_of
from backend.services.persons import MAX_ALIAS_LENGTH, MAX_ALIASES, PERSON_ACTIONS, SORTS


class HonourSchema(StrictSchema):
    title = fields.Str(required=True, validate=validate.Length(min=1, max=255))
    year = Int64(allow_none=True, validate=validate.Range(min=1000, max=2999))
    conferred_by = fields.Str(allow_none=True, validate=validate.Length(max=255))


class AreaSchema(StrictSchema):
    district = fields.Str(allow_none=True, validate=validate.Length(max=64), metadata={"description": "区/县"})
    town = fields.Str(allow_none=True, validate=validate.Length(max=64), metadata={"description": "镇/街道"})
    village = fields.Str(allow_none=True, validate=validate.Length(max=64), metadata={"description": "村/社区"})


_partial_date = {"allow_none": True, "validate": validate.Length(max=10),
                 "metadata": {"description": "YYYY, YYYY-MM or YYYY-MM-DD", "example": "1938-05"}}


class PersonInputSchema(StrictSchema):
    category = fields.Str(required=True, validate=validate.OneOf(CATEGORIES),
                          metadata={"description": "good_person 好人 / notable 名家 / local_worthy 乡贤"})
    name = fields.Str(required=True, validate=validate.Length(min=1, max=128))
    aliases = fields.List(fields.Str(validate=validate.Length(max=MAX_ALIAS_LENGTH)),
                          validate=validate.Length(max=MAX_ALIASES),
                          metadata={"description": f"别名、字号、尊称: at most {MAX_ALIASES}, each at most "
                                                   f"{MAX_ALIAS_LENGTH} characters (every alias is indexed "
                                                   "for search)"})
    gender = fields.Str(allow_none=True, validate=validate.OneOf(GENDERS))
    ethnicity = fields.Str(allow_none=True, validate=validate.Length(max=32), metadata={"description": "民族"})
    birth_date = fields.Str(**_partial_date)
    death_date = fields.Str(**_partial_date)
    native_place = fields.Str(allow_none=True, validate=validate.Length(max=255), metadata={"description": "籍贯"})
    area = fields.Nested(AreaSchema, allow_none=True)
    occupation = fields.Str(allow_none=True, validate=validate.Length(max=255))
    honours = fields.List(fields.Nested(HonourSchema), validate=validate.Length(max=100))
    biography = fields.Str(validate=validate.Length(max=200_000), metadata={"description": "Markdown"})
    tags = fields.List(fields.Str(validate=validate.Length(min=1, max=64)), validate=validate.Length(max=50))
    id_number = fields.Str(allow_none=True, validate=validate.Length(max=32),
                           metadata={"description": "居民身份证号码 (GB 11643 check digit verified)"})
    phone = fields.Str(allow_none=True, validate=validate.Length(max=32))
    address = fields.Str(allow_none=True, validate=validate.Length(max=255))
    client_uuid = fields.UUID(allow_none=True, metadata={
        "description": "Chosen by the phone for a profile drafted offline; resending it returns the same profile"})


class PersonUpdateSchema(PersonInputSchema):
    """A PATCH may leave out any field, but what it sends is whole: ``partial`` names only the top-level required
    fields (``partial=True`` would reach into nested ones and let an honour without a title through)."""

    TOP_LEVEL_REQUIRED = ("category", "name")

    class Meta:
        exclude = ("client_uuid",)


class PersonSchema(Schema):
    id = Int64()
    client_uuid = fields.Str(allow_none=True)
    category = fields.Str()
    status = fields.Str(metadata={"enum": list(STATUSES)})
    version = Int64()
    name = fields.Str()
    name_pinyin = fields.Str()
    aliases = fields.List(fields.Str())
    gender = fields.Str(allow_none=True)
    ethnicity = fields.Str(allow_none=True)
    birth_date = fields.Str(allow_none=True)
    death_date = fields.Str(allow_none=True)
    native_place = fields.Str(allow_none=True)
    area = fields.Nested(AreaSchema)
    occupation = fields.Str(allow_none=True)
    honours = fields.List(fields.Nested(HonourSchema))
    biography = fields.Str()
    tags = fields.List(fields.Str())
    id_number = fields.Str(allow_none=True, metadata={"description": "Masked unless archivist or admin"})
    phone = fields.Str(allow_none=True, metadata={"description": "Masked unless archivist or admin"})
    address = fields.Str(allow_none=True, metadata={"description": "Masked unless archivist or admin"})
    personal_data_masked = fields.Bool()
    actions = fields.List(fields.Str(validate=validate.OneOf(PERSON_ACTIONS)), metadata={
        "description": "What you may do with the profile now: edit, submit, approve, return, publish, withdraw, "
                       "delete, record_consent, withdraw_consent (publish still needs the checklist)"})
    archival_code = fields.Str(allow_none=True, metadata={"description": "档号, given when first approved and never changed, e.g. LYG-RW-2026-0001"})
    return_comment = fields.Str(allow_none=True)
    created_by = Int64(attribute="created_by_id")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    withdrawn_at = fields.DateTime(allow_none=True)


PersonPageSchema = page_of(PersonSchema, "PersonPageSchema", cursor=True)


class PersonListArgsSchema(CursorPageArgsSchema):
    category = fields.Str(validate=validate.OneOf(CATEGORIES))
    status = fields.Str(validate=validate.OneOf(STATUSES))
    area = fields.Str(validate=validate.Length(max=64), metadata={"description": "District, town or village"})
    created_by = Int64()
    tag = fields.Str(validate=validate.Length(max=64))
    q = fields.Str(validate=validate.Length(max=64),
                   metadata={"description": "Name, alias, pinyin or initials; or the start of a 档号"})
    archival_code = fields.Str(validate=validate.Length(min=1, max=64), metadata={
        "description": "档号 or its start: a whole code, or a series such as LYG-RW-2026"})
    sort = fields.Str(load_default="-updated", validate=validate.OneOf(list(SORTS)))


class TransitionSchema(StrictSchema):
    comment = fields.Str(validate=validate.Length(max=5000))


class ChecklistSchema(Schema):
    publishable = fields.Bool()
    missing = fields.List(fields.Str(), metadata={"description": "e.g. biography, material, consent_public"})
    labels = fields.List(fields.Str(), metadata={"description": "The same, in Chinese"})


_HONOUR_KEYS = tuple(HonourSchema().fields)
_PLAIN_FIELDS = ("client_uuid", "category", "status", "name", "name_pinyin", "gender", "ethnicity", "birth_date",
                 "death_date", "native_place", "occupation", "biography", "id_number", "phone", "address",
                 "archival_code", "return_comment")
_TIME_FIELDS = ("created_at", "updated_at", "submitted_at", "approved_at", "published_at", "withdrawn_at")


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def dump_person(person: Any) -> dict[str, Any]:
    """What ``PersonSchema().dump(person)`` gives (without ``personal_data_masked`` and ``actions``, which the view
    adds), built directly: a list page pays about a tenth of marshmallow's per-field cost. A test holds the two
    equal on every field."""
    data: dict[str, Any] = {"id": person.id, "version": person.version}
    for name in _PLAIN_FIELDS:
        data[name] = getattr(person, name)
    data["aliases"] = list(person.aliases or [])
    data["area"] = {"district": person.area_district, "town": person.area_town, "village": person.area_village}
    data["honours"] = [{key: honour[key] for key in _HONOUR_KEYS if key in honour} for honour in person.honours or []]
    data["tags"] = person.tags
    data["created_by"] = person.created_by_id
    for name in _TIME_FIELDS:
        data[name] = _iso(getattr(person, name))
    return data

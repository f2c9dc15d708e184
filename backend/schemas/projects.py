"""Schemas of collection projects (采集项目, the DA/T 59 采集方案 fields) and of collection receipts."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.models import METHODS, PROJECT_STATUSES
from backend.schemas.common import Int64, PageArgsSchema, StrictSchema, page_of


class ProjectInputSchema(StrictSchema):
    title = fields.Str(required=True, validate=validate.Length(min=1, max=255), metadata={"description": "主题"})
    content = fields.Str(validate=validate.Length(max=20000), metadata={"description": "内容"})
    background = fields.Str(validate=validate.Length(max=20000), metadata={"description": "历史背景"})
    person_ids = fields.List(Int64(), validate=validate.Length(max=500), metadata={"description": "口述者"})
    planned_start = fields.Date(allow_none=True, metadata={"description": "时间：计划开始"})
    planned_end = fields.Date(allow_none=True, metadata={"description": "时间：计划结束"})
    place = fields.Str(allow_none=True, validate=validate.Length(max=255), metadata={"description": "地点"})
    methods = fields.List(fields.Str(validate=validate.OneOf(METHODS)), validate=validate.Length(max=len(METHODS)),
                          metadata={"description": "方式: audio 录音, video 录像, photo 照相, document 文献征集"})
    budget = fields.Str(allow_none=True, validate=validate.Length(max=255),
                        metadata={"description": "经费, e.g. 5万元（市档案馆专项）"})
    equipment = fields.Str(validate=validate.Length(max=5000), metadata={"description": "设备"})
    collector_ids = fields.List(Int64(), validate=validate.Length(max=200),
                                metadata={"description": "采集者: users who see the project and file into it"})
    is_public = fields.Bool(metadata={"description": "A themed collection shown in the public API (its published "
                                                     "content only)"})
    status = fields.Str(validate=validate.OneOf(PROJECT_STATUSES), metadata={
        "description": "planned → collecting → closed (PATCH moves it one step; a new project is planned)"})


class ProjectUpdateSchema(ProjectInputSchema):
    TOP_LEVEL_REQUIRED = ("title",)


class ProjectSchema(Schema):
    id = Int64()
    version = Int64()
    status = fields.Str(metadata={"enum": list(PROJECT_STATUSES)})
    title = fields.Str()
    content = fields.Str()
    background = fields.Str()
    person_ids = fields.List(Int64(), metadata={"description": "The narrators you may see"})
    planned_start = fields.Date(allow_none=True)
    planned_end = fields.Date(allow_none=True)
    place = fields.Str(allow_none=True)
    methods = fields.List(fields.Str(metadata={"enum": list(METHODS)}))
    budget = fields.Str(allow_none=True)
    equipment = fields.Str()
    collector_ids = fields.List(Int64())
    is_public = fields.Bool()
    interviews = Int64(metadata={"description": "Interviews filed into the project that you may see"})
    materials = Int64(metadata={"description": "Materials filed into the project that you may see"})
    created_by = Int64(attribute="created_by_id")
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    closed_at = fields.DateTime(allow_none=True)


ProjectPageSchema = page_of(ProjectSchema, "ProjectPageSchema")


class ProjectListArgsSchema(PageArgsSchema):
    status = fields.Str(validate=validate.OneOf(PROJECT_STATUSES))
    q = fields.Str(validate=validate.Length(max=64), metadata={"description": "In the title or the place"})
    collector = Int64(metadata={"description": "Projects this user is assigned to"})
    person_id = Int64(metadata={"description": "Projects with this narrator"})


class ReceiptArgsSchema(StrictSchema):
    format = fields.Str(load_default="html", validate=validate.OneOf(["html", "pdf"]))

"""Collection project endpoints (采集项目): list, create, read and edit (with If-Match) a project, and its receipt."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api.base import expected_version, if_match_doc, login_required, versioned_json
from backend.models import Project
from backend.schemas.projects import (ProjectInputSchema, ProjectListArgsSchema, ProjectPageSchema, ProjectSchema,
                                      ProjectUpdateSchema, ReceiptArgsSchema)
from backend.services import policy
from backend.services import projects as project_service
from backend.services import receipts as receipt_service
from backend.services.policy import Permission
from media.storage.base import content_disposition

blp = Blueprint("projects", __name__, url_prefix="/api/v1/projects",
                description="采集项目（DA/T 59 采集方案；专题记忆库） / Collection projects")
_schema = ProjectSchema()


def serialise(project: Project) -> dict[str, Any]:
    """A project as its GET shows it to the signed-in user: the narrators and the counts of what they may see."""
    data = _schema.dump(project)
    data["person_ids"] = policy.visible_person_ids(current_user, project.person_ids)
    data.update(project_service.contents_seen_by(current_user, project))
    return data


def _answer(project: Project, status: int = 200) -> Response:
    return versioned_json(serialise(project), project.version, status)


@blp.route("", methods=["GET"])
@blp.arguments(ProjectListArgsSchema, location="query")
@blp.response(200, ProjectPageSchema)
@login_required()
def list_projects(args: dict[str, Any]) -> Response:
    """Projects: staff see all, collectors the projects they are assigned to (collector_ids)."""
    page = project_service.list_projects(current_user, **args)
    return jsonify({"items": [serialise(p) for p in page.items], "total": page.total, "page": page.page,
                    "per_page": page.per_page})


@blp.route("", methods=["POST"])
@blp.arguments(ProjectInputSchema)
@blp.response(201, ProjectSchema)
@login_required(Permission.PROJECT_MANAGE)
def create_project(data: dict[str, Any]) -> Response:
    """Plan a collection project (archivist): the DA/T 59 采集方案 fields; it starts as planned."""
    return _answer(project_service.create_project(current_user, data), 201)


@blp.route("/<int:project_id>", methods=["GET"])
@blp.response(200, ProjectSchema, headers={"ETag": {"schema": {"type": "string"}}})
@login_required()
def get_project(project_id: int) -> Response:
    """One project; its version is the ETag."""
    return _answer(project_service.get_project(current_user, project_id))


@blp.route("/<int:project_id>", methods=["PATCH"])
@blp.arguments(ProjectUpdateSchema(partial=ProjectUpdateSchema.TOP_LEVEL_REQUIRED))
@blp.response(200, ProjectSchema)
@blp.alt_response(409, description="A status step that is not allowed (planned → collecting → closed)")
@if_match_doc(blp)
@login_required(Permission.PROJECT_MANAGE)
def update_project(data: dict[str, Any], project_id: int) -> Response:
    """Edit a project, assign collectors, or move its status one step (archivist; send If-Match)."""
    return _answer(project_service.update_project(current_user, project_id, data,
                                                  expected_version=expected_version()))


@blp.route("/<int:project_id>/receipt", methods=["GET"])
@blp.arguments(ReceiptArgsSchema, location="query")
@blp.response(200, description="征集接收清单 as printable HTML (text/html) or PDF (application/pdf)")
@blp.alt_response(404, description="No such project")
@login_required(Permission.RECEIPT_ISSUE)
def project_receipt(args: dict[str, Any], project_id: int) -> Response:
    """The collection receipt (征集接收清单) of a project: what was filed into it and its interviews: every material received with its 档号, kind, size or
    duration, dates and fixity, counts per kind, signature lines; `format=html` (default) or `pdf` (archivist)."""
    body, content_type, filename = receipt_service.for_project(current_user, project_id, args["format"])
    return Response(body, content_type=content_type,
                    headers={"Content-Disposition": content_disposition(filename, "inline")})

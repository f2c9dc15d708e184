"""Interview endpoints, and the materials of a person."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.services.policy import Permission
from backend.api import materials as material_api
from backend.api.base import expected_version, if_match_doc, login_required, versioned_json
from backend.models import Interview
from backend.schemas.materials import (
    InterviewInputSchema,
    InterviewListArgsSchema,
    InterviewPageSchema,
    InterviewSchema,
    MaterialListArgsSchema,
    MaterialPageSchema,
)
from backend.services import interviews as interview_service
from backend.services import materials as material_service
from backend.services import persons as person_service
from backend.services import policy

blp = Blueprint("interviews", __name__, url_prefix="/api/v1", description="访谈 / Interviews")
_schema = InterviewSchema()


def serialise(interview: Interview) -> dict[str, Any]:
    """An interview as GET /interviews/{id} shows it to the signed-in user (the offline sync sends the same):
    interviewees and the consent form only where they may see those."""
    data = _schema.dump(interview)
    data["interviewee_ids"] = policy.visible_person_ids(current_user, interview.interviewee_ids)
    data["consent_material_id"] = policy.shown_material_id(current_user, interview.consent_material_id)
    data["project_id"] = policy.shown_project_id(current_user, interview.project_id)
    return data


def _answer(interview: Interview, status: int = 200) -> Response:
    return versioned_json(serialise(interview), interview.version, status)


@blp.route("/interviews", methods=["GET"])
@blp.arguments(InterviewListArgsSchema, location="query")
@blp.response(200, InterviewPageSchema)
@login_required()
def list_interviews(args: dict[str, Any]) -> Response:
    """Interviews (collectors: their own)."""
    page = interview_service.list_interviews(current_user, **args)
    return jsonify({"items": [serialise(i) for i in page.items], "total": page.total, "page": page.page,
                    "per_page": page.per_page})


@blp.route("/interviews", methods=["POST"])
@blp.arguments(InterviewInputSchema)
@blp.response(201, InterviewSchema)
@login_required(Permission.INTERVIEW_CREATE)
def create_interview(data: dict[str, Any]) -> Response:
    """Record an interview: date, place, interviewers, interviewees (persons), language or dialect, consent form."""
    return _answer(interview_service.create_interview(current_user, data), 201)


@blp.route("/interviews/<int:interview_id>", methods=["GET"])
@blp.response(200, InterviewSchema)
@login_required()
def get_interview(interview_id: int) -> Response:
    """One interview."""
    return _answer(interview_service.get_interview(current_user, interview_id))


@blp.route("/interviews/<int:interview_id>", methods=["PATCH"])
@blp.arguments(InterviewInputSchema)
@blp.response(200, InterviewSchema)
@if_match_doc(blp)
@login_required()
def update_interview(data: dict[str, Any], interview_id: int) -> Response:
    """Edit an interview (send If-Match)."""
    return _answer(interview_service.update_interview(current_user, interview_id, data,
                                                      expected_version=expected_version()))


@blp.route("/interviews/<int:interview_id>/approve", methods=["POST"])
@blp.response(200, InterviewSchema)
@blp.alt_response(409, description="Already approved (it has its 档号)")
@if_match_doc(blp)
@login_required(Permission.INTERVIEW_APPROVE)
def approve_interview(interview_id: int) -> Response:
    """Accept the interview into the archive (archivist): it gets its 档号 (archival_code). Approving a transcript
    of one of its recordings does the same."""
    return _answer(interview_service.approve_interview(current_user, interview_id,
                                                       expected_version=expected_version()))


@blp.route("/interviews/<int:interview_id>", methods=["DELETE"])
@blp.response(204)
@login_required()
def delete_interview(interview_id: int) -> None:
    """Delete an interview that has no materials and no 档号 yet (its creator or an admin)."""
    interview_service.delete_interview(current_user, interview_id)


@blp.route("/persons/<int:person_id>/materials", methods=["GET"])
@blp.arguments(MaterialListArgsSchema, location="query")
@blp.response(200, MaterialPageSchema)
@login_required()
def person_materials(args: dict[str, Any], person_id: int) -> Response:
    """The materials linked to a person that you may see."""
    person = person_service.get_person(current_user, person_id)
    args.pop("person_id", None)
    return material_api.page_json(material_service.list_materials(current_user, person_id=person.id, **args))

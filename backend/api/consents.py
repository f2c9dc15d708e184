"""Consent (授权书) endpoints of a person: list, record the signed form, withdraw."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.api.base import login_required
from backend.models import Consent
from backend.schemas.common import PageArgsSchema
from backend.schemas.consents import ConsentInputSchema, ConsentPageSchema, ConsentSchema, ConsentWithdrawSchema
from backend.services import consents as consent_service
from backend.services import policy

blp = Blueprint("consents", __name__, url_prefix="/api/v1/persons", description="授权书 / Consents")
_schema = ConsentSchema()


def serialise(consent: Consent) -> dict[str, Any]:
    """A consent as the caller may see it: the signed form and the interview only where they may see those."""
    data = _schema.dump(consent)
    data["material_id"] = policy.shown_material_id(current_user, consent.material_id)
    data["interview_id"] = policy.shown_interview_id(current_user, consent.interview_id)
    return data


@blp.route("/<int:person_id>/consents", methods=["GET"])
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, ConsentPageSchema)
@login_required()
def list_consents(args: dict[str, Any], person_id: int) -> Any:
    """A person's consents, newest first, active and withdrawn (anyone who may see the person)."""
    page = consent_service.list_consents(current_user, person_id, **args)
    return jsonify({"items": [serialise(c) for c in page.items], "total": page.total, "page": page.page,
                    "per_page": page.per_page})


@blp.route("/<int:person_id>/consents", methods=["POST"])
@blp.arguments(ConsentInputSchema)
@blp.response(201, ConsentSchema)
@blp.alt_response(403, description="Not an archivist, an admin or the profile's creator")
@blp.alt_response(422, description="Unknown scope, signed_at in the future, a material or interview you cannot see")
@login_required()
def record_consent(data: dict[str, Any], person_id: int) -> Response:
    """Record a signed consent: archivists, admins, and the collector who created the profile (they collect the
    signed form in the field). Publishing a profile needs an active person-wide consent of scope ``public``."""
    response = jsonify(serialise(consent_service.record_consent(current_user, person_id, data)))
    response.status_code = 201
    return response


@blp.route("/<int:person_id>/consents/<int:consent_id>/withdraw", methods=["POST"])
@blp.arguments(ConsentWithdrawSchema(), required=False)
@blp.response(200, ConsentSchema)
@blp.alt_response(409, description="Already withdrawn")
@login_required()
def withdraw_consent(body: dict[str, Any] | None, person_id: int, consent_id: int) -> Any:
    """Withdraw a consent (archivists, admins). When no public consent remains, a published profile is withdrawn
    at once and nothing of the person is served publicly any more."""
    return jsonify(serialise(consent_service.withdraw_consent(current_user, person_id, consent_id,
                                                              reason=(body or {}).get("reason"))))

"""Person profile endpoints: list, create, read, edit, delete drafts, and the approval workflow actions."""

from __future__ import annotations

from typing import Any, Sequence

from flask import Response, jsonify
from flask_jwt_extended import current_user, get_current_user
from flask_smorest import Blueprint

from backend.services.policy import Permission
from backend.api.base import expected_version, if_match_doc, login_required, versioned_json
from backend.api.xml import xml_response
from backend.schemas.interop import PersonFormatArgsSchema, xml_alternative
from backend.models import Person
from backend.schemas.projects import ReceiptArgsSchema
from backend.schemas.persons import (
    ChecklistSchema,
    PersonInputSchema,
    PersonListArgsSchema,
    PersonPageSchema,
    PersonSchema,
    PersonUpdateSchema,
    TransitionSchema,
    dump_person,
)
from backend.services import persons as person_service
from backend.services import crosswalks, policy, publication
from backend.services import receipts as receipt_service
from media.storage.base import content_disposition
from backend.services.identity import mask_address, mask_id_number, mask_phone

# Changes that may be made without If-Match (person_service.needs_if_match).
DRAFT_EXEMPTION = "a collector's own draft that nobody else has changed yet"
blp = Blueprint("persons", __name__, url_prefix="/api/v1/persons",
                description="人物档案（好人 / 名家 / 乡贤） / Person profiles")


def serialise_many(persons: Sequence[Person]) -> list[dict[str, Any]]:
    """The profiles as the caller may see them: personal data masked unless their role needs it, and what they
    may do with each (PersonSchema's shape, built by dump_person: marshmallow's dump was most of a list page)."""
    actor = get_current_user()  # once: each use of the current_user proxy looks the user up again
    masked = not policy.sees_personal_data(actor)
    items = []
    for person in persons:
        data = dump_person(person)
        if masked:
            data["id_number"] = mask_id_number(person.id_number)
            data["phone"] = mask_phone(person.phone)
            data["address"] = mask_address(person.address)
        data["personal_data_masked"] = masked
        data["actions"] = person_service.available_actions(actor, person)
        items.append(data)
    return items


def serialise(person: Person) -> dict[str, Any]:
    return serialise_many([person])[0]


def _answer(person: Person, status: int = 200) -> Response:
    return versioned_json(serialise(person), person.version, status)


@blp.route("", methods=["GET"])
@blp.arguments(PersonListArgsSchema, location="query")
@blp.response(200, PersonPageSchema)
@login_required()
def list_persons(args: dict[str, Any]) -> Response:
    """List profiles: collectors see their own plus published ones; staff see all."""
    page = person_service.list_persons(current_user, **args)
    return jsonify({"items": serialise_many(page.items), "total": page.total,
                    "page": page.page, "per_page": page.per_page, "next_cursor": page.next_cursor})


@blp.route("", methods=["POST"])
@blp.arguments(PersonInputSchema)
@blp.response(201, PersonSchema, description="Created (200 when the client_uuid was already synced)")
@blp.alt_response(422, description="Invalid fields (ID number check digit, dates, …)")
@login_required(Permission.PERSON_CREATE)
def create_person(data: dict[str, Any]) -> Response:
    """Create a draft profile. Send Idempotency-Key (or client_uuid) so retries never make duplicates."""
    if data.get("client_uuid") is not None:
        data["client_uuid"] = str(data["client_uuid"])
    person, created = person_service.create_person(current_user, data)
    return _answer(person, 201 if created else 200)


@blp.route("/<int:person_id>", methods=["GET"])
@blp.arguments(PersonFormatArgsSchema, location="query")
@blp.response(200, PersonSchema, headers={"ETag": {"schema": {"type": "string"}}})
@blp.doc(**xml_alternative(PersonSchema, "The profile: JSON, or EAC-CPF 2010 / Dublin Core XML as `format` asks",
                            etag=True))
@login_required()
def get_person(args: dict[str, Any], person_id: int) -> Response:
    """One profile; its version is the ETag. `format=eac-cpf` gives its EAC-CPF record (no personal data: made to
    leave the archive), `format=dc` a Dublin Core summary."""
    person = person_service.get_person(current_user, person_id)
    if args["format"] == "eac-cpf":
        return xml_response(crosswalks.eac_cpf_document(person, audience="staff", actor=current_user),
                            f"person-{person.id}.eac-cpf.xml")
    if args["format"] == "dc":
        return xml_response(crosswalks.dublin_core_document(person, audience="staff"), f"person-{person.id}.dc.xml")
    return _answer(person)


@blp.route("/<int:person_id>", methods=["PATCH"])
@blp.arguments(PersonUpdateSchema(partial=PersonUpdateSchema.TOP_LEVEL_REQUIRED))
@blp.response(200, PersonSchema)
@if_match_doc(blp, exemption=DRAFT_EXEMPTION)
@login_required()
def update_person(data: dict[str, Any], person_id: int) -> Response:
    """Edit fields of a profile (collectors: own drafts/returned; editors: anything not yet approved)."""
    person = person_service.update_person(current_user, person_id, data, expected_version=expected_version())
    return _answer(person)


@blp.route("/<int:person_id>", methods=["DELETE"])
@blp.response(204)
@blp.alt_response(409, description="Not a draft: withdraw it instead")
@login_required()
def delete_person(person_id: int) -> None:
    """Delete a draft (its creator or an admin). Anything further along is withdrawn, never destroyed."""
    person_service.delete_person(current_user, person_id)


@blp.route("/<int:person_id>/checklist", methods=["GET"])
@blp.response(200, ChecklistSchema)
@login_required()
def checklist(person_id: int) -> dict[str, Any]:
    """What is still missing before the profile can be published (fields, a material, a public consent)."""
    person = person_service.get_person(current_user, person_id)
    missing = publication.missing_items(person)
    return {"publishable": not missing, "missing": missing,
            "labels": [publication.LABELS.get(item, item) for item in missing]}


def _transition_view(action: str, doc: str):
    @login_required()
    def view(body: dict[str, Any] | None, person_id: int) -> Response:
        person = person_service.transition(current_user, person_id, action, comment=(body or {}).get("comment"),
                                           expected_version=expected_version())
        return _answer(person)

    view.__name__ = f"{action}_person"
    view.__doc__ = doc
    blp.route(f"/<int:person_id>/{action}", methods=["POST"])(
        blp.arguments(TransitionSchema(), required=False)(
            blp.response(200, PersonSchema)(
                blp.alt_response(409, description="Not allowed from the current status")(
                    if_match_doc(blp, exemption=DRAFT_EXEMPTION if action == "submit" else None)(view)))))


_transition_view("submit", "Submit a draft (or a returned profile) for review.")
_transition_view("approve", "Approve a submitted profile (archivist).")
_transition_view("return", "Return a profile to its collector with a comment (archivist).")
_transition_view("publish", "Publish an approved profile (archivist).")
_transition_view("withdraw", "Withdraw a profile from use; it is kept, never destroyed (archivist).")


@blp.route("/<int:person_id>/receipt", methods=["GET"])
@blp.arguments(ReceiptArgsSchema, location="query")
@blp.response(200, description="征集接收清单 as printable HTML (text/html) or PDF (application/pdf)")
@blp.alt_response(404, description="No such person")
@login_required(Permission.RECEIPT_ISSUE)
def person_receipt(args: dict[str, Any], person_id: int) -> Response:
    """The collection receipt (征集接收清单) of a narrator or donor: the materials linked to the person and those of their interviews: every material received with its 档号, kind, size or
    duration, dates and fixity, counts per kind, signature lines; `format=html` (default) or `pdf` (archivist)."""
    body, content_type, filename = receipt_service.for_person(current_user, person_id, args["format"])
    return Response(body, content_type=content_type,
                    headers={"Content-Disposition": content_disposition(filename, "inline")})

"""Public archive endpoints (no login): published, consented profiles, their open materials (playback proxies and
pictures only) and approved transcripts; rate-limited per client address, counted in the database."""

from __future__ import annotations

import math
import re
from typing import Any

from flask import Response, current_app, jsonify, url_for
from flask_smorest import Blueprint
from werkzeug.wrappers import Response as BaseResponse

from backend import transaction
from backend.api import search as search_api
from backend.api.base import client_address
from backend.api.streaming import send_stored
from backend.errors import TooManyRequests
from backend.api.xml import xml_response
from backend.schemas.interop import PersonFormatArgsSchema, RecordFormatArgsSchema, xml_alternative
from backend.schemas.public import (PublicContentArgsSchema, PublicInterviewSchema, PublicMaterialDetailSchema,
                                    PublicPersonListArgsSchema, PublicPersonPageSchema, PublicPersonSchema,
                                    PublicProjectListArgsSchema, PublicProjectPageSchema, PublicProjectSchema,
                                    PublicTranscriptSchema)
from backend.services import crosswalks
from backend.schemas.search import PublicSearchArgsSchema, SearchPageSchema
from backend.services import public as public_service
from backend.services import search as search_service
from backend.services import rate_limits
from backend.services.storage import get_storage

blp = Blueprint("public", __name__, url_prefix="/api/public",
                description="公开档案（无需登录） / Public archive: published profiles, open materials, approved "
                            "transcripts. Rate-limited per client address (LIUFANG_PUBLIC_RATE_LIMIT).")
NO_AUTH: dict[str, Any] = {"security": []}  # OpenAPI: no bearer token


# --- rate limit -------------------------------------------------------------------------------------------------

_PERIODS = {"second": 1.0, "minute": 60.0, "hour": 3600.0, "day": 86400.0}
_LIMIT_RE = re.compile(r"^\s*(\d+)\s*/\s*(?:(\d+(?:\.\d+)?)\s*)?(second|minute|hour|day|s|m|h|d)s?\s*$", re.IGNORECASE)


def parse_rate_limit(text: str) -> tuple[int, float] | None:
    """``"120/minute"`` → (120, 60.0); ``"10/30s"`` → (10, 30.0); ``"off"`` or ``"0"`` → None (no limit)."""
    if text.strip().lower() in ("off", "none", "0", ""):
        return None
    match = _LIMIT_RE.match(text)
    if match is None:
        raise ValueError(f"rate limit should look like 120/minute or 10/30s: {text!r}")
    count, multiple, unit = int(match.group(1)), float(match.group(2) or 1), match.group(3).lower()
    seconds = _PERIODS.get(unit) or {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}[unit]
    return (count, multiple * seconds) if count > 0 else None


@blp.before_request
def _rate_limit() -> None:
    """Count the request against its client (the real one behind trusted proxies) in the database, in a unit of
    work of its own: what the view then does, and whether it fails, does not undo the count."""
    limit = parse_rate_limit(current_app.config.get("PUBLIC_RATE_LIMIT") or "off")
    if limit is None:
        return
    with transaction.atomic():
        retry_after = rate_limits.hit("public", client_address(), *limit)
    if retry_after is not None:
        raise TooManyRequests(details={"limit": limit[0], "period_seconds": limit[1]},
                              headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


# --- serialisation: only what the public may see ----------------------------------------------------------------

def _person_summary(person: Any) -> dict[str, Any]:
    return {"id": person.id, "category": person.category,
            "category_label": public_service.category_label(person.category), "name": person.name,
            "name_pinyin": person.name_pinyin, "aliases": person.aliases or [], "area": person.area,
            "occupation": person.occupation, "tags": person.tags, "archival_code": person.archival_code,
            "url": url_for("public.get_person", person_id=person.id)}


def _material(item: public_service.PublicMaterial) -> dict[str, Any]:
    material = item.material
    return {"id": material.id, "kind": material.kind, "title": item.title, "description": material.description,
            "captured_at": material.captured_at, "duration": item.duration,
            "content": {variant: url_for("public.material_content", material_id=material.id, variant=variant)
                        for variant in item.variants},
            "transcripts": [{"id": tid, "url": url_for("public.get_transcript", transcript_id=tid)}
                            for tid in item.transcript_ids]}


# --- endpoints --------------------------------------------------------------------------------------------------

@blp.route("/persons", methods=["GET"])
@blp.arguments(PublicPersonListArgsSchema, location="query")
@blp.response(200, PublicPersonPageSchema)
@blp.alt_response(429, description="Too many requests: see Retry-After")
@blp.doc(**NO_AUTH)
def list_persons(args: dict[str, Any]) -> dict[str, Any]:
    """Published profiles whose person consented to publication, by pinyin (filters: category, area, q)."""
    page = public_service.list_persons(**args)
    return {"items": [_person_summary(person) for person in page.items], "total": page.total,
            "page": page.page, "per_page": page.per_page, "next_cursor": page.next_cursor}


@blp.route("/search", methods=["GET"])
@blp.arguments(PublicSearchArgsSchema, location="query")
@blp.response(200, SearchPageSchema)
@blp.alt_response(429, description="Too many requests: see Retry-After")
@blp.doc(**NO_AUTH)
def search(args: dict[str, Any]) -> Response:
    """Search what the public archive shows: approved transcripts (never a redacted segment), public profiles and
    their public materials. Same query language and answer as GET /api/v1/search."""
    return jsonify(search_api.serialise(search_service.search(None, **args), public=True))


@blp.route("/persons/<int:person_id>", methods=["GET"])
@blp.arguments(PersonFormatArgsSchema, location="query")
@blp.response(200, PublicPersonSchema)
@blp.alt_response(404, description="No such public profile (missing, unpublished or without public consent)")
@blp.doc(**NO_AUTH, **xml_alternative(PublicPersonSchema,
                                     "The profile: JSON, or EAC-CPF 2010 / Dublin Core XML as `format` asks"))
def get_person(args: dict[str, Any], person_id: int) -> dict[str, Any] | Response:
    """A public profile with biography, honours and its public materials (proxies and pictures, never originals);
    `format=eac-cpf` gives its EAC-CPF record, `format=dc` a Dublin Core summary."""
    person = public_service.get_person(person_id)
    if args["format"] == "eac-cpf":
        return xml_response(crosswalks.eac_cpf_document(person, audience="public"), f"person-{person.id}.eac-cpf.xml")
    if args["format"] == "dc":
        return xml_response(crosswalks.dublin_core_document(person, audience="public"), f"person-{person.id}.dc.xml")
    return {**_person_summary(person), "gender": person.gender, "ethnicity": person.ethnicity,
            "birth_date": person.birth_date, "death_date": person.death_date, "native_place": person.native_place,
            "honours": person.honours or [], "biography": person.biography, "published_at": person.published_at,
            "materials": [_material(item) for item in public_service.materials_of(person)]}


@blp.route("/materials/<int:material_id>", methods=["GET"])
@blp.arguments(RecordFormatArgsSchema, location="query")
@blp.response(200, PublicMaterialDetailSchema)
@blp.alt_response(404, description="No such public material")
@blp.doc(**NO_AUTH, **xml_alternative(PublicMaterialDetailSchema,
                                     "The material: JSON, or Dublin Core (oai_dc) XML with `format=dc`"))
def get_material(args: dict[str, Any], material_id: int) -> dict[str, Any] | Response:
    """A public material: what it is, the public profiles it belongs to, its public versions and transcripts."""
    material = public_service.get_material(material_id)
    if args["format"] == "dc":
        return xml_response(crosswalks.dublin_core_document(material, audience="public"),
                            f"material-{material.id}.dc.xml")
    interview_id = public_service.public_interview_id(material)
    return {**_material(public_service.material_item(material)),
            "persons": [_person_summary(person) for person in public_service.persons_of_material(material)],
            "interview": None if interview_id is None else {
                "id": interview_id, "url": url_for("public.get_interview", interview_id=interview_id)},
            "url": url_for("public.get_material", material_id=material.id)}


@blp.route("/interviews/<int:interview_id>", methods=["GET"])
@blp.arguments(RecordFormatArgsSchema, location="query")
@blp.response(200, PublicInterviewSchema)
@blp.alt_response(404, description="No such public interview (none of its materials is public)")
@blp.doc(**NO_AUTH, **xml_alternative(PublicInterviewSchema,
                                     "The interview: JSON, or Dublin Core (oai_dc) XML with `format=dc`"))
def get_interview(args: dict[str, Any], interview_id: int) -> dict[str, Any] | Response:
    """A public interview (one with a public material): title, date, language, interviewees, public materials."""
    interview = public_service.get_interview(interview_id)
    if args["format"] == "dc":
        return xml_response(crosswalks.dublin_core_document(interview, audience="public"),
                            f"interview-{interview.id}.dc.xml")
    return {"id": interview.id, "title": interview.title, "date": interview.date, "language": interview.language,
            "interviewees": [_person_summary(person) for person in public_service.interviewees_of(interview)],
            "materials": [_material(item) for item in public_service.materials_of_interview(interview)],
            "url": url_for("public.get_interview", interview_id=interview.id)}


def _project_summary(project: Any) -> dict[str, Any]:
    return {"id": project.id, "title": project.title, "content": project.content, "background": project.background,
            "place": project.place, "planned_start": project.planned_start, "planned_end": project.planned_end,
            "methods": project.methods or [],
            "url": url_for("public.get_project", project_id=project.id)}


@blp.route("/projects", methods=["GET"])
@blp.arguments(PublicProjectListArgsSchema, location="query")
@blp.response(200, PublicProjectPageSchema)
@blp.alt_response(429, description="Too many requests: see Retry-After")
@blp.doc(**NO_AUTH)
def list_projects(args: dict[str, Any]) -> dict[str, Any]:
    """Themed collections (专题记忆库, e.g. 红色档案专题) that the archive shows to the public, newest first."""
    page = public_service.list_projects(**args)
    return {"items": [_project_summary(project) for project in page.items], "total": page.total,
            "page": page.page, "per_page": page.per_page}


@blp.route("/projects/<int:project_id>", methods=["GET"])
@blp.response(200, PublicProjectSchema)
@blp.alt_response(404, description="No such public project")
@blp.doc(**NO_AUTH)
def get_project(project_id: int) -> dict[str, Any]:
    """A public project with its published content only: public profiles and public materials."""
    project = public_service.get_project(project_id)
    materials = public_service.materials_of_project(project)
    return {**_project_summary(project),
            "persons": [_person_summary(person) for person in public_service.persons_of_project(project, materials)],
            "materials": [_material(item) for item in materials]}


@blp.route("/transcripts/<int:transcript_id>", methods=["GET"])
@blp.response(200, PublicTranscriptSchema)
@blp.alt_response(404, description="No such public transcript (missing, not approved, or its material not public)")
@blp.doc(**NO_AUTH)
def get_transcript(transcript_id: int) -> dict[str, Any]:
    """An approved transcript; segments touching a redacted range are left out whole."""
    public = public_service.get_transcript(transcript_id)
    transcript = public.transcript
    return {"id": transcript.id, "material_id": transcript.material_id,
            "material_url": url_for("public.material_content", material_id=transcript.material_id, variant="proxy"),
            "language": transcript.language, "duration": transcript.duration, "approved_at": transcript.approved_at,
            "redacted": public.redacted, "segments": public.segments}


@blp.route("/materials/<int:material_id>/content", methods=["GET"])
@blp.arguments(PublicContentArgsSchema, location="query")
@blp.response(200, description="The bytes (206 for a Range request), or 302 to a presigned URL on S3")
@blp.alt_response(404, description="No such public material, or no such public variant")
@blp.alt_response(409, description="The material has redactions and its public version is still being made")
@blp.doc(**NO_AUTH)
def material_content(args: dict[str, Any], material_id: int) -> BaseResponse:
    """Stream a public variant: proxy (redacted ranges silenced), poster or thumbnail, with Range and ETag."""
    material = public_service.get_material(material_id)
    derivative = public_service.content_derivative(material, args["variant"])
    download_name = public_service.public_download_name(material, derivative)
    # Caches must ask again each time (ETag → 304), so a material taken off the public archive stops at once.
    return send_stored(get_storage(), derivative.storage_key, size=derivative.size, sha256=derivative.sha256,
                       mime=derivative.mime, download_name=download_name, disposition="inline",
                       cache_control="public, no-cache", presign_for=current_app.config["PRESIGNED_EXPIRES"])

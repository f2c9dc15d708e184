"""The public archive (no login): which profiles, materials and transcripts may be published, and what of them.

A profile is public when it is ``published`` and its person has an active (not withdrawn), person-wide consent of
scope ``public``. A material is public when it is ``open``, ``ready``, past its embargo, linked to at least one public
profile, and every person whose consent it needs is public: the persons linked as interviewee or subject and the
interviewees of its interview (someone merely mentioned does not block it; what they said can be redacted).
A transcript is public when it is ``approved`` and its material is public; segments overlapping a redacted range
are left out whole. Anything else answers exactly like a missing id. The rules themselves, as SQL, are in
``backend.services.policy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, or_, select

from backend.errors import Conflict, NotFound
from backend.extensions import db
from backend.models import (Derivative, Interview, InterviewPerson, Material, Person, PersonMaterial, Project,
                            Transcript)
from backend.models.person import CATEGORY_LABELS, tags_in_statement
from backend.services import policy
from backend.services import persons as person_service
from backend.services import redactions as redaction_service
from backend.services.pagination import Page, paginate

# what the public may fetch of each kind of material: playback proxies and pictures, never the original
PUBLIC_VARIANTS: dict[str, tuple[str, ...]] = {
    "audio": ("proxy",), "video": ("proxy", "poster"), "image": ("thumbnail",), "document": ("thumbnail",)}
REQUESTABLE_VARIANTS = ("proxy", "thumbnail", "poster")

_PERSON_NOT_FOUND = ("人物档案不存在", "person_not_found")
_MATERIAL_NOT_FOUND = ("资料不存在", "material_not_found")
_TRANSCRIPT_NOT_FOUND = ("转写稿不存在", "transcript_not_found")
_PROJECT_NOT_FOUND = ("采集项目不存在", "project_not_found")


# --- persons ----------------------------------------------------------------------------------------------------

def list_persons(*, category: str | None = None, area: str | None = None, q: str | None = None,
                 page: int | None = 1, per_page: int = 20, cursor: str | None = None) -> Page[Person]:
    query = select(Person).where(policy.person_is_public()).options(*tags_in_statement())
    if category:
        query = query.where(Person.category == category)
    if area:
        query = query.where(or_(Person.area_district == area, Person.area_town == area, Person.area_village == area))
    if q and q.strip():
        query = query.where(person_service.matches_search(q))  # the same matching as the internal list
    return paginate(query, page, per_page, order=(Person.name_pinyin.asc(), Person.id.asc()), cursor=cursor,
                    cache_total=True)


def get_person(person_id: int) -> Person:
    person = db.session.scalar(select(Person).where(Person.id == person_id, policy.person_is_public()))
    if person is None or not policy.has_public_consent(person.id):
        raise NotFound(_PERSON_NOT_FOUND[0], code=_PERSON_NOT_FOUND[1])
    return person


def category_label(category: str) -> str:
    return CATEGORY_LABELS.get(category, category)


# --- materials --------------------------------------------------------------------------------------------------

@dataclass
class PublicMaterial:
    material: Material
    variants: list[str]
    transcript_ids: list[int]

    @property
    def title(self) -> str:
        """The title, unless it is only the uploaded file's name (which the public never sees)."""
        title = self.material.title or ""
        return "" if title == (self.material.original_filename or "") else title

    @property
    def duration(self) -> float | None:
        value = (self.material.media_info or {}).get("duration")
        return round(float(value), 3) if isinstance(value, (int, float)) else None


def materials_of(person: Person) -> list[PublicMaterial]:
    """The public materials linked to a public profile, oldest recording first."""
    linked = exists().where(PersonMaterial.material_id == Material.id, PersonMaterial.person_id == person.id)
    return _public_materials(linked)


def _public_materials(condition: Any) -> list[PublicMaterial]:
    materials = db.session.scalars(select(Material).where(condition, policy.material_is_public())
                                   .order_by(Material.captured_at.is_(None), Material.captured_at.asc(),
                                             Material.id.asc())).all()
    ids = [material.id for material in materials]
    transcripts: dict[int, list[int]] = {}
    if ids:
        rows = db.session.execute(select(Transcript.material_id, Transcript.id)
                                  .where(Transcript.material_id.in_(ids), Transcript.status == "approved")
                                  .order_by(Transcript.id)).all()
        for material_id, transcript_id in rows:
            transcripts.setdefault(material_id, []).append(transcript_id)
    return [PublicMaterial(material, _available_variants(material), transcripts.get(material.id, []))
            for material in materials]


def available_variants(material: Material) -> list[str]:
    """The public variants this material has (its playback proxy or pictures)."""
    return _available_variants(material)


def _available_variants(material: Material) -> list[str]:
    have = {derivative.variant for derivative in material.derivatives}
    return [variant for variant in PUBLIC_VARIANTS.get(material.kind, ()) if variant in have]


def material_item(material: Material) -> PublicMaterial:
    """A public material as the public sees it (``material`` from ``get_material``)."""
    return _public_materials(Material.id == material.id)[0]


def persons_of_material(material: Material) -> list[Person]:
    """The public profiles linked to a public material, by pinyin."""
    linked = exists().where(PersonMaterial.person_id == Person.id, PersonMaterial.material_id == material.id)
    return list(db.session.scalars(select(Person).where(linked, policy.person_is_public())
                                   .order_by(Person.name_pinyin, Person.id)))


def public_interview_id(material: Material) -> int | None:
    """The id of the material's interview when that interview is public."""
    if material.interview_id is None:
        return None
    return db.session.scalar(select(Interview.id).where(Interview.id == material.interview_id,
                                                        policy.interview_is_public()))


def get_material(material_id: int) -> Material:
    material = db.session.scalar(select(Material).where(Material.id == material_id, policy.material_is_public()))
    if material is None:
        raise NotFound(_MATERIAL_NOT_FOUND[0], code=_MATERIAL_NOT_FOUND[1])
    return material


def content_derivative(material: Material, variant: str) -> Derivative:
    """The file the public gets for ``variant``: a thumbnail or poster, or the playback proxy — the public proxy
    (redacted ranges silenced) whenever the material has redactions; never the original or the unredacted proxy."""
    derivative = material.derivative(variant) if variant in PUBLIC_VARIANTS.get(material.kind, ()) else None
    if derivative is None:
        raise NotFound("该资料没有这种公开版本", code="variant_not_available",
                       details={"variant": variant, "available": _available_variants(material)})
    if variant == "proxy" and redaction_service.material_ranges(material.id):
        public = redaction_service.current_public_proxy(material)
        if public is None:
            raise Conflict("公开版本正在生成，请稍后再试", code="public_version_not_ready",
                           headers={"Retry-After": "60"})
        return public
    return derivative


def public_download_name(material: Material, derivative: Derivative) -> str:
    extension = derivative.storage_key.rsplit(".", 1)[-1] if "." in derivative.storage_key else "bin"
    variant = "proxy" if derivative.variant == redaction_service.PUBLIC_PROXY else derivative.variant
    return f"material-{material.id}-{variant}.{extension}"


# --- interviews -------------------------------------------------------------------------------------------------

def get_interview(interview_id: int) -> Interview:
    """A public interview: one with at least one public material (whose interviewees are all public)."""
    interview = db.session.scalar(select(Interview).where(Interview.id == interview_id,
                                                          policy.interview_is_public()))
    if interview is None:
        raise NotFound("访谈不存在", code="interview_not_found")
    return interview


def interviewees_of(interview: Interview) -> list[Person]:
    interviewed = exists().where(InterviewPerson.person_id == Person.id, InterviewPerson.interview_id == interview.id)
    return list(db.session.scalars(select(Person).where(interviewed, policy.person_is_public())
                                   .order_by(Person.name_pinyin, Person.id)))


def materials_of_interview(interview: Interview) -> list[PublicMaterial]:
    return _public_materials(Material.interview_id == interview.id)


# --- projects (themed collections) -------------------------------------------------------------------------------

def list_projects(*, page: int = 1, per_page: int = 20) -> Page[Project]:
    """The projects shown to the public (``is_public``), newest first."""
    return paginate(select(Project).where(policy.project_is_public()).order_by(Project.created_at.desc(),
                                                                                Project.id.desc()), page, per_page)


def get_project(project_id: int) -> Project:
    project = db.session.scalar(select(Project).where(Project.id == project_id, policy.project_is_public()))
    if project is None:
        raise NotFound(_PROJECT_NOT_FOUND[0], code=_PROJECT_NOT_FOUND[1])
    return project


def materials_of_project(project: Project) -> list[PublicMaterial]:
    """The public materials filed into a public project, oldest recording first."""
    return _public_materials(Material.project_id == project.id)


def persons_of_project(project: Project, materials: list[PublicMaterial]) -> list[Person]:
    """The public profiles of the project: its narrators and the persons of its public materials, by pinyin."""
    material_ids = [item.material.id for item in materials]
    linked = select(PersonMaterial.person_id).where(PersonMaterial.material_id.in_(material_ids))
    return list(db.session.scalars(
        select(Person).where(or_(Person.id.in_(project.person_ids), Person.id.in_(linked)), policy.person_is_public())
        .order_by(Person.name_pinyin.asc(), Person.id.asc())))


# --- transcripts ------------------------------------------------------------------------------------------------

@dataclass
class PublicTranscript:
    transcript: Transcript
    segments: list[dict[str, Any]]
    redacted: list[dict[str, float]]


def overlaps(start: float, end: float, ranges: list[tuple[float, float]]) -> bool:
    return any(start < r_end and end > r_start for r_start, r_end in ranges)


def get_transcript(transcript_id: int) -> PublicTranscript:
    transcript = db.session.scalar(
        select(Transcript).join(Material, Material.id == Transcript.material_id)
        .where(Transcript.id == transcript_id, Transcript.status == "approved", policy.material_is_public()))
    if transcript is None:
        raise NotFound(_TRANSCRIPT_NOT_FOUND[0], code=_TRANSCRIPT_NOT_FOUND[1])
    # The redactions of every transcript of the material count: the recording is the same.
    ranges = redaction_service.material_ranges(transcript.material_id)
    segments = [{"index": s.index, "start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker}
                for s in transcript.segments if s.text and not overlaps(s.start, s.end, ranges)]
    return PublicTranscript(transcript, segments, [{"start": start, "end": end} for start, end in ranges])

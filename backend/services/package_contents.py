"""What a preservation package (or an on-demand four-property report) of a scope holds: the persons, interviews,
materials, consent forms and transcripts of some persons, interviews or projects, and the files they become."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select

from backend.errors import NotFound, ValidationFailed
from backend.extensions import db
from backend.models import (Consent, Interview, InterviewPerson, Material, Person, PersonMaterial, Transcript,
                            TranscriptRevision)
from transcription import formats

MAX_IDS = 100
_UNSAFE_NAME = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')
TRANSCRIPT_FORMATS = {"vtt": "text/vtt", "json": "application/json",
                      "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document"}


@dataclass
class ScopeContent:
    scope: str
    ids: list[int]
    persons: list[Person] = field(default_factory=list)
    interviews: list[Interview] = field(default_factory=list)
    materials: list[Material] = field(default_factory=list)
    consent_form_ids: set[int] = field(default_factory=set)
    consents: list[Consent] = field(default_factory=list)
    transcripts: list[Transcript] = field(default_factory=list)

    @property
    def label(self) -> str:
        names = {"person": "人物", "interview": "访谈", "project": "项目"}
        return f"{names.get(self.scope, self.scope)} {', '.join(str(i) for i in self.ids)}"


@dataclass
class PackageFile:
    """One payload file: stored bytes (``storage_key``) or bytes made for the package (``content``), with what the
    archive recorded about it."""

    path: str                      # under data/, e.g. objects/material-3/original/口述.m4a
    use: str                       # original, derivative, transcript, metadata
    mime: str
    created_at: datetime
    storage_key: str | None = None
    content: bytes | None = None
    size: int | None = None        # recorded size (stored files)
    sha256: str | None = None      # recorded fixity (stored files)
    original_name: str | None = None
    material_id: int | None = None
    transcript_id: int | None = None
    person_id: int | None = None
    interview_id: int | None = None
    variant: str | None = None
    revision: str | None = None    # machine / approved (transcripts)
    is_consent_form: bool = False


def safe_name(name: str | None, fallback: str) -> str:
    cleaned = _UNSAFE_NAME.sub("_", name or "").strip(" .")
    return cleaned[:150] or fallback


def resolve(scope: str, ids: list[int]) -> ScopeContent:
    """The records of a scope; every id must exist (404 naming the first that does not)."""
    unique = sorted(set(ids))
    if not unique or len(unique) > MAX_IDS:
        raise ValidationFailed(f"ids 须为 1 到 {MAX_IDS} 个编号", code="invalid_ids", details={"ids": ids[:MAX_IDS]})
    content = ScopeContent(scope=scope, ids=unique)
    if scope == "person":
        persons = _all_of(Person, unique, "person_not_found", "人物档案不存在")
        content.persons = persons
        content.interviews = list(db.session.scalars(
            select(Interview).where(Interview.id.in_(
                select(InterviewPerson.interview_id).where(InterviewPerson.person_id.in_(unique))))
            .order_by(Interview.id)))
        content.consents = list(db.session.scalars(select(Consent).where(Consent.person_id.in_(unique))
                                                   .order_by(Consent.id)))
        linked = select(PersonMaterial.material_id).where(PersonMaterial.person_id.in_(unique))
        interview_ids = [interview.id for interview in content.interviews]
        material_filter = or_(Material.id.in_(linked), Material.interview_id.in_(interview_ids))
    elif scope == "interview":
        content.interviews = _all_of(Interview, unique, "interview_not_found", "访谈不存在")
        person_ids = sorted({pid for interview in content.interviews for pid in interview.interviewee_ids})
        content.persons = list(db.session.scalars(select(Person).where(Person.id.in_(person_ids)).order_by(Person.id)))
        content.consents = list(db.session.scalars(
            select(Consent).where(Consent.person_id.in_(person_ids),
                                  or_(Consent.interview_id.in_(unique), Consent.interview_scoped.is_(False)))
            .order_by(Consent.id)))
        material_filter = Material.interview_id.in_(unique)
    else:
        raise ValidationFailed("项目范围需要采集项目功能（尚未启用）", code="scope_unavailable",
                               details={"scope": scope})
    consent_forms = {c.material_id for c in content.consents if c.material_id is not None}
    consent_forms |= {i.consent_material_id for i in content.interviews if i.consent_material_id is not None}
    content.consent_form_ids = consent_forms
    content.materials = list(db.session.scalars(
        select(Material).where(or_(material_filter, Material.id.in_(sorted(consent_forms)))).order_by(Material.id)))
    material_ids = [m.id for m in content.materials]
    content.transcripts = list(db.session.scalars(
        select(Transcript).where(Transcript.material_id.in_(material_ids)).order_by(Transcript.id)))
    return content


def _all_of(model: Any, ids: list[int], code: str, message: str) -> list[Any]:
    rows = {row.id: row for row in db.session.scalars(select(model).where(model.id.in_(ids)))}
    missing = [i for i in ids if i not in rows]
    if missing:
        raise NotFound(message, code=code, details={"id": missing[0]})
    return [rows[i] for i in ids]


def material_folder(material: Material, consent_forms: set[int]) -> str:
    return f"objects/{'consents' if material.id in consent_forms else 'materials'}/material-{material.id}"


def stored_files(content: ScopeContent) -> list[PackageFile]:
    """Originals and derivatives (stored bytes, with their recorded fixity)."""
    files = []
    for material in content.materials:
        folder = material_folder(material, content.consent_form_ids)
        is_form = material.id in content.consent_form_ids
        extension = (material.original_filename or "").rpartition(".")[2] if "." in (material.original_filename or "") else ""
        name = safe_name(material.original_filename, f"original{'.' + extension if extension else ''}")
        files.append(PackageFile(
            path=f"{folder}/original/{name}", use="original", mime=material.mime, created_at=material.created_at,
            storage_key=material.storage_key, size=material.size, sha256=material.sha256,
            original_name=material.original_filename, material_id=material.id, variant="original",
            interview_id=material.interview_id, is_consent_form=is_form))
        for derivative in sorted(material.derivatives, key=lambda d: d.variant):
            suffix = derivative.storage_key.rpartition(".")[2]
            files.append(PackageFile(
                path=f"{folder}/derivatives/{derivative.variant}.{suffix}", use="derivative", mime=derivative.mime,
                created_at=derivative.created_at, storage_key=derivative.storage_key, size=derivative.size,
                sha256=derivative.sha256, material_id=material.id, variant=derivative.variant,
                interview_id=material.interview_id, is_consent_form=is_form))
    return files


def transcript_files(content: ScopeContent) -> list[PackageFile]:
    """Each transcript's machine output (revision 1) and, once approved, the approved text: VTT, JSON and DOCX."""
    files = []
    materials = {m.id: m for m in content.materials}
    interviews = {i.id: i for i in content.interviews}
    persons = {p.id: p for p in content.persons}
    for transcript in content.transcripts:
        material = materials[transcript.material_id]
        folder = material_folder(material, content.consent_form_ids)
        machine = db.session.scalar(select(TranscriptRevision).where(
            TranscriptRevision.transcript_id == transcript.id, TranscriptRevision.number == 1))
        versions: list[tuple[str, list[dict[str, Any]], datetime]] = []
        if machine is not None:
            versions.append(("machine", machine.segments, machine.created_at))
        if transcript.status == "approved" and transcript.approved_at is not None:
            current = [{"index": s.index, "start": s.start, "end": s.end, "text": s.text, "speaker": s.speaker}
                       for s in transcript.segments]
            versions.append(("approved", current, transcript.approved_at))
        interview = interviews.get(material.interview_id) if material.interview_id else None
        interviewees = [persons[pid].name for pid in (interview.interviewee_ids if interview else material.person_ids)
                        if pid in persons]
        for revision, segments, created_at in versions:
            segments = [s for s in segments if s.get("text")]
            metadata = {
                "title": (interview.title if interview and interview.title else None) or material.title
                or f"资料 {material.id}",
                "interviewee": "、".join(interviewees) or None,
                "interviewer": "、".join(interview.interviewers) if interview else None,
                "date": interview.date if interview else None, "place": (interview.place if interview else None)
                or material.place, "language": transcript.language, "engine": transcript.engine,
                "model": transcript.model, "machine_generated": revision == "machine", "status": transcript.status,
                "material_id": material.id, "transcript_id": transcript.id, "revision": revision,
            }
            bodies = {"vtt": formats.to_vtt(segments).encode("utf-8"),
                      "json": formats.to_json(segments, metadata).encode("utf-8"),
                      "docx": formats.to_docx(segments, metadata)}
            for extension, body in bodies.items():
                files.append(PackageFile(
                    path=f"{folder}/transcripts/transcript-{transcript.id}-{revision}.{extension}", use="transcript",
                    mime=TRANSCRIPT_FORMATS[extension], created_at=created_at, content=body,
                    material_id=material.id, transcript_id=transcript.id, revision=revision,
                    interview_id=material.interview_id))
    return files


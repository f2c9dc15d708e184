"""Interviews: when and where, who asked, who was interviewed, in which language, the consent form and notes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from backend.errors import Conflict, Forbidden, InvalidTransition, NotFound, ValidationFailed
from backend.extensions import db
from backend.models import Interview, InterviewPerson, Material, Person, Project, Transcript, User
from backend.models.types import utcnow
from backend.services import archival_codes, audit, policy
from backend.services import consents as consent_service
from backend.services import persons as person_service
from backend.services import projects as project_service
from backend.services.identity import validate_partial_date
from backend.services.pagination import Page, paginate
from backend.services.policy import Permission
from backend.services.versioning import advance, check_version, record_edit

FIELDS = ("title", "date", "place", "interviewers", "language", "consent_material_id", "notes", "interviewee_ids",
          "project_id")


def get_interview(actor: User, interview_id: int) -> Interview:
    return policy.visible_interview(actor, interview_id)


def list_interviews(actor: User, *, person_id: int | None = None, q: str | None = None,
                    archival_code: str | None = None, project_id: int | None = None, page: int = 1,
                    per_page: int = 20) -> Page[Interview]:
    query = select(Interview).where(policy.visible_interviews(actor))
    if project_id:
        query = query.where(Interview.project_id == (policy.shown_project_id(actor, project_id) or -1))
    if archival_code and archival_code.strip():
        query = query.where(archival_codes.matches(Interview.archival_code, archival_code))
    if person_id:
        # a profile the actor cannot see filters like a missing one (no totals about hidden persons)
        query = query.where(Interview.id.in_(
            select(InterviewPerson.interview_id).join(Person, Person.id == InterviewPerson.person_id)
            .where(InterviewPerson.person_id == person_id, policy.visible_persons(actor))))
    if q:
        query = query.where(or_(Interview.title.like(f"%{q}%"), Interview.place.like(f"%{q}%")))
    return paginate(query.order_by(Interview.created_at.desc(), Interview.id.desc()), page, per_page,
                    cache_total=True)


def _snapshot(interview: Interview) -> dict[str, Any]:
    return {field: getattr(interview, field) for field in FIELDS}


def _apply(actor: User, interview: Interview, data: dict[str, Any]) -> None:
    if data.get("date"):
        try:
            data["date"] = validate_partial_date(data["date"])
        except ValueError as exc:
            raise ValidationFailed(str(exc), code="invalid_interview", details={"fields": {"date": [str(exc)]}}) from None
    if "interviewee_ids" in data:
        ids = list(dict.fromkeys(data.pop("interviewee_ids") or []))
        for person_id in ids:
            try:
                person_service.get_person(actor, person_id)
            except NotFound:
                raise ValidationFailed("受访人物档案不存在", code="unknown_person",
                                       details={"fields": {"interviewee_ids": [f"unknown person {person_id}"]}}) from None
        current = interview.interviewee_ids
        # Interviewees the actor cannot see stay: nobody changes what they are not shown.
        hidden = set(current) - set(policy.visible_person_ids(actor, current))
        ids += [pid for pid in current if pid in hidden and pid not in ids]
        removed = set(current) - set(ids)
        if removed and interview.id is not None and policy.interview_has_open_material(interview.id):
            policy.require_publication_decision(
                actor, "该访谈有已开放的资料：去掉受访人可能使资料未经其授权即公开，须由档案员操作",
                "interviewee_of_open_material", person_ids=sorted(removed))
        interview.interviewee_rows = [InterviewPerson(person_id=pid) for pid in ids]
    if "project_id" in data and data["project_id"] != interview.project_id:
        if data["project_id"] is not None:
            project_service.project_for_filing(actor, data["project_id"])
        if interview.project_id is not None:
            old = db.session.get(Project, interview.project_id)
            if old is not None and not policy.can_file_into_project(actor, old):
                raise Forbidden("该采集项目已结项，只有档案员可以移出访谈", code="project_closed",
                                details={"project_id": old.id, "status": old.status})
    consent_id = data.get("consent_material_id")
    if consent_id is not None:
        try:
            policy.visible_material(actor, consent_id)
        except NotFound:
            raise ValidationFailed("授权书资料不存在", code="unknown_material",
                                   details={"fields": {"consent_material_id": ["unknown material"]}}) from None
    for field, value in data.items():
        setattr(interview, field, value)


def create_interview(actor: User, data: dict[str, Any]) -> Interview:
    interview = Interview(created_by_id=actor.id, interviewers=[], notes="", title="")
    _apply(actor, interview, dict(data))
    db.session.add(interview)
    db.session.flush()
    audit.record("interview", interview.id, "create", actor, changes=audit.diff({}, _snapshot(interview)))
    db.session.flush()
    return interview


def update_interview(actor: User, interview_id: int, data: dict[str, Any], *, expected_version: int | None
                     ) -> Interview:
    interview = get_interview(actor, interview_id)
    version = check_version(interview, expected_version)
    before = _snapshot(interview)
    with db.session.no_autoflush:
        _apply(actor, interview, dict(data))
    record_edit("interview", interview, actor, before, _snapshot(interview), version)
    db.session.flush()
    return interview


def delete_interview(actor: User, interview_id: int) -> None:
    interview = get_interview(actor, interview_id)
    if not policy.can_delete_interview(actor, interview):
        raise Forbidden("只有创建者或管理员可以删除访谈", code="interview_not_deletable")
    if db.session.scalar(select(Material.id).where(Material.interview_id == interview.id).limit(1)) is not None:
        raise Conflict("访谈已有资料，不能删除", code="interview_has_materials")
    if interview.archival_code:
        raise Conflict(f"访谈已归档（档号 {interview.archival_code}），不能删除", code="interview_archived",
                       details={"archival_code": interview.archival_code})
    consent_service.withdraw_for_deleted_interview(actor, interview.id)
    audit.record("interview", interview.id, "delete", actor, changes=audit.diff(_snapshot(interview), {}))
    db.session.delete(interview)
    db.session.flush()


# --- approval: the interview is accepted into the archive and gets its 档号 -------------------------------------

def _approve(actor: User | None, interview: Interview, comment: str) -> None:
    interview.approved_at, interview.approved_by_id = utcnow(), actor.id if actor else None
    code = archival_codes.assign(interview)
    audit.record("interview", interview.id, "approve", actor,
                 changes={"approved_at": {"before": None, "after": interview.approved_at.isoformat()},
                          "archival_code": {"before": None, "after": code}}, comment=comment)


def approve_interview(actor: User, interview_id: int, *, expected_version: int | None) -> Interview:
    """An archivist accepts the interview into the archive (under If-Match): it gets its 档号."""
    if not policy.can(actor, Permission.INTERVIEW_APPROVE):
        raise Forbidden("只有档案员可以审核访谈", code="transition_forbidden", details={"action": "approve"})
    interview = get_interview(actor, interview_id)
    version = check_version(interview, expected_version)
    if interview.approved_at is not None:
        raise InvalidTransition("访谈已审核归档", details={"action": "approve", "archival_code": interview.archival_code})
    advance(interview, version)
    _approve(actor, interview, "档案员审核访谈")
    db.session.flush()
    return interview


def approve_with_transcript(actor: User, transcript: Transcript) -> Interview | None:
    """Approving a transcript of one of an interview's recordings approves the interview too (once): its version
    moves on, since what its GET shows (approved_at, archival_code) changed."""
    material = db.session.get(Material, transcript.material_id)
    interview = db.session.get(Interview, material.interview_id) if material and material.interview_id else None
    if interview is None or interview.approved_at is not None:
        return None
    db.session.execute(update(Interview).where(Interview.id == interview.id)
                       .values(version=Interview.version + 1, updated_at=utcnow())
                       .execution_options(synchronize_session=False))
    set_committed_value(interview, "version",
                        db.session.scalar(select(Interview.version).where(Interview.id == interview.id)))
    _approve(actor, interview, f"转写稿 {transcript.id} 审定，访谈随之审核归档")
    db.session.flush()
    return interview

"""The permission policy, in one place: which role holds which named permission, who may see and change which record
(as predicates for one record and as query conditions for lists), and the lookups that answer an invisible record
like a missing one. Views and services ask this module; nothing else writes a role name."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import lru_cache
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, true
from sqlalchemy.orm import aliased

from backend.clock import clock
from backend.errors import Forbidden, NotFound
from backend.extensions import db
from backend.models import (Consent, Interview, InterviewPerson, Job, Material, Person, PersonMaterial, Project,
                            ProjectCollector, Role, Transcript, User)


class Permission(StrEnum):
    """What a role may do regardless of whose record it is (ownership rules are the predicates below)."""

    PERSON_CREATE = "person.create"
    PERSON_READ_ALL = "person.read_all"                    # see every profile, drafts included
    PERSON_READ_PERSONAL_DATA = "person.read_personal_data"  # ID numbers, phones, addresses unmasked
    PERSON_EDIT_UNAPPROVED = "person.edit_unapproved"      # edit anyone's draft, submitted or returned profile
    PERSON_EDIT_ANY = "person.edit_any"                    # edit a profile in any state
    PERSON_SUBMIT_ANY = "person.submit_any"                # submit someone else's draft
    PERSON_APPROVE = "person.approve"                      # approve or return
    PERSON_PUBLISH = "person.publish"                      # publish or withdraw
    PERSON_DELETE_ANY = "person.delete_any"                # delete someone else's draft
    MATERIAL_UPLOAD = "material.upload"
    MATERIAL_READ_ALL = "material.read_all"                # restricted, closed and embargoed materials
    MATERIAL_READ_ORIGINAL = "material.read_original"      # the original file of a material one may see
    MATERIAL_EDIT_ANY = "material.edit_any"
    MATERIAL_SET_ACCESS = "material.set_access"            # access level and embargo
    MATERIAL_READ_FIXITY = "material.read_fixity"
    INTERVIEW_CREATE = "interview.create"
    INTERVIEW_READ_ALL = "interview.read_all"
    INTERVIEW_DELETE_ANY = "interview.delete_any"
    INTERVIEW_APPROVE = "interview.approve"                # accept into the archive (gives its 档号)
    TRANSCRIPT_REQUEST_ANY = "transcript.request_any"      # transcribe materials others uploaded
    TRANSCRIPT_EDIT = "transcript.edit"                    # claim, edit, revert, mark reviewed; the review queue
    TRANSCRIPT_APPROVE = "transcript.approve"              # approve or return a reviewed transcript
    TRANSCRIPT_BREAK_LOCK = "transcript.break_lock"        # release another editor's claim
    TRANSCRIPT_REDACT = "transcript.redact"
    PROJECT_READ_ALL = "project.read_all"                  # every collection project (others: those assigned to)
    PROJECT_MANAGE = "project.manage"                      # create and edit projects, their status and collectors
    RECEIPT_ISSUE = "receipt.issue"                        # print collection receipts (征集接收清单)
    CONSENT_RECORD_ANY = "consent.record_any"              # record consents for profiles of others
    CONSENT_WITHDRAW = "consent.withdraw"
    PUBLICATION_DECIDE = "publication.decide"              # changes that could make something newly public
    JOB_READ_ALL = "job.read_all"
    AUDIT_READ = "audit.read"
    STATS_READ = "stats.read"
    EXPORT_CREATE = "export.create"                        # preservation packages and four-property reports
    IMPORT_RUN = "import.run"                              # bulk imports of legacy collections
    USER_MANAGE = "user.manage"


P = Permission
_EVERYONE = frozenset({P.PERSON_CREATE, P.MATERIAL_UPLOAD, P.MATERIAL_READ_ORIGINAL, P.INTERVIEW_CREATE})
_STAFF = _EVERYONE | {P.PERSON_READ_ALL, P.PERSON_SUBMIT_ANY, P.MATERIAL_READ_ALL, P.MATERIAL_EDIT_ANY,
                      P.INTERVIEW_READ_ALL, P.TRANSCRIPT_REQUEST_ANY, P.TRANSCRIPT_EDIT, P.TRANSCRIPT_REDACT,
                      P.JOB_READ_ALL, P.PROJECT_READ_ALL}
_ARCHIVIST = _STAFF | {P.PERSON_READ_PERSONAL_DATA, P.PERSON_EDIT_UNAPPROVED, P.PERSON_EDIT_ANY, P.PERSON_APPROVE,
                       P.PERSON_PUBLISH, P.MATERIAL_SET_ACCESS, P.MATERIAL_READ_FIXITY, P.TRANSCRIPT_APPROVE,
                       P.INTERVIEW_APPROVE, P.PROJECT_MANAGE, P.RECEIPT_ISSUE,
                       P.CONSENT_RECORD_ANY, P.CONSENT_WITHDRAW, P.PUBLICATION_DECIDE, P.AUDIT_READ,
                       P.STATS_READ, P.EXPORT_CREATE, P.IMPORT_RUN}

GRANTS: dict[Role, frozenset[Permission]] = {
    Role.COLLECTOR: _EVERYONE,
    Role.EDITOR: _STAFF | {P.PERSON_EDIT_UNAPPROVED},
    Role.ARCHIVIST: _ARCHIVIST,
    Role.ADMIN: frozenset(Permission),
}
# Profile states an editor may still change (an approved text is the archivist's).
UNAPPROVED_STATES = frozenset({"draft", "submitted", "returned"})
# Profile states whose owner (the collector) may change it.
OWNER_EDITABLE_STATES = frozenset({"draft", "returned"})


def roles_of(actor: User) -> set[Role]:
    return {Role(name) for name in actor.roles if name in Role.__members__.values()}


@lru_cache(maxsize=64)
def _granted(role_names: tuple[str, ...]) -> frozenset[Permission]:
    """Everything these role names grant together (a list page asks ``can`` a few hundred times)."""
    known = [Role(name) for name in role_names if name in Role.__members__.values()]
    return frozenset().union(*(GRANTS[role] for role in known))


def can(actor: User | None, permission: Permission) -> bool:
    """Whether any of ``actor``'s roles holds ``permission``."""
    return actor is not None and permission in _granted(tuple(actor.roles))


def permissions_of(actor: User) -> list[str]:
    """The named permissions ``actor``'s roles hold, sorted (what a client may offer this user)."""
    held: set[Permission] = set()
    for role in roles_of(actor):
        held |= GRANTS[role]
    return sorted(permission.value for permission in held)


def roles_with(permission: Permission) -> list[str]:
    return [role.value for role in Role if permission in GRANTS[role]]


def permission_table_markdown() -> str:
    """The README's permission table: a row per permission, a column per role."""
    lines = ["| permission | " + " | ".join(f"`{role.value}`" for role in Role) + " |",
             "| --- |" + " :---: |" * len(Role)]
    for permission in Permission:
        marks = ["✓" if permission in GRANTS[role] else "" for role in Role]
        lines.append(f"| `{permission.value}` | " + " | ".join(marks) + " |")
    return "\n".join(lines)


# --- persons -------------------------------------------------------------------------------------------------------

def can_view_person(actor: User, person: Person) -> bool:
    return can(actor, P.PERSON_READ_ALL) or person.created_by_id == actor.id or person.status == "published"


def visible_persons(actor: User) -> ColumnElement[bool]:
    if can(actor, P.PERSON_READ_ALL):
        return true()
    return or_(Person.created_by_id == actor.id, Person.status == "published")


def can_edit_person(actor: User, person: Person) -> bool:
    if can(actor, P.PERSON_EDIT_ANY):
        return True
    if can(actor, P.PERSON_EDIT_UNAPPROVED) and person.status in UNAPPROVED_STATES:
        return True
    return person.created_by_id == actor.id and person.status in OWNER_EDITABLE_STATES


def can_delete_person(actor: User, person: Person) -> bool:
    return person.created_by_id == actor.id or can(actor, P.PERSON_DELETE_ANY)


def can_transition_person(actor: User, person: Person, action: str) -> bool:
    if action == "submit":
        return person.created_by_id == actor.id or can(actor, P.PERSON_SUBMIT_ANY)
    if action in ("approve", "return"):
        return can(actor, P.PERSON_APPROVE)
    return can(actor, P.PERSON_PUBLISH)


def sees_personal_data(actor: User) -> bool:
    return can(actor, P.PERSON_READ_PERSONAL_DATA)


def visible_person_ids(actor: User, person_ids: Iterable[int]) -> list[int]:
    """Those of ``person_ids`` whose profiles ``actor`` may see, sorted: what a nested list of persons shows."""
    ids = sorted(set(person_ids))
    if not ids or can(actor, P.PERSON_READ_ALL):
        return ids
    return list(db.session.scalars(select(Person.id).where(Person.id.in_(ids), visible_persons(actor))
                                   .order_by(Person.id)))


def visible_person(actor: User, person_id: int) -> Person:
    person = db.session.get(Person, person_id)
    if person is None or not can_view_person(actor, person):
        # Invisible profiles answer like missing ones, so ids of others' drafts leak nothing.
        raise NotFound("人物档案不存在", code="person_not_found")
    return person


# --- materials -----------------------------------------------------------------------------------------------------

def current_date() -> date:
    """Today in the server's time zone, from the app's clock: the day embargoes are compared with."""
    return clock.now().astimezone().date()


def is_embargoed(material: Material, today: date | None = None) -> bool:
    return material.embargo_until is not None and material.embargo_until > (today or current_date())


def can_view_material(actor: User, material: Material) -> bool:
    """Staff see everything; others their own uploads and open materials past any embargo."""
    if can(actor, P.MATERIAL_READ_ALL) or material.collector_id == actor.id:
        return True
    return material.access_level == "open" and not is_embargoed(material)


def visible_materials(actor: User) -> ColumnElement[bool]:
    if can(actor, P.MATERIAL_READ_ALL):
        return true()
    return or_(Material.collector_id == actor.id,
               and_(Material.access_level == "open",
                    or_(Material.embargo_until.is_(None), Material.embargo_until <= current_date())))


def shown_material_id(actor: User, material_id: int | None) -> int | None:
    """``material_id`` as a nested field shows it: the id of a material ``actor`` may see, else None."""
    if material_id is None or can(actor, P.MATERIAL_READ_ALL):
        return material_id
    material = db.session.get(Material, material_id)
    return material_id if material is not None and can_view_material(actor, material) else None


def can_edit_material(actor: User, material: Material) -> bool:
    return can(actor, P.MATERIAL_EDIT_ANY) or material.collector_id == actor.id


def can_edit_material_text(actor: User, material: Material) -> bool:
    """Correcting a material's OCR text, or having it read again: whoever may edit the material (editors and
    archivists any, a collector their own uploads); reading it follows the material's own visibility."""
    return can_edit_material(actor, material)


def can_transcribe(actor: User, material: Material) -> bool:
    return can(actor, P.TRANSCRIPT_REQUEST_ANY) or material.collector_id == actor.id


def visible_material(actor: User, material_id: int) -> Material:
    material = db.session.get(Material, material_id)
    if material is None or not can_view_material(actor, material):
        raise NotFound("资料不存在", code="material_not_found")
    return material


# --- interviews ----------------------------------------------------------------------------------------------------

def can_view_interview(actor: User, interview: Interview) -> bool:
    return can(actor, P.INTERVIEW_READ_ALL) or interview.created_by_id == actor.id


def visible_interviews(actor: User) -> ColumnElement[bool]:
    return true() if can(actor, P.INTERVIEW_READ_ALL) else Interview.created_by_id == actor.id


def shown_interview_id(actor: User, interview_id: int | None) -> int | None:
    """``interview_id`` as a nested field shows it: the id of an interview ``actor`` may see, else None."""
    if interview_id is None or can(actor, P.INTERVIEW_READ_ALL):
        return interview_id
    interview = db.session.get(Interview, interview_id)
    return interview_id if interview is not None and can_view_interview(actor, interview) else None


def can_delete_interview(actor: User, interview: Interview) -> bool:
    return interview.created_by_id == actor.id or can(actor, P.INTERVIEW_DELETE_ANY)


def visible_interview(actor: User, interview_id: int) -> Interview:
    interview = db.session.get(Interview, interview_id)
    if interview is None or not can_view_interview(actor, interview):
        raise NotFound("访谈不存在", code="interview_not_found")
    return interview


# --- collection projects -------------------------------------------------------------------------------------------

def can_view_project(actor: User, project: Project) -> bool:
    """Staff see every project; a collector the projects they are assigned to."""
    return can(actor, P.PROJECT_READ_ALL) or actor.id in project.collector_ids


def visible_projects(actor: User) -> ColumnElement[bool]:
    if can(actor, P.PROJECT_READ_ALL):
        return true()
    return Project.id.in_(select(ProjectCollector.project_id).where(ProjectCollector.user_id == actor.id))


def visible_project(actor: User, project_id: int) -> Project:
    project = db.session.get(Project, project_id)
    if project is None or not can_view_project(actor, project):
        raise NotFound("采集项目不存在", code="project_not_found")
    return project


def shown_project_id(actor: User, project_id: int | None) -> int | None:
    """``project_id`` as a nested field shows it: the id of a project ``actor`` may see, else None."""
    if project_id is None or can(actor, P.PROJECT_READ_ALL):
        return project_id
    project = db.session.get(Project, project_id)
    return project_id if project is not None and can_view_project(actor, project) else None


def can_file_into_project(actor: User, project: Project) -> bool:
    """Who may put an interview or a material into a project: its managers always; while it is not closed, staff
    and the collectors assigned to it."""
    if can(actor, P.PROJECT_MANAGE):
        return True
    return project.status != "closed" and can_view_project(actor, project)


# --- transcripts, consents, jobs -------------------------------------------------------------------------------------

def visible_transcript(actor: User, transcript_id: int) -> Transcript:
    """A transcript is visible with its material."""
    transcript = db.session.get(Transcript, transcript_id)
    material = db.session.get(Material, transcript.material_id) if transcript is not None else None
    if material is None or not can_view_material(actor, material):
        raise NotFound("转写稿不存在", code="transcript_not_found")
    return transcript


def can_record_consent(actor: User, person: Person) -> bool:
    return can(actor, P.CONSENT_RECORD_ANY) or person.created_by_id == actor.id


def can_view_job(actor: User, job: Job) -> bool:
    """Staff see all jobs; others the jobs they started or that concern materials they uploaded."""
    if can(actor, P.JOB_READ_ALL) or job.created_by_id == actor.id:
        return True
    material = db.session.get(Material, job.material_id) if job.material_id else None
    return material is not None and material.collector_id == actor.id


# --- the public ----------------------------------------------------------------------------------------------------

# Link roles whose person must have consented before the material is public (a donor or a mentioned name need not).
CONSENT_LINK_ROLES = ("interviewee", "subject")


def active_public_consent(person_id: Any, interview_id: Any = None) -> ColumnElement[bool]:
    """Condition: an active (not withdrawn) consent of scope ``public`` for the person.

    Without ``interview_id`` only a person-wide consent counts (one signed for a single interview does not make the
    whole profile public, not even once that interview is deleted); with it, a person-wide consent or one signed for
    that interview counts.
    """
    scope: ColumnElement[bool] = Consent.interview_scoped.is_(False)
    if interview_id is not None:
        scope = or_(scope, Consent.interview_id == interview_id)
    return exists().where(Consent.person_id == person_id, Consent.scope == "public",
                          Consent.withdrawn_at.is_(None), scope)


def has_public_consent(person_id: int, interview_id: int | None = None) -> bool:
    return bool(db.session.scalar(select(active_public_consent(person_id, interview_id))))


def person_is_public(person: Any = Person) -> ColumnElement[bool]:
    """Published with an active public consent (``person`` is the Person entity or an alias of it)."""
    return and_(person.status == "published", active_public_consent(person.id))


def project_is_public() -> ColumnElement[bool]:
    """A collection project shown to the public (its published content only: the public rules of each record)."""
    return Project.is_public.is_(True)


def _public_person_id(person_id: Any) -> ColumnElement[bool]:
    person = aliased(Person)
    return exists().where(person.id == person_id, person_is_public(person))


def material_is_public(today: date | None = None) -> ColumnElement[bool]:
    """Open, processed, past its embargo, linked to a public person, and every person whose consent it needs (its
    interviewees and subjects) is public."""
    return _material_is_public(today or current_date())


@lru_cache(maxsize=4)
def _material_is_public(today: date) -> ColumnElement[bool]:
    # Built once per day: the condition is the same for every query, and building its aliases costs milliseconds
    # (an OAI-PMH refresh or a harvest page asks it for each record). Expressions are immutable, so sharing is safe.
    any_link, needs_consent, interviewee = aliased(PersonMaterial), aliased(PersonMaterial), aliased(InterviewPerson)
    return and_(
        Material.access_level == "open",
        Material.status == "ready",
        or_(Material.embargo_until.is_(None), Material.embargo_until <= today),
        exists().where(any_link.material_id == Material.id, _public_person_id(any_link.person_id)),
        ~exists().where(needs_consent.material_id == Material.id, needs_consent.role.in_(CONSENT_LINK_ROLES),
                        ~_public_person_id(needs_consent.person_id)),
        ~exists().where(interviewee.interview_id == Material.interview_id,
                        ~_public_person_id(interviewee.person_id)),
    )


def interview_is_public(today: date | None = None) -> ColumnElement[bool]:
    """An interview is public while one of its materials is (which makes all its interviewees public too)."""
    return exists().where(Material.interview_id == Interview.id, material_is_public(today))


# --- publication: what only an archivist may make public -----------------------------------------------------------
#
# Whatever the public sees got there through an archivist: opening a material (access level), publishing a profile,
# approving a transcript. A change by anyone else that could make something newly public is refused (403
# ``publication_requires_archivist``): taking a person whose consent a material needs (an interviewee or subject)
# off an ``open`` material, moving an open material off its interview, taking an interviewee off an interview with
# open materials, deleting a draft profile that such a material needs, or deleting a redaction of a material that
# is open or has an approved transcript. Changes that can only narrow what is public (a new link, a new redaction)
# stay open to everyone who may edit the record. Archivists' own changes are their decision (and audited).

def decides_publication(actor: User) -> bool:
    return can(actor, P.PUBLICATION_DECIDE)


def require_publication_decision(actor: User, message: str, reason: str, **details: Any) -> None:
    """Refuse a change that could make something newly public unless ``actor`` decides publication."""
    if not decides_publication(actor):
        raise Forbidden(message, code="publication_requires_archivist",
                        details={"reason": reason, "roles": roles_with(P.PUBLICATION_DECIDE), **details})


def guards_publication(material: Material) -> bool:
    """An open material: the archivist opened it with the persons and interview it had; taking away one whose
    consent it needs could publish it without them."""
    return material.access_level == "open"


def interview_has_open_material(interview_id: int) -> bool:
    return db.session.scalar(select(exists().where(Material.interview_id == interview_id,
                                                   Material.access_level == "open"))) or False


def person_guards_open_material(person_id: int) -> bool:
    """Whether an open material needs this person's consent (linked as interviewee or subject, or interviewed in
    the material's interview)."""
    link, interviewee = aliased(PersonMaterial), aliased(InterviewPerson)
    linked = exists().where(link.person_id == person_id, link.role.in_(CONSENT_LINK_ROLES),
                            link.material_id == Material.id, Material.access_level == "open")
    interviewed = exists().where(interviewee.person_id == person_id,
                                 interviewee.interview_id == Material.interview_id, Material.access_level == "open")
    return bool(db.session.scalar(select(or_(linked, interviewed))))


def redactions_guard_publication(material: Material) -> bool:
    """Whether removing a redaction of this material could publish its words: it is open, or one of its
    transcripts is approved (the redactions of every transcript of a material apply to all of them)."""
    if material.access_level == "open":
        return True
    return bool(db.session.scalar(select(exists().where(Transcript.material_id == material.id,
                                                        Transcript.status == "approved"))))

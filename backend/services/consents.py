"""Consents (授权书): recording and withdrawing a person's signed consent, and the one check of public consent."""

from __future__ import annotations

from datetime import date, timedelta, timezone
from typing import Any

from sqlalchemy import select

from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.extensions import db
from backend.models import CONSENT_SCOPES, Consent, Person, User
from backend.models.types import utcnow
from backend.services import audit, policy
from backend.services import persons as person_service
from backend.services.pagination import Page, paginate
from backend.services.policy import Permission

# Consent forms are signed in the archive's own time zone (China Standard Time, no daylight saving): a form signed
# this morning in 连云港 is not "in the future" while UTC still shows yesterday.
ARCHIVE_TZ = timezone(timedelta(hours=8))
SNAPSHOT_FIELDS = ("person_id", "scope", "signed_at", "material_id", "interview_id", "interview_scoped", "conditions")


# --- who may do what -------------------------------------------------------------------------------------------

def can_record(actor: User, person: Person) -> bool:
    """Archivists and admins; and the profile's creator, who collects the signed form in the field."""
    return policy.can_record_consent(actor, person)


def can_withdraw(actor: User) -> bool:
    """Withdrawing unpublishes the person at once: an archivist's (or admin's) act."""
    return policy.can(actor, Permission.CONSENT_WITHDRAW)


# --- reading ---------------------------------------------------------------------------------------------------

def list_consents(actor: User, person_id: int, *, page: int = 1, per_page: int = 20) -> Page[Consent]:
    """A person's consents, newest first, active and withdrawn; for anyone who may see the person."""
    person = person_service.get_person(actor, person_id)
    query = select(Consent).where(Consent.person_id == person.id).order_by(Consent.created_at.desc(),
                                                                         Consent.id.desc())
    return paginate(query, page, per_page)


def _get_consent(person: Person, consent_id: int) -> Consent:
    consent = db.session.get(Consent, consent_id)
    if consent is None or consent.person_id != person.id:
        raise NotFound("授权书不存在", code="consent_not_found")
    return consent


# --- writing ---------------------------------------------------------------------------------------------------

def _withdraw(actor: User, consent: Consent, reason: str | None) -> None:
    consent.withdrawn_at = utcnow()
    consent.withdrawn_by_id = actor.id
    consent.withdraw_reason = reason
    audit.record("consent", consent.id, "withdraw", actor, comment=reason, changes={
        "withdrawn_at": {"before": None, "after": consent.withdrawn_at.isoformat()},
        "withdraw_reason": {"before": None, "after": reason}})


def withdraw_for_deleted_interview(actor: User, interview_id: int) -> list[Consent]:
    """Before an interview is deleted: its interview-scoped consents are withdrawn (they covered that interview
    only; the row stays scoped, so it never counts for the whole person). Person-wide consents are untouched, so
    no profile's public status changes."""
    consents = list(db.session.scalars(select(Consent).where(Consent.interview_id == interview_id,
                                                             Consent.withdrawn_at.is_(None))))
    for consent in consents:
        _withdraw(actor, consent, f"访谈 #{interview_id} 已删除，仅针对该访谈的授权书随之失效")
    db.session.flush()
    return consents


def _field_error(field: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, code=code, details={"fields": {field: [message]}})


def archive_today() -> date:
    return utcnow().astimezone(ARCHIVE_TZ).date()


def _snapshot(consent: Consent) -> dict[str, Any]:
    return {field: getattr(consent, field) for field in SNAPSHOT_FIELDS}


def _check_material(actor: User, material_id: int) -> int:
    try:
        material = policy.visible_material(actor, material_id)
    except NotFound:
        raise _field_error("material_id", "签字的授权书资料不存在或您无权查看", "unknown_material") from None
    if material.status == "failed":
        raise _field_error("material_id", "授权书文件已损坏，请重新上传清晰的扫描件或照片", "material_failed")
    return material.id


def _check_interview(actor: User, person: Person, interview_id: int) -> int:
    try:
        interview = policy.visible_interview(actor, interview_id)
    except NotFound:
        raise _field_error("interview_id", "访谈不存在或您无权查看", "unknown_interview") from None
    if person.id not in interview.interviewee_ids:
        raise _field_error("interview_id", "该访谈的受访人中没有此人物，请先在访谈中添加受访人",
                           "interview_not_of_person")
    return interview.id


def record_consent(actor: User, person_id: int, data: dict[str, Any]) -> Consent:
    """Record a signed consent (``scope``, ``signed_at``, the signed form ``material_id``, optional
    ``interview_id`` and ``conditions``)."""
    person = person_service.get_person(actor, person_id)
    if not can_record(actor, person):
        raise Forbidden("只有档案员、管理员或该档案的采集员可以登记授权书", code="consent_forbidden")
    scope = data["scope"]
    if scope not in CONSENT_SCOPES:
        raise _field_error("scope", f"授权范围应为 {', '.join(CONSENT_SCOPES)}", "invalid_consent")
    signed_at: date = data["signed_at"]
    if signed_at > archive_today():
        raise _field_error("signed_at", "签署日期不能晚于今天", "invalid_consent")
    material_id = _check_material(actor, data["material_id"])
    interview_id = data.get("interview_id")
    if interview_id is not None:
        interview_id = _check_interview(actor, person, interview_id)
    consent = Consent(person_id=person.id, scope=scope, signed_at=signed_at, material_id=material_id,
                      interview_id=interview_id, interview_scoped=interview_id is not None,
                      conditions=(data.get("conditions") or "").strip(), created_by_id=actor.id, created_at=utcnow())
    db.session.add(consent)
    db.session.flush()
    audit.record("consent", consent.id, "create", actor, changes=audit.diff({}, _snapshot(consent)))
    db.session.flush()
    return consent


def withdraw_consent(actor: User, person_id: int, consent_id: int, *, reason: str | None = None) -> Consent:
    """Withdraw a consent. When the person no longer has a public consent, a published profile is withdrawn in the
    same transaction (and the public API, which checks ``has_public_consent`` on every request, stops serving
    anything of the person at once)."""
    person = person_service.get_person(actor, person_id)
    if not can_withdraw(actor):
        raise Forbidden("只有档案员或管理员可以撤回授权书", code="consent_forbidden")
    # Lock the profile: a publish running at the same moment either finishes first (and is withdrawn here) or
    # waits and then finds no public consent (publication.check_publishable takes the same lock).
    db.session.refresh(person, with_for_update=True)
    consent = _get_consent(person, consent_id)
    if consent.withdrawn_at is not None:
        raise Conflict("该授权书已撤回", code="consent_withdrawn",
                       details={"withdrawn_at": consent.withdrawn_at.isoformat()})
    reason = (reason or "").strip() or None
    _withdraw(actor, consent, reason)
    if person.status == "published" and not policy.has_public_consent(person.id):
        comment = f"授权书 #{consent.id}（{consent.scope}）已撤回，档案随即撤下"
        if reason:
            comment += f"：{reason}"
        person_service.transition(actor, person.id, "withdraw", comment=comment, expected_version=person.version)
    else:
        db.session.flush()
    return consent

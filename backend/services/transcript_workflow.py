"""The review workflow of transcripts: the review queue, and the review → approve / return transitions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select

from backend.errors import InvalidTransition, ValidationFailed
from backend.extensions import db
from backend.models import InterviewPerson, Material, PersonMaterial, Transcript, User
from backend.models.types import utcnow
from backend.services import audit, notifications
from backend.services import interviews as interview_service
from backend.services.pagination import Page
from backend.services.policy import Permission
from backend.services.transcript_edits import bump_version
from backend.services.transcript_locks import lock_holder_id, locked_error, require, with_locks
from backend.services.transcripts import get_transcript
from backend.services.versioning import check_version

# action: (states it may start from, state it leads to, the permission it takes)
TRANSITIONS: dict[str, tuple[frozenset[str], str, Permission]] = {
    "review": (frozenset({"in_review"}), "reviewed", Permission.TRANSCRIPT_EDIT),
    "approve": (frozenset({"reviewed"}), "approved", Permission.TRANSCRIPT_APPROVE),
    "return": (frozenset({"reviewed", "approved"}), "in_review", Permission.TRANSCRIPT_APPROVE),
}


# --- the queue -----------------------------------------------------------------------------------------------------

def review_queue(actor: User, *, status: str | None = None, flagged: bool | None = None, person: int | None = None,
                 collector: int | None = None, holder: int | None = None, page: int = 1, per_page: int = 20
                 ) -> Page[Any]:
    """Transcripts to review, most-flagged first, then oldest; items are (transcript, material title, collector)
    rows, each transcript with its ``lock`` (the holders loaded in one query)."""
    require(actor, Permission.TRANSCRIPT_EDIT)
    query = select(Transcript, Material.title, Material.collector_id).join(Material, Material.id == Transcript.material_id)
    if status:
        query = query.where(Transcript.status == status)
    if flagged is True:
        query = query.where(Transcript.flagged_count > 0)
    elif flagged is False:
        query = query.where(Transcript.flagged_count == 0)
    if person:
        query = query.where(or_(
            Material.id.in_(select(PersonMaterial.material_id).where(PersonMaterial.person_id == person)),
            Material.interview_id.in_(select(InterviewPerson.interview_id).where(InterviewPerson.person_id == person))))
    if collector:
        query = query.where(Material.collector_id == collector)
    if holder:
        query = query.where(Transcript.locked_by_id == holder, Transcript.lock_expires_at > utcnow())
    query = query.order_by(Transcript.flagged_count.desc(), Transcript.created_at.asc(), Transcript.id.asc())
    per_page = max(1, min(per_page, 100))
    page = max(1, page)
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = db.session.execute(query.limit(per_page).offset((page - 1) * per_page)).all()
    with_locks([row[0] for row in rows])
    collector_ids = {row[2] for row in rows}
    collectors = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(collector_ids)))} \
        if collector_ids else {}
    return Page(items=[(row[0], row[1], collectors.get(row[2])) for row in rows], total=total, page=page,
                per_page=per_page)


# --- the workflow ----------------------------------------------------------------------------------------------------

def transition(actor: User, transcript_id: int, action: str, *, comment: str | None = None,
               expected_version: int | None = None) -> Transcript:
    """Apply a workflow ``action`` (review, approve, return) under If-Match; each ends any claim."""
    sources, target, permission = TRANSITIONS[action]
    require(actor, permission, "transition_forbidden")
    transcript = get_transcript(actor, transcript_id)
    check_version(transcript, expected_version)
    if transcript.status not in sources:
        raise InvalidTransition(f"状态为“{transcript.status}”的转写稿不能执行“{action}”",
                                details={"action": action, "status": transcript.status,
                                         "allowed_from": sorted(sources)})
    if action == "review":
        holder = lock_holder_id(transcript)
        if holder is not None and holder != actor.id:
            raise locked_error(transcript)
    if action == "return" and not (comment and comment.strip()):
        raise ValidationFailed("退回时必须填写意见", code="comment_required",
                               details={"fields": {"comment": ["required"]}})
    now = bump_version(actor, transcript, transcript.version, respect_lock=action == "review")
    before = transcript.status
    transcript.status = target
    if action == "review":
        transcript.reviewed_by_id, transcript.reviewed_at = actor.id, now
    elif action == "approve":
        transcript.approved_by_id, transcript.approved_at, transcript.review_comment = actor.id, now, None
    else:
        transcript.approved_by_id, transcript.approved_at = None, None
        transcript.review_comment = comment.strip() if comment else None
        recipient = transcript.reviewed_by_id or transcript.created_by_id
        if recipient is not None:
            notifications.notify(recipient, "transcript_returned", "transcript", transcript.id,
                                 f"转写稿 {transcript.id} 被退回，请按意见继续校对", comment=transcript.review_comment,
                                 actor=actor)
    # Marking reviewed or approved ends the claim: the editor is done, or the text is now read-only.
    transcript.locked_by_id, transcript.lock_expires_at = None, None
    audit.record("transcript", transcript.id, action, actor,
                 changes={"status": {"before": before, "after": target},
                          "version": {"before": transcript.version - 1, "after": transcript.version}},
                 comment=comment if action == "return" else None)
    if action == "approve":
        interview_service.approve_with_transcript(actor, transcript)  # the interview's 档号, the first time
    db.session.flush()
    return transcript

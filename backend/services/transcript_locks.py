"""Claim locks on transcripts under review: who holds one until when, claiming, renewing, releasing and breaking."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import ColumnElement, CursorResult, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from backend.errors import Conflict, Forbidden, Locked
from backend.extensions import db
from backend.models import Transcript, User
from backend.models.types import utcnow
from backend.services import audit, notifications, policy
from backend.services.policy import Permission
from backend.services.transcripts import get_transcript


@dataclass(frozen=True)
class TranscriptLock:
    """An unexpired claim: who holds it and when it lapses."""

    holder: User
    expires_at: datetime


def lock_duration() -> timedelta:
    configured = current_app.config.get("TRANSCRIPT_LOCK")
    return timedelta(minutes=30) if configured is None else configured


def lock_holder_id(transcript: Transcript, now: datetime | None = None) -> int | None:
    """The user holding an unexpired claim on the transcript, or None."""
    if transcript.locked_by_id is None or transcript.lock_expires_at is None:
        return None
    return transcript.locked_by_id if transcript.lock_expires_at > (now or utcnow()) else None


def free_for(actor: User, now: datetime) -> ColumnElement[bool]:
    """SQL condition: nobody else holds an unexpired claim."""
    return or_(Transcript.locked_by_id.is_(None), Transcript.locked_by_id == actor.id,
               Transcript.lock_expires_at.is_(None), Transcript.lock_expires_at <= now)


# --- reading locks for the API ----------------------------------------------------------------------------------

def current_locks(transcripts: Iterable[Transcript]) -> dict[int, TranscriptLock]:
    """The unexpired claims of ``transcripts`` by transcript id, their holders loaded in one query."""
    now = utcnow()
    held = {t.id: (holder, t.lock_expires_at) for t in transcripts
            if (holder := lock_holder_id(t, now)) is not None and t.lock_expires_at is not None}
    if not held:
        return {}
    holder_ids = {holder for holder, _ in held.values()}
    users = {user.id: user for user in db.session.scalars(select(User).where(User.id.in_(holder_ids)))}
    return {tid: TranscriptLock(users[holder], expires) for tid, (holder, expires) in held.items()}


def with_locks(transcripts: list[Transcript]) -> list[Transcript]:
    """Set ``transcript.lock`` (a TranscriptLock or None) on each, for serialising: one query for all holders."""
    locks = current_locks(transcripts)
    for transcript in transcripts:
        transcript.lock = locks.get(transcript.id)  # type: ignore[attr-defined]  # read by the transcript schemas
    return transcripts


def with_lock(transcript: Transcript) -> Transcript:
    return with_locks([transcript])[0]


def locked_error(transcript: Transcript) -> Locked:
    """423 naming whoever holds the claim now and until when (nobody, if it lapsed a moment ago)."""
    lock = current_locks([transcript]).get(transcript.id)
    holder = None if lock is None else {"id": lock.holder.id, "username": lock.holder.username,
                                        "display_name": lock.holder.display_name}
    expires_at = None if lock is None else lock.expires_at.isoformat()
    name = (holder and (holder["display_name"] or holder["username"])) or "他人"
    return Locked(f"转写稿正由{name}校对，锁定至 {expires_at}", code="transcript_locked",
                  details={"holder": holder, "expires_at": expires_at})


# --- guards shared by the review services -----------------------------------------------------------------------

def require(actor: User, permission: Permission, code: str = "review_forbidden") -> None:
    if not policy.can(actor, permission):
        raise Forbidden("您的角色不能执行此操作", code=code,
                        details={"permission": permission.value, "roles": policy.roles_with(permission)})


def editable_transcript(actor: User, transcript_id: int) -> Transcript:
    """The transcript, if ``actor`` may edit transcripts and it is not approved (approved text is read-only)."""
    require(actor, Permission.TRANSCRIPT_EDIT, "edit_forbidden")
    transcript = get_transcript(actor, transcript_id)
    if transcript.status == "approved":
        raise Conflict("转写稿已审定，不能修改；如需修改请档案员退回", code="transcript_approved",
                       details={"status": transcript.status})
    return transcript


# --- claims --------------------------------------------------------------------------------------------------------

def claim(actor: User, transcript_id: int) -> Transcript:
    """Claim (or, for the holder, renew) the transcript for TRANSCRIPT_LOCK; machine → in_review."""
    transcript = editable_transcript(actor, transcript_id)
    now = utcnow()
    previous = lock_holder_id(transcript, now)
    if previous is not None and previous != actor.id:
        raise locked_error(transcript)
    expires = now + lock_duration()
    held_until = transcript.lock_expires_at.isoformat() if previous is not None and transcript.lock_expires_at else None
    result = cast(CursorResult[Any], db.session.execute(
        update(Transcript).where(Transcript.id == transcript.id, free_for(actor, now))
        .values(locked_by_id=actor.id, lock_expires_at=expires).execution_options(synchronize_session=False)))
    if result.rowcount != 1:  # someone claimed it a moment ago
        db.session.refresh(transcript)
        raise locked_error(transcript)
    set_committed_value(transcript, "locked_by_id", actor.id)
    set_committed_value(transcript, "lock_expires_at", expires)
    changes: dict[str, Any] = {"lock_expires_at": {"before": held_until, "after": expires.isoformat()},
                               "renewed": previous == actor.id}
    if transcript.status == "machine":
        transcript.status = "in_review"
        transcript.updated_at = now
        changes["status"] = {"before": "machine", "after": "in_review"}
    audit.record("transcript", transcript.id, "claim", actor, changes=changes)
    db.session.flush()
    return transcript


def release(actor: User, transcript_id: int) -> None:
    """Give up a claim (its holder), or break anyone's (an admin). Releasing a free transcript does nothing."""
    require(actor, Permission.TRANSCRIPT_EDIT, "edit_forbidden")
    transcript = get_transcript(actor, transcript_id)
    holder = lock_holder_id(transcript)
    if holder is not None and holder != actor.id and not policy.can(actor, Permission.TRANSCRIPT_BREAK_LOCK):
        raise locked_error(transcript)
    if holder is not None:
        expires = transcript.lock_expires_at.isoformat() if transcript.lock_expires_at else None
        action = "release" if holder == actor.id else "break_lock"
        audit.record("transcript", transcript.id, action, actor,
                     changes={"locked_by_id": {"before": holder, "after": None},
                              "lock_expires_at": {"before": expires, "after": None}})
        if action == "break_lock":
            notifications.notify(holder, "transcript_lock_broken", "transcript", transcript.id,
                                 f"管理员解除了您对转写稿 {transcript.id} 的锁定，未保存的修改请重新读取后再提交",
                                 actor=actor)
    transcript.locked_by_id = None
    transcript.lock_expires_at = None
    db.session.flush()

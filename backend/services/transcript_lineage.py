"""Reading a transcript's lineage: its revisions with their authors, one revision, and the diff between two."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import defer, joinedload, selectinload

from backend.errors import NotFound
from backend.extensions import db
from backend.models import Transcript, TranscriptRevision, User
from backend.services.pagination import Page, paginate
from backend.services.transcripts import get_transcript
from transcription.diff import diff_segments


def revision_of(transcript: Transcript, number: int) -> TranscriptRevision:
    """Revision ``number`` of the transcript with its author (joined in the same query), or 404."""
    revision = db.session.scalar(select(TranscriptRevision).options(joinedload(TranscriptRevision.created_by))
                                 .where(TranscriptRevision.transcript_id == transcript.id,
                                        TranscriptRevision.number == number))
    if revision is None:
        raise NotFound("该修订版本不存在", code="revision_not_found", details={"revision": number})
    return revision


def latest_number(transcript: Transcript) -> int | None:
    return db.session.scalar(select(func.max(TranscriptRevision.number)).where(
        TranscriptRevision.transcript_id == transcript.id))


def list_revisions(actor: User, transcript_id: int, *, page: int = 1, per_page: int = 20) -> Page[TranscriptRevision]:
    """Revisions newest first, without their snapshots, with their authors (one query for the page's authors)."""
    transcript = get_transcript(actor, transcript_id)
    query = (select(TranscriptRevision)
             .options(defer(TranscriptRevision.segments), selectinload(TranscriptRevision.created_by))
             .where(TranscriptRevision.transcript_id == transcript.id).order_by(TranscriptRevision.number.desc()))
    return paginate(query, page, per_page)


def get_revision(actor: User, transcript_id: int, number: int) -> TranscriptRevision:
    return revision_of(get_transcript(actor, transcript_id), number)


def diff(actor: User, transcript_id: int, from_number: int | None, to_number: int | None) -> dict[str, Any]:
    """Segment- and character-level differences between two revisions (default: the latest and the one before)."""
    transcript = get_transcript(actor, transcript_id)
    latest = latest_number(transcript)
    if latest is None:
        raise NotFound("该转写稿还没有修订记录", code="revision_not_found")
    to_number = to_number or latest
    from_number = from_number or max(1, to_number - 1)
    old, new = revision_of(transcript, from_number), revision_of(transcript, to_number)
    return {"transcript_id": transcript.id, "from": from_number, "to": to_number,
            **diff_segments(list(old.segments), list(new.segments))}

"""Editing transcripts under If-Match: segment edits, splits, merges, bulk saves, speakers and reverts; each save moves
the version by a conditional UPDATE and records a revision."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm.attributes import set_committed_value

from backend.errors import NotFound, PreconditionFailed, ValidationFailed
from backend.extensions import db
from backend.models import Transcript, TranscriptRevision, TranscriptSegment, User
from backend.models.types import utcnow
from backend.services import audit
from backend.services import persons as person_service
from backend.services.transcript_lineage import latest_number, revision_of
from backend.services.transcript_locks import editable_transcript, free_for, lock_duration, lock_holder_id, locked_error
from backend.services.transcripts import segment_snapshot
from backend.services.versioning import check_version

EDITABLE_SEGMENT_FIELDS = ("text", "speaker", "start", "end", "flagged")
# Tolerance for float noise when comparing times (seconds).
EPSILON = 1e-6
MACHINE_SUMMARY = "machine transcription"


# --- the version and the claim -----------------------------------------------------------------------------------

def _check_lock_and_version(actor: User, transcript: Transcript, expected_version: int | None) -> None:
    holder = lock_holder_id(transcript)
    if holder is not None and holder != actor.id:
        raise locked_error(transcript)
    check_version(transcript, expected_version)


def bump_version(actor: User, transcript: Transcript, expected_version: int, *, respect_lock: bool = True
                 ) -> datetime:
    """Move to the next version atomically: only if the row is still at ``expected_version`` (and, for saves,
    nobody else holds the claim). Concurrent writers are serialised by the row; the loser gets 412 or 423."""
    now = utcnow()
    conditions = [Transcript.id == transcript.id, Transcript.version == expected_version]
    if respect_lock:
        conditions.append(free_for(actor, now))
    result = cast(CursorResult[Any], db.session.execute(
        update(Transcript).where(*conditions).values(version=expected_version + 1, updated_at=now)
        .execution_options(synchronize_session=False)))
    if result.rowcount != 1:
        fresh = transcript
        db.session.refresh(fresh)
        holder = lock_holder_id(fresh)
        if respect_lock and holder is not None and holder != actor.id:
            raise locked_error(fresh)
        raise PreconditionFailed(details={"current_version": fresh.version, "your_version": expected_version})
    set_committed_value(transcript, "version", expected_version + 1)
    set_committed_value(transcript, "updated_at", now)
    if lock_holder_id(transcript, now) == actor.id:  # activity keeps the holder's claim alive
        transcript.lock_expires_at = now + lock_duration()
    return now


# --- segments ------------------------------------------------------------------------------------------------------

def _segment_at(transcript: Transcript, index: int) -> TranscriptSegment:
    if not 0 <= index < len(transcript.segments):
        raise NotFound("该段不存在", code="segment_not_found",
                       details={"index": index, "segment_count": len(transcript.segments)})
    return transcript.segments[index]


def _check_times(transcript: Transcript, segments: Sequence[TranscriptSegment], positions: Iterable[int]) -> None:
    """Touched segments must have start < end, lie inside the audio and not overlap their neighbours."""
    duration = transcript.duration or 0.0
    problems: list[dict[str, Any]] = []
    for p in sorted(set(positions)):
        segment = segments[p]
        if segment.start < 0:
            problems.append({"index": p, "field": "start", "problem": "negative", "message": "开始时间不能为负",
                             "start": segment.start})
        if segment.end <= segment.start:
            problems.append({"index": p, "field": "end", "problem": "not_after_start",
                             "message": "结束时间须晚于开始时间", "start": segment.start, "end": segment.end})
        if duration > 0 and segment.end > duration + EPSILON:
            problems.append({"index": p, "field": "end", "problem": "beyond_duration", "message": "超出音频时长",
                             "end": segment.end, "duration": duration})
        if duration > 0 and segment.start >= duration:
            problems.append({"index": p, "field": "start", "problem": "beyond_duration", "message": "超出音频时长",
                             "start": segment.start, "duration": duration})
        if p > 0 and segment.start < segments[p - 1].end - EPSILON:
            problems.append({"index": p, "field": "start", "problem": "overlaps_previous",
                             "message": "与前一段时间重叠", "start": segment.start,
                             "previous_end": segments[p - 1].end})
        if p + 1 < len(segments) and segment.end > segments[p + 1].start + EPSILON:
            problems.append({"index": p, "field": "end", "problem": "overlaps_next", "message": "与后一段时间重叠",
                             "end": segment.end, "next_start": segments[p + 1].start})
    if problems:
        raise ValidationFailed("时间码无效：须开始早于结束、在音频时长之内、且不与相邻段重叠",
                               code="invalid_segment_times", details={"problems": problems, "duration": duration})


# --- revisions -------------------------------------------------------------------------------------------------

def _ensure_base_revision(transcript: Transcript) -> None:
    """Revision 1 is written at transcription; a transcript stored without one gets it from its untouched state."""
    exists = db.session.scalar(select(TranscriptRevision.id).where(
        TranscriptRevision.transcript_id == transcript.id).limit(1))
    if exists is None:
        db.session.add(TranscriptRevision(transcript_id=transcript.id, number=1, created_by_id=None,
                                          summary=MACHINE_SUMMARY,
                                          segments=[segment_snapshot(s) for s in transcript.segments]))
        db.session.flush()


def _mark_edited(transcript: Transcript) -> dict[str, Any]:
    """A save moves machine (first edit) and reviewed (the reviewed text changed) back to in_review."""
    if transcript.status in ("machine", "reviewed"):
        before, transcript.status = transcript.status, "in_review"
        return {"status": {"before": before, "after": "in_review"}}
    return {}


def _renumber(transcript: Transcript, ordered: list[TranscriptSegment]) -> None:
    """Give ``ordered`` the indexes 0..n-1 (rows not in it are deleted) without tripping the unique index."""
    for position, segment in enumerate(ordered):
        if segment.index != position or segment.id is None:
            segment.index = -(position + 1)
    transcript.segments = list(ordered)
    db.session.flush()
    for position, segment in enumerate(ordered):
        segment.index = position
    db.session.flush()


def _record_revision(actor: User, transcript: Transcript, *, action: str, summary: str, changed: Iterable[int],
                     extra: dict[str, Any], now: datetime) -> TranscriptRevision:
    """The segments as saved, as the next revision, with the audit record of the save."""
    db.session.flush()
    number = (latest_number(transcript) or 0) + 1
    ordered = sorted(transcript.segments, key=lambda s: s.index)
    revision = TranscriptRevision(transcript_id=transcript.id, number=number, created_by_id=actor.id,
                                  created_at=now, summary=summary, changed=sorted(set(changed)),
                                  segments=[segment_snapshot(s) for s in ordered])
    db.session.add(revision)
    transcript.flagged_count = sum(1 for s in ordered if s.flagged)
    audit.record("transcript", transcript.id, action, actor, changes={
        "revision": number, "summary": summary, "changed": revision.changed,
        "version": {"before": transcript.version - 1, "after": transcript.version}, **extra})
    db.session.flush()
    return revision


def _row_changes(segment: TranscriptSegment, data: dict[str, Any]) -> dict[str, Any]:
    return {field: value for field, value in data.items()
            if field in EDITABLE_SEGMENT_FIELDS and getattr(segment, field) != value}


# --- edits -----------------------------------------------------------------------------------------------------------

def edit_segment(actor: User, transcript_id: int, index: int, data: dict[str, Any], *, expected_version: int
                 ) -> Transcript:
    transcript = editable_transcript(actor, transcript_id)
    segment = _segment_at(transcript, index)
    _check_lock_and_version(actor, transcript, expected_version)
    changes = _row_changes(segment, data)
    if not changes:
        return transcript
    now = bump_version(actor, transcript, expected_version)
    _ensure_base_revision(transcript)
    before = segment_snapshot(segment)
    for field, value in changes.items():
        setattr(segment, field, value)
    if "start" in changes or "end" in changes:
        _check_times(transcript, transcript.segments, [index])
    extra = {"segments": {str(index): {"before": before, "after": segment_snapshot(segment)}},
             **_mark_edited(transcript)}
    _record_revision(actor, transcript, action="edit_segment", summary=f"edit segment {index}", changed=[index],
                     extra=extra, now=now)
    return transcript


def _split_words(words: list[dict[str, Any]], at: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    before = [w for w in words or [] if (w.get("start") or 0.0) < at]
    return before, [w for w in words or [] if (w.get("start") or 0.0) >= at]


def split_segment(actor: User, transcript_id: int, index: int, *, at: float, text_before: str, text_after: str,
                  expected_version: int) -> Transcript:
    """Split segment ``index`` at ``at`` seconds into two; later segments move up by one."""
    transcript = editable_transcript(actor, transcript_id)
    segment = _segment_at(transcript, index)
    _check_lock_and_version(actor, transcript, expected_version)
    if not segment.start + EPSILON < at < segment.end - EPSILON:
        raise ValidationFailed("拆分点须在该段的开始和结束时间之间", code="invalid_split_point",
                               details={"index": index, "at": at, "start": segment.start, "end": segment.end,
                                        "fields": {"at": [f"须在 {segment.start} 与 {segment.end} 之间"]}})
    now = bump_version(actor, transcript, expected_version)
    _ensure_base_revision(transcript)
    before = segment_snapshot(segment)
    words_before, words_after = _split_words(segment.words, at)
    meta_after = {"flags": segment.meta["flags"]} if (segment.meta or {}).get("flags") else {}
    second = TranscriptSegment(
        transcript_id=transcript.id, start=at, end=segment.end, text=text_after, speaker=segment.speaker,
        avg_logprob=segment.avg_logprob, no_speech_prob=segment.no_speech_prob,
        compression_ratio=segment.compression_ratio, words=words_after, flagged=segment.flagged, meta=meta_after,
        index=-1)
    segment.end, segment.text, segment.words = at, text_before, words_before
    ordered = list(transcript.segments)
    ordered.insert(index + 1, second)
    _renumber(transcript, ordered)
    _check_times(transcript, ordered, [index, index + 1])
    extra = {"segments": {str(index): {"before": before,
                                       "after": [segment_snapshot(segment), segment_snapshot(second)]}},
             **_mark_edited(transcript)}
    _record_revision(actor, transcript, action="split_segment", summary=f"split {index}", changed=[index],
                     extra=extra, now=now)
    return transcript


def _join_text(parts: list[str]) -> str:
    """Chinese runs on without separators; a space is kept between two Latin words or numbers."""
    joined = ""
    for part in parts:
        if joined and part and joined[-1].isascii() and joined[-1].isalnum() and part[0].isascii() \
                and part[0].isalnum():
            joined += " "
        joined += part
    return joined


def _merge_meta(metas: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for meta in metas:
        for key, value in (meta or {}).items():
            if isinstance(value, list):
                merged.setdefault(key, [])
                merged[key] = [*merged[key], *value] if isinstance(merged[key], list) else merged[key]
            else:
                merged.setdefault(key, value)
    return merged


def _pick(values: list[float | None], choose: Any) -> float | None:
    present = [v for v in values if v is not None]
    return choose(present) if present else None


def merge_segments(actor: User, transcript_id: int, indexes: list[int], *, expected_version: int) -> Transcript:
    """Merge adjacent segments (same speaker) into the first; later segments move down."""
    transcript = editable_transcript(actor, transcript_id)
    wanted = sorted(set(indexes))
    count = len(transcript.segments)
    if len(wanted) < 2 or wanted != list(range(wanted[0], wanted[0] + len(wanted))) or wanted != indexes:
        raise ValidationFailed("只能合并相邻的段，按顺序给出，如 [4, 5]", code="invalid_merge",
                               details={"fields": {"indexes": ["须为相邻且递增的段号"]}, "indexes": indexes})
    if wanted[-1] >= count:
        raise ValidationFailed("该段不存在", code="segment_not_found",
                               details={"fields": {"indexes": [f"段号须小于 {count}"]}, "segment_count": count})
    _check_lock_and_version(actor, transcript, expected_version)
    rows = [transcript.segments[i] for i in wanted]
    speakers = {row.speaker for row in rows}
    if len(speakers) > 1:
        raise ValidationFailed("不同说话人的段不能合并；请先统一说话人", code="speaker_mismatch",
                               details={"speakers": {str(i): transcript.segments[i].speaker for i in wanted}})
    now = bump_version(actor, transcript, expected_version)
    _ensure_base_revision(transcript)
    before = [segment_snapshot(row) for row in rows]
    first = rows[0]
    first.end = rows[-1].end
    first.text = _join_text([row.text for row in rows])
    first.words = [w for row in rows for w in (row.words or [])]
    first.flagged = any(row.flagged for row in rows)
    first.meta = _merge_meta([row.meta for row in rows])
    first.avg_logprob = _pick([row.avg_logprob for row in rows], min)
    first.no_speech_prob = _pick([row.no_speech_prob for row in rows], max)
    first.compression_ratio = _pick([row.compression_ratio for row in rows], max)
    ordered = [s for s in transcript.segments if s not in rows[1:]]
    _renumber(transcript, ordered)
    extra = {"segments": {"-".join(map(str, (wanted[0], wanted[-1]))): {"before": before,
                                                                       "after": segment_snapshot(first)}},
             **_mark_edited(transcript)}
    _record_revision(actor, transcript, action="merge_segments", summary=f"merge {wanted[0]}-{wanted[-1]}",
                     changed=wanted, extra=extra, now=now)
    return transcript


def bulk_save(actor: User, transcript_id: int, items: list[dict[str, Any]], *, expected_version: int) -> Transcript:
    """Save many segments at once (each item names its index and the fields it changes), as one revision."""
    transcript = editable_transcript(actor, transcript_id)
    count = len(transcript.segments)
    seen: set[int] = set()
    errors: dict[str, list[str]] = {}
    for position, item in enumerate(items):
        if item["index"] in seen:
            errors.setdefault(str(position), []).append(f"段号 {item['index']} 重复")
        elif item["index"] >= count:
            errors.setdefault(str(position), []).append(f"段号 {item['index']} 不存在（共 {count} 段）")
        seen.add(item["index"])
    if errors:
        raise ValidationFailed("批量保存的段号无效", code="invalid_segments", details={"fields": {"segments": errors}})
    _check_lock_and_version(actor, transcript, expected_version)
    planned = {item["index"]: _row_changes(transcript.segments[item["index"]], item) for item in items}
    planned = {index: changes for index, changes in planned.items() if changes}
    if not planned:
        return transcript
    now = bump_version(actor, transcript, expected_version)
    _ensure_base_revision(transcript)
    touched: dict[str, Any] = {}
    for index, changes in sorted(planned.items()):
        segment = transcript.segments[index]
        before = segment_snapshot(segment)
        for field, value in changes.items():
            setattr(segment, field, value)
        touched[str(index)] = {"before": before, "after": segment_snapshot(segment)}
    _check_times(transcript, transcript.segments,
                 [index for index, changes in planned.items() if "start" in changes or "end" in changes])
    n = len(planned)
    _record_revision(actor, transcript, action="bulk_save", summary=f"bulk save {n} segment{'s' if n != 1 else ''}",
                     changed=planned, extra={"segments": touched, **_mark_edited(transcript)}, now=now)
    return transcript


def revert(actor: User, transcript_id: int, number: int, *, expected_version: int) -> Transcript:
    """Restore exactly the segments of revision ``number`` as a new revision (history is never rewritten)."""
    transcript = editable_transcript(actor, transcript_id)
    _check_lock_and_version(actor, transcript, expected_version)
    _ensure_base_revision(transcript)
    target = revision_of(transcript, number)
    now = bump_version(actor, transcript, expected_version)
    current = [segment_snapshot(s) for s in transcript.segments]
    # Rows whose times match a restored segment keep their words, scores and clean-up notes.
    pool: dict[tuple[float, float], list[TranscriptSegment]] = {}
    for row in transcript.segments:
        pool.setdefault((row.start, row.end), []).append(row)
    all_words = [w for row in transcript.segments for w in (row.words or [])]
    ordered: list[TranscriptSegment] = []
    for snap in target.segments:
        candidates = pool.get((snap["start"], snap["end"]))
        if candidates:
            row = candidates.pop(0)
        else:
            row = TranscriptSegment(transcript_id=transcript.id, index=-1, start=snap["start"], end=snap["end"],
                                    words=[w for w in all_words
                                           if snap["start"] <= (w.get("start") or 0.0) < snap["end"]],
                                    meta={})
        row.start, row.end, row.text = snap["start"], snap["end"], snap["text"]
        row.speaker, row.flagged = snap.get("speaker"), bool(snap.get("flagged", False))
        ordered.append(row)
    _renumber(transcript, ordered)
    restored = target.segments
    changed = [i for i in range(max(len(current), len(restored))) if current[i:i + 1] != restored[i:i + 1]]
    _record_revision(actor, transcript, action="revert", summary=f"revert to {number}", changed=changed,
                     extra={"reverted_to": number, **_mark_edited(transcript)}, now=now)
    return transcript


def set_speakers(actor: User, transcript_id: int, mapping: dict[str, dict[str, Any]], *, expected_version: int
                 ) -> Transcript:
    """Map speaker labels to persons (who must exist and be visible) or free names; audited, no revision."""
    transcript = editable_transcript(actor, transcript_id)
    _check_lock_and_version(actor, transcript, expected_version)
    clean: dict[str, dict[str, Any]] = {}
    errors: dict[str, list[str]] = {}
    for label, target in mapping.items():
        if target.get("person_id") is not None:
            try:
                person = person_service.get_person(actor, target["person_id"])
            except NotFound:
                errors.setdefault(label, []).append(f"人物档案 {target['person_id']} 不存在")
                continue
            clean[label] = {"person_id": person.id}
        else:
            clean[label] = {"name": target["name"].strip()}
            if not clean[label]["name"]:
                errors.setdefault(label, []).append("姓名不能为空")
    if errors:
        raise ValidationFailed("说话人对应关系无效", code="invalid_speakers", details={"fields": errors})
    before = dict(transcript.speakers or {})
    if clean == before:
        return transcript
    bump_version(actor, transcript, expected_version)
    transcript.speakers = clean
    audit.record("transcript", transcript.id, "speakers", actor, changes={
        "speakers": {"before": before, "after": clean},
        "version": {"before": transcript.version - 1, "after": transcript.version}, **_mark_edited(transcript)})
    db.session.flush()
    return transcript

"""Redactions: time ranges of a transcript kept from the public, and the job that renders the public proxy with
those ranges silenced (the archive's original and internal proxy are never touched)."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import select

from backend.errors import Forbidden, NotFound, ValidationFailed
from backend.extensions import db
from backend.models import Derivative, Job, Material, Redaction, Transcript, User
from backend.models.types import utcnow
from backend import transaction
from backend.services import audit, jobs, policy
from backend.services import transcripts as transcript_service
from backend.services.pagination import Page, paginate
from backend.services.policy import Permission
from backend.services.storage import get_storage
from media import ffmpeg
from media.errors import CorruptMedia, UnsupportedMedia

log = logging.getLogger(__name__)
PUBLIC_PROXY = "public_proxy"
# extension and MIME type of the public proxy, by material kind (the same containers as the internal proxy)
PUBLIC_PROXY_TYPES = {"audio": ("m4a", "audio/mp4"), "video": ("mp4", "video/mp4")}


# --- who may do what -------------------------------------------------------------------------------------------

def _redactable_transcript(actor: User, transcript_id: int) -> Transcript:
    if not policy.can(actor, Permission.TRANSCRIPT_REDACT):
        raise Forbidden("只有编辑和档案员可以管理转写稿的限制片段", code="redaction_forbidden",
                        details={"roles": policy.roles_with(Permission.TRANSCRIPT_REDACT)})
    return transcript_service.get_transcript(actor, transcript_id)


def _snapshot(redaction: Redaction) -> dict[str, Any]:
    return {"id": redaction.id, "start": redaction.start, "end": redaction.end, "reason": redaction.reason,
            "note": redaction.note}


def _duration_of(transcript: Transcript) -> float | None:
    if transcript.duration and transcript.duration > 0:
        return float(transcript.duration)
    material = db.session.get(Material, transcript.material_id)
    duration = (material.media_info or {}).get("duration") if material is not None else None
    return float(duration) if duration else None


# --- reading and changing ---------------------------------------------------------------------------------------

def list_redactions(actor: User, transcript_id: int, *, page: int = 1, per_page: int = 20) -> Page[Redaction]:
    transcript = _redactable_transcript(actor, transcript_id)
    query = (select(Redaction).where(Redaction.transcript_id == transcript.id)
             .order_by(Redaction.start, Redaction.id))
    return paginate(query, page, per_page)


def add_redaction(actor: User, transcript_id: int, data: dict[str, Any]) -> tuple[Redaction, Job | None]:
    """Mark ``[start, end)`` of a transcript as restricted; queues the re-rendering of the public proxy."""
    transcript = _redactable_transcript(actor, transcript_id)
    start, end = float(data["start"]), float(data["end"])
    duration = _duration_of(transcript)
    errors: dict[str, list[str]] = {}
    if start < 0:
        errors.setdefault("start", []).append("不能小于 0")
    if end <= start:
        errors.setdefault("end", []).append("须大于 start")
    if duration is not None and end > duration + 1e-6:
        errors.setdefault("end", []).append(f"超出录音时长 {duration:g} 秒")
    if errors:
        raise ValidationFailed("限制片段的时间范围无效", code="invalid_redaction",
                               details={"fields": errors, "duration": duration})
    redaction = Redaction(transcript_id=transcript.id, start=start, end=end, reason=data["reason"],
                          note=(data.get("note") or "").strip(), created_by_id=actor.id, created_at=utcnow())
    db.session.add(redaction)
    db.session.flush()
    audit.record("transcript", transcript.id, "redact", actor,
                 changes={"redaction": {"before": None, "after": _snapshot(redaction)}})
    db.session.flush()
    return redaction, queue_public_proxy(transcript.material_id, actor)


def delete_redaction(actor: User, transcript_id: int, redaction_id: int) -> Job | None:
    transcript = _redactable_transcript(actor, transcript_id)
    redaction = db.session.get(Redaction, redaction_id)
    if redaction is None or redaction.transcript_id != transcript.id:
        raise NotFound("限制片段不存在", code="redaction_not_found")
    material = db.session.get(Material, transcript.material_id)
    if material is not None and policy.redactions_guard_publication(material):
        # the range's words and sound would be public as soon as this commits
        policy.require_publication_decision(
            actor, "资料已开放或转写稿已审定：删除限制片段会使其内容公开，须由档案员操作",
            "redaction_of_public_material", redaction_id=redaction.id)
    audit.record("transcript", transcript.id, "unredact", actor,
                 changes={"redaction": {"before": _snapshot(redaction), "after": None}})
    db.session.delete(redaction)
    db.session.flush()
    return queue_public_proxy(transcript.material_id, actor)


# --- what the public may hear -----------------------------------------------------------------------------------

def merge(ranges: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Sorted, non-overlapping ranges covering exactly the given ones."""
    merged: list[list[float]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(start, end) for start, end in merged]


def material_ranges(material_id: int) -> list[tuple[float, float]]:
    """Every redacted range of every transcript of a material, merged: the audio is one, whichever transcript
    an editor marked it on."""
    rows = db.session.execute(select(Redaction.start, Redaction.end).join(
        Transcript, Transcript.id == Redaction.transcript_id).where(Transcript.material_id == material_id)).all()
    return merge([(float(start), float(end)) for start, end in rows])


def fingerprint(material: Material, ranges: list[tuple[float, float]]) -> str | None:
    """What a public proxy must have been made from (the internal proxy's bytes and the ranges); None when there
    is no internal proxy. It is part of the public proxy's storage key, so a stale file is recognised."""
    proxy = material.derivative("proxy")
    if proxy is None:
        return None
    text = proxy.sha256 + ";" + ";".join(f"{start:.3f}-{end:.3f}" for start, end in ranges)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def public_proxy_key(material: Material, fp: str) -> str:
    extension = PUBLIC_PROXY_TYPES[material.kind][0]
    return f"derivatives/{material.id}/{PUBLIC_PROXY}-{fp}.{extension}"


def current_public_proxy(material: Material) -> Derivative | None:
    """The public proxy if it matches the material's current redactions and internal proxy, else None."""
    derivative = material.derivative(PUBLIC_PROXY)
    if derivative is None or material.kind not in PUBLIC_PROXY_TYPES:
        return None
    fp = fingerprint(material, material_ranges(material.id))
    if fp is None or derivative.storage_key != public_proxy_key(material, fp):
        return None
    return derivative


def queue_public_proxy(material_id: int, actor: User | None) -> Job | None:
    material = db.session.get(Material, material_id)
    if material is None or material.kind not in PUBLIC_PROXY_TYPES:
        return None
    return jobs.submit("render_public_proxy", material_id=material.id, actor=actor)


def _render_public_proxy(job: Job, progress: Callable[[float], None]) -> dict[str, Any]:
    """Make (or drop) the public proxy of a material so that it matches its redactions at this moment."""
    material = db.session.get(Material, job.material_id)
    if material is None or material.kind not in PUBLIC_PROXY_TYPES:
        raise jobs.PermanentFailure("资料已不存在，或不是音频/视频")
    storage = get_storage()
    ranges = material_ranges(material.id)
    existing = material.derivative(PUBLIC_PROXY)
    if not ranges:
        if existing is not None:
            old_key = existing.storage_key
            material.derivatives.remove(existing)
            transaction.on_commit(lambda: storage.delete(old_key))
        return {"ranges": [], "public_proxy": None}
    fp = fingerprint(material, ranges)
    if fp is None:
        # Not processed yet: the public content endpoint answers 409 until this job runs again after processing.
        return {"ranges": ranges, "public_proxy": None, "skipped": "no internal proxy"}
    key = public_proxy_key(material, fp)
    if existing is not None and existing.storage_key == key:
        return {"ranges": ranges, "public_proxy": key, "unchanged": True}
    proxy = material.derivative("proxy")
    assert proxy is not None
    extension, mime = PUBLIC_PROXY_TYPES[material.kind]
    progress(10)
    try:
        with storage.local_path(proxy.storage_key) as src, \
                tempfile.TemporaryDirectory(prefix="liufang-redact-") as tmp:
            out = Path(tmp) / f"{PUBLIC_PROXY}.{extension}"
            ffmpeg.silence_ranges(src, out, ranges)
            progress(80)
            stored = storage.put_file(key, out, content_type=mime)
    except (CorruptMedia, UnsupportedMedia) as exc:
        raise jobs.PermanentFailure(f"无法生成公开版本：{exc.message}") from None
    # The redactions may have changed while ffmpeg ran: then a newer job (queued by that change) makes the file,
    # and this one must not replace it with one made for the old ranges.
    db.session.expire_all()  # nothing is written yet: read again what was committed meanwhile
    material = db.session.get(Material, job.material_id)
    if material is None or fingerprint(material, material_ranges(material.id)) != fp:
        storage.delete(stored.key)
        return {"ranges": ranges, "public_proxy": None, "superseded": True}
    existing = material.derivative(PUBLIC_PROXY)
    old_key = existing.storage_key if existing is not None else None
    if existing is None:
        material.derivatives.append(Derivative(variant=PUBLIC_PROXY, storage_key=stored.key, mime=mime,
                                               size=stored.size, sha256=stored.sha256))
    else:
        existing.storage_key, existing.mime, existing.size, existing.sha256 = stored.key, mime, stored.size, \
            stored.sha256
        existing.created_at = utcnow()
    if old_key and old_key != stored.key:
        transaction.on_commit(lambda: storage.delete(old_key))
    return {"ranges": ranges, "public_proxy": stored.key}


RENDER_PUBLIC_PROXY = jobs.JobHandler(run=_render_public_proxy)

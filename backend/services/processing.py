"""Media processing of a material: probe, then derivatives (speech-recognition audio, proxies, poster, waveform,
thumbnails). Runs as a job; re-running it replaces derivatives instead of adding copies."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
import logging
import tempfile
from pathlib import Path
from typing import Any, Callable

from flask import current_app

from backend.extensions import db
from backend.models import Derivative, Job, Material
from backend.models.types import utcnow
from backend.services import jobs, material_text, redactions
from backend.services.storage import derivative_key, get_storage
from media import ffmpeg, images, pdf
from media.errors import CorruptMedia, UnsupportedMedia

log = logging.getLogger(__name__)
CHINA_TIME = timezone(timedelta(hours=8))

# variant: (file extension, MIME type)
VARIANT_TYPES = {
    "asr": ("flac", "audio/flac"),
    "proxy_audio": ("m4a", "audio/mp4"),
    "proxy_video": ("mp4", "video/mp4"),
    "poster": ("jpg", "image/jpeg"),
    "thumbnail": ("jpg", "image/jpeg"),
    "waveform": ("json", "application/json"),
}


def _store(material: Material, variant: str, path: Path, type_key: str) -> None:
    extension, mime = VARIANT_TYPES[type_key]
    stored = get_storage().put_file(derivative_key(material.id, variant, extension), path, content_type=mime)
    existing = material.derivative(variant)
    if existing is None:
        material.derivatives.append(Derivative(variant=variant, storage_key=stored.key, mime=mime,
                                               size=stored.size, sha256=stored.sha256))
    else:
        existing.storage_key, existing.mime, existing.size, existing.sha256 = stored.key, mime, stored.size, stored.sha256
        existing.created_at = utcnow()


def _audio_video(material: Material, src: Path, work: Path, progress: Callable[[float], None]) -> dict[str, Any]:
    info = ffmpeg.probe(src)
    if info.get("has_audio"):
        ffmpeg.make_asr_audio(src, work / "asr.flac")
        _store(material, "asr", work / "asr.flac", "asr")
        progress(30)
    if material.kind == "video":
        ffmpeg.make_video_proxy(src, work / "proxy.mp4")
        _store(material, "proxy", work / "proxy.mp4", "proxy_video")
        progress(70)
        ffmpeg.make_poster(src, work / "poster.jpg")
        _store(material, "poster", work / "poster.jpg", "poster")
    else:
        ffmpeg.make_audio_proxy(src, work / "proxy.m4a")
        _store(material, "proxy", work / "proxy.m4a", "proxy_audio")
    progress(85)
    if info.get("has_audio"):
        peaks = ffmpeg.waveform_peaks(src)
        (work / "waveform.json").write_text(json.dumps(peaks), encoding="utf-8")
        _store(material, "waveform", work / "waveform.json", "waveform")
    return {key: value for key, value in info.items() if key != "tags"} | {"tags": info.get("tags") or {}}


def _image(material: Material, src: Path, work: Path) -> dict[str, Any]:
    info = images.image_info(src).to_dict()
    images.make_thumbnail(src, work / "thumbnail.jpg")
    _store(material, "thumbnail", work / "thumbnail.jpg", "thumbnail")
    if info.get("gps_lat") is not None and material.latitude is None:
        material.latitude, material.longitude = info["gps_lat"], info["gps_lon"]
    if info.get("captured_at") and material.captured_at is None:
        captured = datetime.fromisoformat(info["captured_at"])
        # EXIF time without an offset is the phone's local time: China Standard Time for this archive.
        material.captured_at = captured if captured.tzinfo else captured.replace(tzinfo=CHINA_TIME)
    return info


def _document(material: Material, src: Path, work: Path) -> dict[str, Any]:
    info = pdf.pdf_info(src).to_dict()
    pdf.make_pdf_thumbnail(src, work / "thumbnail.jpg")
    _store(material, "thumbnail", work / "thumbnail.jpg", "thumbnail")
    return info


def _mark_processing(job: Job) -> None:
    material = db.session.get(Material, job.material_id)
    if material is not None:
        material.status, material.failure_reason = "processing", None


def _process(job: Job, progress: Callable[[float], None]) -> dict[str, Any]:
    material = db.session.get(Material, job.material_id)
    if material is None:
        raise jobs.PermanentFailure("资料已不存在")
    try:
        with get_storage().local_path(material.storage_key) as src, \
                tempfile.TemporaryDirectory(prefix="liufang-proc-") as tmp:
            work = Path(tmp)
            if material.kind in ("audio", "video"):
                info = _audio_video(material, src, work, progress)
            elif material.kind == "image":
                info = _image(material, src, work)
            else:
                info = _document(material, src, work)
    except (CorruptMedia, UnsupportedMedia) as exc:
        raise jobs.PermanentFailure(exc.message) from None
    material.media_info = info
    material.status = "ready"
    material.updated_at = utcnow()
    progress(100)
    _after_ready(material)
    return {"variants": sorted(d.variant for d in material.derivatives)}


def _mark_failed(job: Job, reason: str) -> None:
    material = db.session.get(Material, job.material_id)
    if material is not None:
        material.status, material.failure_reason = "failed", reason
        material.updated_at = utcnow()


PROCESS_MATERIAL = jobs.JobHandler(run=_process, on_start=_mark_processing, on_failure=_mark_failed)


def _after_ready(material: Material) -> None:
    """What follows processing: the public proxy is made again if ranges are redacted (its source just changed),
    audio and video are transcribed automatically, and the text of photos and PDFs is read (OCR or text layer)."""
    if redactions.material_ranges(material.id):
        redactions.queue_public_proxy(material.id, None)
    if material.kind in ("audio", "video") and material.derivative("asr") is not None \
            and current_app.config.get("AUTO_TRANSCRIBE", True):
        jobs.submit("transcribe", material_id=material.id, params={"automatic": True})
    material_text.queue_after_processing(material)

"""Transcripts: requesting a transcription, the transcription job itself (engine → Chinese clean-up → stored
segments and revision 1), reading transcripts under the material's access rules, and exports."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable

from flask import current_app
from sqlalchemy import select

from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.extensions import db
from backend.models import Interview, Job, Material, Person, Transcript, TranscriptRevision, TranscriptSegment, User
from backend.services import jobs, policy
from backend.services import materials as material_service
from backend.services.storage import get_storage
from transcription import formats
from transcription.base import TranscribeOptions, TranscriptionCancelled, TranscriptionError, TranscriptionResult
from transcription.chinese import flagged_count, postprocess
from transcription.engines import get_transcriber
from transcription.prompts import SpeechContext

log = logging.getLogger(__name__)
ENGINES = ("faster-whisper", "openai-whisper")
EXPORT_FORMATS = {
    "srt": ("application/x-subrip; charset=utf-8", "srt"),
    "vtt": ("text/vtt; charset=utf-8", "vtt"),
    "txt": ("text/plain; charset=utf-8", "txt"),
    "json": ("application/json; charset=utf-8", "json"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx"),
}
MACHINE_LABEL = "机器生成，未经审核"


# --- requesting --------------------------------------------------------------------------------------------------

def allowed_models() -> list[str]:
    configured = current_app.config.get("ASR_MODELS") or []
    return list(dict.fromkeys([current_app.config["ASR_MODEL"], *configured]))


def request_transcription(actor: User, material_id: int, params: dict[str, Any]) -> Job:
    """Queue a transcription of an audio/video material (its 16 kHz speech-recognition derivative)."""
    material = material_service.get_material(actor, material_id)
    if not policy.can_transcribe(actor, material):
        raise Forbidden("您无权为此资料申请转写", code="transcribe_forbidden")
    if material.kind not in ("audio", "video"):
        raise ValidationFailed("只有音频和视频可以转写", code="not_transcribable", details={"kind": material.kind})
    if material.derivative("asr") is None:
        raise Conflict("资料尚未处理完成（或没有音轨），暂不能转写", code="material_not_ready",
                       details={"status": material.status})
    engine = params.get("engine") or current_app.config["ASR_ENGINE"]
    if engine not in ENGINES:
        raise ValidationFailed(f"引擎应为 {', '.join(ENGINES)}", code="unknown_engine")
    model = params.get("model") or current_app.config["ASR_MODEL"]
    if model not in allowed_models():
        raise ValidationFailed("该模型未在服务器上开放", code="unknown_model", details={"allowed": allowed_models()})
    job_params = {"engine": engine, "model": model, "language": params.get("language", "zh"),
                  "initial_prompt": params.get("prompt"), "beam_size": params.get("beam_size"),
                  "automatic": False}
    return jobs.submit("transcribe", material_id=material.id, params=job_params, actor=actor)


# --- the job -----------------------------------------------------------------------------------------------------

def _options(params: dict[str, Any], context: SpeechContext | None = None) -> TranscribeOptions:
    config = current_app.config
    overrides: dict[str, Any] = {"device": config["ASR_DEVICE"], "compute_type": config["ASR_COMPUTE_TYPE"],
                                 "threads": config["ASR_THREADS"]}
    overrides["batch_size"] = config.get("ASR_BATCH_SIZE", 0)
    if params.get("initial_prompt"):
        overrides["initial_prompt"] = params["initial_prompt"]
    if params.get("beam_size"):
        overrides["beam_size"] = int(params["beam_size"])
    return TranscribeOptions.for_language(params.get("language", "zh"), context=context, **overrides)


#: Link roles whose persons speak in the recording (the others are mentioned, donors, photographers, ...).
SPEAKER_LINK_ROLES = ("interviewee", "subject")


def speech_context(material: Material) -> tuple[SpeechContext | None, dict[str, Any]]:
    """What the archive knows that helps recognition, as plain data for transcription/: the interviewees of the
    material's interview (else the persons linked to it as interviewee or subject) with their names, aliases,
    native places and occupations, and the interview's place and title (its topic). Returns the context (None
    when there is nothing) and the ids it came from, for the transcript's options."""
    interview = db.session.get(Interview, material.interview_id) if material.interview_id else None
    if interview is not None and interview.interviewee_ids:
        person_ids = interview.interviewee_ids
    else:
        person_ids = sorted({link.person_id for link in material.links if link.role in SPEAKER_LINK_ROLES})
    persons = [person for person in (db.session.get(Person, pid) for pid in person_ids) if person is not None]
    names = [person.name for person in persons] + [alias for person in persons for alias in person.aliases or ()]
    context = SpeechContext(
        names=names,
        native_place="、".join(dict.fromkeys(p.native_place.strip() for p in persons if (p.native_place or "").strip()))
        or None,
        occupations=[person.occupation for person in persons if person.occupation],
        interview_place=(interview.place if interview is not None else None) or material.place,
        topic=interview.title if interview is not None else None,
    )
    if not context:
        return None, {}
    return context, {"person_ids": [person.id for person in persons],
                     "interview_id": interview.id if interview is not None else None}


def _segment_row(segment: Any) -> TranscriptSegment:
    return TranscriptSegment(
        index=segment.index, start=segment.start, end=segment.end, text=segment.text, speaker=segment.speaker,
        avg_logprob=segment.avg_logprob, no_speech_prob=segment.no_speech_prob,
        compression_ratio=segment.compression_ratio,
        words=[{"start": w.start, "end": w.end, "text": w.text, "probability": w.probability} for w in segment.words],
        flagged=segment.flagged, meta=segment.meta or {})


def segment_snapshot(segment: TranscriptSegment) -> dict[str, Any]:
    return {"index": segment.index, "start": segment.start, "end": segment.end, "text": segment.text,
            "speaker": segment.speaker, "flagged": segment.flagged}


def store_result(material: Material, job: Job, result: TranscriptionResult,
                 context_sources: dict[str, Any] | None = None) -> Transcript:
    """Persist a cleaned-up result as a machine transcript with its revision 1 (in the job's unit of work);
    ``context_sources`` (the ids the prompt's archive context came from) go into its options as ``context``."""
    transcript = Transcript(
        material_id=material.id, job_id=job.id, engine=result.engine, model=result.model, language=result.language,
        language_probability=result.language_probability, duration=result.duration,
        options={**{key: value for key, value in job.params.items() if value is not None},
                 "initial_prompt": result.initial_prompt, **({"context": context_sources} if context_sources else {})},
        status="machine", flagged_count=flagged_count(result), created_by_id=job.created_by_id,
        segments=[_segment_row(segment) for segment in result.segments if segment.text or segment.meta])
    db.session.add(transcript)
    db.session.flush()
    db.session.add(TranscriptRevision(transcript_id=transcript.id, number=1, created_by_id=None,
                                      summary="machine transcription",
                                      segments=[segment_snapshot(s) for s in transcript.segments]))
    db.session.flush()
    return transcript


def _transcribe(job: Job, progress: Callable[[float], None]) -> dict[str, Any]:
    existing = db.session.scalar(select(Transcript).where(Transcript.job_id == job.id))
    if existing is not None:  # stored before the worker died: the job is done
        return {"transcript_id": existing.id}
    material = db.session.get(Material, job.material_id)
    asr = material.derivative("asr") if material is not None else None
    if asr is None:
        raise jobs.PermanentFailure("资料没有可转写的音频（处理未完成或没有音轨）")

    config = current_app.config
    engine = job.params.get("engine") or config["ASR_ENGINE"]
    model = job.params.get("model") or config["ASR_MODEL"]
    try:
        transcriber = get_transcriber(engine, model, device=config["ASR_DEVICE"],
                                      compute_type=config["ASR_COMPUTE_TYPE"], threads=config["ASR_THREADS"],
                                      cache_dir=config["MODEL_CACHE"])
    except (ValueError, OSError) as exc:
        raise jobs.PermanentFailure(f"无法加载转写模型 {model}: {exc}") from exc

    def on_position(position: float, duration: float) -> None:
        progress(min(99.0, 100.0 * position / duration) if duration > 0 else 0.0)

    context, context_sources = speech_context(material)
    options = _options(job.params, context)
    if context is None or context.sentence() not in (options.initial_prompt or ""):
        context_sources = {}  # not a Chinese transcription: the context was not used
    with get_storage().local_path(asr.storage_key) as audio:
        try:
            result = transcriber.transcribe(Path(audio), options, progress=on_position)
        except TranscriptionCancelled:
            raise jobs.JobCancelled() from None
        except TranscriptionError as exc:
            raise jobs.PermanentFailure(f"转写失败：{exc}") from exc
    result = postprocess(result)
    transcript = store_result(material, job, result, context_sources)
    return {"transcript_id": transcript.id, "segments": len(transcript.segments),
            "flagged": transcript.flagged_count}


TRANSCRIBE = jobs.JobHandler(run=_transcribe)


# --- reading -----------------------------------------------------------------------------------------------------

def get_transcript(actor: User, transcript_id: int) -> Transcript:
    return policy.visible_transcript(actor, transcript_id)


def list_for_material(actor: User, material_id: int) -> list[Transcript]:
    material = material_service.get_material(actor, material_id)
    return list(db.session.scalars(select(Transcript).where(Transcript.material_id == material.id)
                                   .order_by(Transcript.created_at.desc(), Transcript.id.desc())))


def options_for(actor: User | None, transcript: Transcript) -> dict[str, Any]:
    """The transcript's options as ``actor`` may see them: a prompt that carries the archive context of profiles
    or an interview they may not see is left out (initial_prompt null, context {"hidden": true})."""
    options = dict(transcript.options or {})
    context = options.get("context")
    if not isinstance(context, dict):
        return options
    person_ids = [pid for pid in context.get("person_ids") or [] if isinstance(pid, int)]
    interview_id = context.get("interview_id")
    visible = actor is not None and len(policy.visible_person_ids(actor, person_ids)) == len(set(person_ids)) and (
        interview_id is None or policy.shown_interview_id(actor, interview_id) == interview_id)
    if not visible:
        options["initial_prompt"] = None
        options["context"] = {"hidden": True}
    return options


def speakers_for(actor: User, transcript: Transcript) -> dict[str, Any]:
    """The speaker labels as ``actor`` may see them: a label mapped to a profile they cannot see is left out."""
    named = [target["person_id"] for target in transcript.speakers.values()
             if isinstance(target, dict) and target.get("person_id") is not None]
    visible = set(policy.visible_person_ids(actor, named))
    return {label: target for label, target in transcript.speakers.items()
            if not (isinstance(target, dict) and target.get("person_id") is not None
                    and target["person_id"] not in visible)}


def _export_metadata(actor: User, transcript: Transcript) -> dict[str, Any]:
    """The header of an export, from what ``actor`` may see: the interview (title, place, interviewers, date,
    language) only if they may see it, and of the interviewees (or the persons linked to the material) only the
    profiles they may see."""
    material = db.session.get(Material, transcript.material_id)
    interview_id = policy.shown_interview_id(actor, material.interview_id)
    interview = db.session.get(Interview, interview_id) if interview_id is not None else None
    person_ids = interview.interviewee_ids if interview is not None else material.person_ids
    interviewees = [db.session.get(Person, pid).name for pid in policy.visible_person_ids(actor, person_ids)]
    return {
        "title": (interview.title if interview and interview.title else None) or material.title or f"资料 {material.id}",
        "archival_code": interview.archival_code if interview else None,
        "interviewee": "、".join(interviewees) or None,
        "interviewer": "、".join(interview.interviewers) if interview else None,
        "date": interview.date if interview and interview.date else
        (material.captured_at.date().isoformat() if material.captured_at else None),
        "place": (interview.place if interview else None) or material.place,
        "language": (interview.language if interview and interview.language else None) or transcript.language,
        "engine": f"{transcript.engine} / {transcript.model}",
        "machine_generated": transcript.status != "approved",
        "status": transcript.status,
        "material_id": material.id,
        "transcript_id": transcript.id,
    }


def export(actor: User, transcript_id: int, fmt: str) -> tuple[bytes, str, str]:
    """Render a transcript: returns (bytes, content type, download file name)."""
    transcript = get_transcript(actor, transcript_id)
    metadata = _export_metadata(actor, transcript)
    segments = [segment_snapshot(s) for s in transcript.segments if s.text]
    if fmt == "srt":
        body = formats.to_srt(segments).encode("utf-8")
    elif fmt == "vtt":
        body = formats.to_vtt(segments).encode("utf-8")
    elif fmt == "txt":
        header = f"{metadata['title']}（{MACHINE_LABEL}）\n\n" if metadata["machine_generated"] else ""
        body = (header + formats.to_txt(segments)).encode("utf-8")
    elif fmt == "json":
        body = formats.to_json(segments, metadata).encode("utf-8")
    else:
        body = formats.to_docx(segments, metadata)
    content_type, extension = EXPORT_FORMATS[fmt]
    return body, content_type, f"{metadata['title']}-转写稿-{transcript.id}.{extension}"


"""Schemas of transcripts, their segments and claim locks, transcription requests and exports."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import get_current_user
from marshmallow import Schema, fields, pre_dump, validate

from backend.models import TRANSCRIPT_STATUSES
from backend.schemas.common import Int64, StrictSchema
from backend.services.transcripts import options_for


class SegmentSchema(Schema):
    index = Int64()
    start = fields.Float(metadata={"description": "Seconds from the start of the recording"})
    end = fields.Float()
    text = fields.Str()
    speaker = fields.Str(allow_none=True)
    avg_logprob = fields.Float(allow_none=True)
    no_speech_prob = fields.Float(allow_none=True)
    compression_ratio = fields.Float(allow_none=True)
    flagged = fields.Bool(metadata={"description": "Worth a careful listen (low confidence, possible silence or loop)"})
    words = fields.List(fields.Dict())
    meta = fields.Dict(metadata={"description": "Clean-up notes: removed hallucinations/repetitions, flag reasons"})


class UserRefSchema(Schema):
    id = Int64()
    username = fields.Str(allow_none=True)
    display_name = fields.Str(allow_none=True)


class TranscriptLockSchema(Schema):
    holder = fields.Nested(UserRefSchema)
    expires_at = fields.Str(metadata={"description": "ISO 8601, UTC"})

    @pre_dump
    def _iso_expiry(self, lock: Any, **_: Any) -> dict[str, Any]:
        return {"holder": lock.holder, "expires_at": lock.expires_at.isoformat()}


_lock_schema = TranscriptLockSchema()


class TranscriptSummarySchema(Schema):
    id = Int64()
    material_id = Int64()
    job_id = fields.Str(allow_none=True)
    engine = fields.Str()
    model = fields.Str()
    language = fields.Str(allow_none=True)
    language_probability = fields.Float(allow_none=True)
    options = fields.Method("_options", metadata={
        "type": "object",
        "description": "What the engine decoded with: engine, model, language, initial_prompt (the steering "
                       "sentence, the archive's context, the caller's prompt), context ({person_ids, interview_id} "
                       "it came from; {hidden: true} with initial_prompt null for a caller who may not see them)"})
    duration = fields.Float()
    status = fields.Str(metadata={"enum": list(TRANSCRIPT_STATUSES)})
    machine_generated = fields.Method("_machine", metadata={"description": "True until an archivist approves it"})
    flagged_count = Int64()
    segment_count = fields.Method("_count")
    version = Int64()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def _options(self, transcript) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        try:
            actor = get_current_user()
        except RuntimeError:  # dumped outside a request with a verified token: show nothing that needs one
            actor = None
        return options_for(actor, transcript)

    def _machine(self, transcript) -> bool:  # type: ignore[no-untyped-def]
        return transcript.status != "approved"

    def _count(self, transcript) -> int:  # type: ignore[no-untyped-def]
        return len(transcript.segments)


class TranscriptSchema(TranscriptSummarySchema):
    segments = fields.List(fields.Nested(SegmentSchema))
    speakers = fields.Dict(metadata={"description": 'Labels → persons or names: {"SPEAKER_1": {"person_id": 3}}'})
    lock = fields.Method("_lock", metadata={"description": "The unexpired claim: {holder, expires_at}, or null"})
    review_comment = fields.Str(allow_none=True, metadata={"description": "The archivist's comment when returned"})
    reviewed_by_id = Int64(allow_none=True)
    reviewed_at = fields.DateTime(allow_none=True)
    approved_by_id = Int64(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)

    def _lock(self, transcript):  # type: ignore[no-untyped-def]
        # ``lock`` is attached by the service that read the transcript (transcript_locks.with_lock).
        return None if transcript.lock is None else _lock_schema.dump(transcript.lock)


class TranscribeRequestSchema(StrictSchema):
    engine = fields.Str(validate=validate.OneOf(["faster-whisper", "openai-whisper"]))
    model = fields.Str(validate=validate.Length(max=255), metadata={"description": "One of LIUFANG_ASR_MODELS"})
    language = fields.Str(allow_none=True, validate=validate.Length(max=8),
                          metadata={"description": "zh (default), en, …; null to detect"})
    prompt = fields.Str(validate=validate.Length(max=500), metadata={"description": "Initial prompt (names, terms)"})
    beam_size = Int64(validate=validate.Range(min=1, max=10))


class ExportArgsSchema(StrictSchema):
    format = fields.Str(required=True, validate=validate.OneOf(["srt", "vtt", "txt", "json", "docx"]))

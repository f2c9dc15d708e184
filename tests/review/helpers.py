"""Helpers for review tests: machine transcripts stored through transcripts.store_result (no Whisper runs), and
matrix setups for the review endpoints."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable
from typing import Any

from flask import Flask

# (start, end, text, speaker, flagged)
SEGMENTS = [
    (0.0, 2.5, "我叫王秀英，今年八十三岁。", "SPEAKER_1", False),
    (2.5, 5.0, "小时候家里在新坝镇打鱼。", "SPEAKER_1", True),
    (5.5, 8.0, "那时候日子很苦。", "SPEAKER_1", False),
    (8.0, 10.0, "您还记得哪一年吗？", "SPEAKER_2", True),
]
DURATION = 12.0
_counter = itertools.count(1)


def user_id(client: Any, headers: dict[str, str]) -> int:
    return client.get("/api/v1/auth/me", headers=headers).get_json()["id"]


def make_transcript(app: Flask, collector_id: int, segments: list[tuple[Any, ...]] | None = None, *,
                    duration: float = DURATION, title: str = "新坝镇口述史", access_level: str = "restricted") -> int:
    """A machine transcript with revision 1, stored the way the transcription job stores one."""
    from backend.extensions import db
    from backend.models import Job, Material
    from backend.services.transcripts import store_result
    from transcription.base import Segment, TranscriptionResult

    n = next(_counter)
    with app.app_context():
        material = Material(kind="audio", status="ready", title=title, collector_id=collector_id, mime="audio/wav",
                            size=1000, sha256=hashlib.sha256(f"review-{n}-{id(app)}".encode()).hexdigest(),
                            storage_key=f"originals/review-{n}", access_level=access_level)
        db.session.add(material)
        db.session.flush()
        job = Job(id=f"review-job-{n}-{material.id}", kind="transcribe", status="running", material_id=material.id,
                  params={"engine": "faster-whisper", "model": "base"}, created_by_id=collector_id)
        db.session.add(job)
        db.session.commit()
        result = TranscriptionResult(
            language="zh", language_probability=0.99, duration=duration, engine="faster-whisper", model="base",
            segments=[Segment(index=i, start=s, end=e, text=t, speaker=sp, flagged=f, avg_logprob=-0.3,
                              meta={"flags": [{"reason": "low_avg_logprob"}]} if f else {})
                      for i, (s, e, t, sp, f) in enumerate(segments or SEGMENTS)])
        transcript_id = store_result(material, job, result).id
        db.session.commit()
        return transcript_id


def set_state(app: Flask, transcript_id: int, status: str, reviewed_by: int | None = None) -> None:
    from backend.extensions import db
    from backend.models import Transcript

    with app.app_context():
        transcript = db.session.get(Transcript, transcript_id)
        transcript.status = status
        transcript.reviewed_by_id = reviewed_by
        db.session.commit()


def review_setup(status: str = "machine", *, revisions: int = 1) -> Callable[..., dict[str, Any]]:
    """Matrix setup: a transcript of a restricted recording uploaded by `collector`, in ``status``."""

    def setup(client: Any, auth: Any, app: Flask) -> dict[str, Any]:
        collector = user_id(client, auth("collector"))
        transcript_id = make_transcript(app, collector)
        for n in range(1, revisions):
            response = client.patch(f"/api/v1/transcripts/{transcript_id}/segments/0",
                                    json={"text": f"修订 {n}"}, headers={**auth("editor"), "If-Match": f'"{n}"'})
            assert response.status_code == 200, response.get_json()
        if status != "machine":
            set_state(app, transcript_id, status, reviewed_by=user_id(client, auth("editor")))
        return {"id": transcript_id, "index": 0, "number": 1}

    return setup


def with_if_match(body: Any, version: int = 1) -> Callable[..., dict[str, Any]]:
    """Matrix body: the JSON plus If-Match (the matrix sends its own headers, so it goes in through the environ)."""

    def request_args(ids: dict[str, Any] | None = None) -> dict[str, Any]:
        return {"json": body, "environ_base": {"HTTP_IF_MATCH": f'"{version}"'}}

    return request_args

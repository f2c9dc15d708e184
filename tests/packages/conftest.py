"""Fixtures for the package tests: a small archive made through the API (two persons, an interview with a real
recording, processed; a machine transcript edited and approved; a consent with its signed form), the official XML
schemas, and helpers that download, unpack and tamper with packages."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.api.helpers import VALID_ID, if_match, make_person, upload_png
from tests.interop.conftest import Schemas, schema_dir

SECRETS = {"id_number": VALID_ID, "phone": "13912345678", "address": "连云港市连云区海棠路88号3单元502室"}
SEGMENTS = [(0.0, 1.5, "我叫王秀英，今年八十三岁。", "SPEAKER_1", False),
            (1.5, 3.0, "小时候家里在新坝镇打鱼。", "SPEAKER_1", True)]


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    return Schemas(schema_dir())


@pytest.fixture(scope="session")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("package-media") / "tone.wav"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "aevalsrc=0.4*sin(2*PI*440*t):s=16000", "-t", "3",
                    str(path)], check=True)
    return path


def _upload(client: Any, headers: dict[str, str], path: Path, name: str, **form: str) -> dict[str, Any]:
    with open(path, "rb") as fh:
        response = client.post("/api/v1/materials", headers=headers, content_type="multipart/form-data",
                               data={"file": (fh, name), **form})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _approved_transcript(app: Any, material_id: int, editor_id: int, archivist_id: int) -> int:
    """A machine transcript stored as the transcription job stores one, one segment corrected by an editor
    (revision 2), then approved by the archivist (audited)."""
    from backend import transaction
    from backend.extensions import db
    from backend.models import Job, Material, TranscriptRevision, User
    from backend.models.types import utcnow
    from backend.services import audit
    from backend.services.transcripts import segment_snapshot, store_result
    from transcription.base import Segment, TranscriptionResult

    with app.app_context(), transaction.atomic():
        material = db.session.get(Material, material_id)
        job = Job(id=f"package-transcribe-{material_id}", kind="transcribe", status="running",
                  material_id=material_id, params={}, created_by_id=editor_id)
        db.session.add(job)
        db.session.flush()
        result = TranscriptionResult(
            language="zh", language_probability=0.98, duration=3.0, engine="faster-whisper", model="base",
            segments=[Segment(index=i, start=s, end=e, text=t, speaker=sp, flagged=f)
                      for i, (s, e, t, sp, f) in enumerate(SEGMENTS)])
        transcript = store_result(material, job, result)
        transcript.segments[1].text = "小时候家里在新坝镇打渔。"
        db.session.add(TranscriptRevision(transcript_id=transcript.id, number=2, created_by_id=editor_id,
                                          summary="edit segment 1", changed=[1],
                                          segments=[segment_snapshot(s) for s in transcript.segments]))
        transcript.status, transcript.approved_at, transcript.approved_by_id = "approved", utcnow(), archivist_id
        audit.record("transcript", transcript.id, "approve", db.session.get(User, archivist_id))
        db.session.flush()
        return transcript.id


def user_id(client: Any, headers: dict[str, str]) -> int:
    return client.get("/api/v1/auth/me", headers=headers).get_json()["id"]


@pytest.fixture
def archive(app: Any, client: Any, auth: Callable[[str], dict[str, str]], tone: Path) -> dict[str, Any]:
    """王秀英 (with personal data, an interview, its recording, an approved transcript, a consent with its signed
    form, a photo) and 李四, who is in none of it and has a photo of his own."""
    collector, archivist = auth("collector"), auth("archivist")
    person = make_person(client, collector, name="王秀英", **SECRETS)
    other = make_person(client, collector, name="李四", phone="13800001111")
    response = client.post("/api/v1/interviews", headers=collector, json={
        "title": "新坝镇渔家生活口述", "date": "2026-05-01", "place": "连云港市新坝镇", "interviewers": ["刘采访"],
        "interviewee_ids": [person["id"]], "language": "普通话"})
    assert response.status_code == 201, response.get_json()
    interview = response.get_json()
    recording = _upload(client, collector, tone, "王秀英口述-第一次.wav", person_id=str(person["id"]),
                        interview_id=str(interview["id"]), title="王秀英口述录音")
    photo = upload_png(client, collector, 11, person_id=str(person["id"]), title="近照")
    form = upload_png(client, archivist, 12, person_id=str(person["id"]), title="授权书扫描件")
    consent = client.post(f"/api/v1/persons/{person['id']}/consents", headers=archivist, json={
        "scope": "research", "signed_at": "2026-05-01", "material_id": form["id"], "conditions": "不公开家庭住址"})
    assert consent.status_code == 201, consent.get_json()
    others_photo = upload_png(client, collector, 13, person_id=str(other["id"]), title="李四的照片")
    transcript_id = _approved_transcript(app, recording["id"], user_id(client, auth("editor")),
                                         user_id(client, archivist))
    status = client.get(f"/api/v1/materials/{recording['id']}", headers=archivist).get_json()
    assert status["status"] == "ready", status
    return {"person": person, "other": other, "interview": interview, "recording": recording, "photo": photo,
            "form": form, "others_photo": others_photo, "transcript_id": transcript_id}


@pytest.fixture
def make_package(client: Any, auth: Callable[[str], dict[str, str]]) -> Callable[..., dict[str, Any]]:
    """``make_package("person", [id])`` → the finished export (the queue runs jobs at once in tests)."""

    def make(scope: str, ids: list[int], fmt: str = "zip") -> dict[str, Any]:
        response = client.post("/api/v1/exports", json={"scope": scope, "ids": ids, "format": fmt},
                               headers=auth("archivist"))
        assert response.status_code == 202, response.get_json()
        export = client.get(response.headers["Location"], headers=auth("archivist")).get_json()
        assert export["status"] == "succeeded", export
        return export

    return make


def unpack(data: bytes, target: Path) -> Path:
    """Unpack a downloaded package; the bag's folder."""
    if data[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.extractall(target)
    else:
        import tarfile

        with tarfile.open(fileobj=io.BytesIO(data)) as archive:
            archive.extractall(target, filter="data")
    (bag,) = list(target.iterdir())
    return bag


def stored_package(app: Any, export: dict[str, Any]) -> Path:
    """The package file in the test's local media storage."""
    from backend.extensions import db
    from backend.models import Export

    with app.app_context():
        key = db.session.get(Export, export["id"]).storage_key
    return Path(app.config["STORAGE_URL"]) / key


def rewrite_zip(path: Path, change: Callable[[str, bytes], bytes | None]) -> None:
    """Rewrite the zip at ``path`` entry by entry: ``change(name, data)`` gives new bytes, or None to drop it."""
    with zipfile.ZipFile(path) as old:
        entries = [(info, old.read(info)) for info in old.infolist()]
    with zipfile.ZipFile(path, "w") as new:
        for info, data in entries:
            changed = change(info.filename, data)
            if changed is not None:
                new.writestr(info, changed)

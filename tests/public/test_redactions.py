"""Redactions as editors and the public meet them: range checks, the audit trail, the public proxy re-rendered by a
job with the range silenced (the archive's copies untouched), and never the unredacted proxy while it is made."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from backend.extensions import db
from backend.models import Consent, Material, Person, Redaction, Transcript, TranscriptSegment
from backend.models.types import utcnow
from backend.services.storage import get_storage
from tests.api.helpers import assert_error, if_match, make_person
from tests.media.conftest import ffmpeg


@pytest.fixture
def app(sqlite_app):  # redaction rules do not depend on the database; the public SQL is crawled on both
    sqlite_app.config.update(AUTO_TRANSCRIBE=False, PUBLIC_RATE_LIMIT="off")
    return sqlite_app


@pytest.fixture(scope="session")
def tone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("redaction-media") / "tone.wav"
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.5*sin(2*PI*330*t):s=22050", "-t", "3", str(path))
    return path


@pytest.fixture
def interview(app, client, auth, tone) -> dict[str, Any]:
    """A public person with an open 3-second audio material and an approved transcript of it."""
    person = make_person(client, auth("collector"), name="陈秀英")
    with open(tone, "rb") as fh:
        uploaded = client.post("/api/v1/materials", headers=auth("archivist"), content_type="multipart/form-data",
                               data={"file": (fh, "tone.wav"), "person_id": str(person["id"])})
    assert uploaded.status_code == 201, uploaded.get_json()
    material_id = uploaded.get_json()["id"]
    url = f"/api/v1/materials/{material_id}"
    assert client.patch(url, json={"access_level": "open"},
                        headers=if_match(client, url, auth("archivist"))).status_code == 200
    with app.app_context():
        row = db.session.get(Person, person["id"])
        row.status, row.published_at = "published", utcnow()
        db.session.add(Consent(person_id=row.id, scope="public", signed_at=date(2025, 1, 1),
                               created_by_id=row.created_by_id))
        transcript = Transcript(material_id=material_id, engine="faster-whisper", model="base", duration=3.0,
                                status="approved", segments=[
                                    TranscriptSegment(index=0, start=0.0, end=1.0, text="第一句"),
                                    TranscriptSegment(index=1, start=1.0, end=2.0, text="第二句"),
                                    TranscriptSegment(index=2, start=2.0, end=3.0, text="第三句")])
        db.session.add(transcript)
        db.session.commit()
        material = db.session.get(Material, material_id)
        return {"person_id": row.id, "material_id": material_id, "transcript_id": transcript.id,
                "original": (material.sha256, material.storage_key),
                "proxy": (material.derivative("proxy").sha256, material.derivative("proxy").storage_key)}


@pytest.fixture
def bare_transcript(app, users) -> int:
    """A 3-second transcript of a material that exists only as a row (for checks that need no media)."""
    with app.app_context():
        material = Material(kind="audio", status="ready", mime="audio/wav", size=1, sha256="0" * 64,
                            storage_key="originals/00/00/" + "0" * 64, collector_id=users["collector"],
                            media_info={"duration": 3.0})
        db.session.add(material)
        db.session.flush()
        transcript = Transcript(material_id=material.id, engine="faster-whisper", model="base", duration=3.0)
        db.session.add(transcript)
        db.session.commit()
        return transcript.id


def _redact(client: Any, auth: Any, transcript_id: int, role: str = "editor", **body: Any) -> Any:
    payload = {"start": 1.2, "end": 1.8, "reason": "privacy", **body}
    return client.post(f"/api/v1/transcripts/{transcript_id}/redactions", json=payload, headers=auth(role))


@pytest.mark.parametrize("body, field", [
    ({"start": -0.1}, "start"), ({"start": 2.0, "end": 2.0}, "end"), ({"start": 2.0, "end": 1.0}, "end"),
    ({"end": 3.5}, "end"), ({"reason": "gossip"}, "reason"), ({"colour": "red"}, "colour"),
    ({"start": "soon"}, "start"),
])
def test_ranges_outside_the_recording_and_bad_fields_are_422(client, auth, bare_transcript, body, field):
    error = assert_error(_redact(client, auth, bare_transcript, **body), 422)
    assert field in error["details"]["fields"], error


def test_redaction_is_audited_and_renders_a_silenced_public_proxy(client, auth, interview, app):
    tid, mid = interview["transcript_id"], interview["material_id"]
    before_public = client.get(f"/api/public/materials/{mid}/content?variant=proxy").get_data()
    assert hashlib.sha256(before_public).hexdigest() == interview["proxy"][0]  # no redaction: the proxy itself

    created = _redact(client, auth, tid, note="提到邻居的病")
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert {k: body[k] for k in ("start", "end", "reason", "note")} == {
        "start": 1.2, "end": 1.8, "reason": "privacy", "note": "提到邻居的病"}
    job = client.get(f"/api/v1/jobs/{body['job_id']}", headers=auth("editor")).get_json()
    assert job["status"] == "succeeded", job

    listed = client.get(f"/api/v1/transcripts/{tid}/redactions", headers=auth("archivist")).get_json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]
    audit = client.get(f"/api/v1/audit?entity_type=transcript&entity_id={tid}", headers=auth("admin")).get_json()
    assert [event["action"] for event in audit["items"]] == ["redact"]

    public = client.get(f"/api/public/materials/{mid}/content?variant=proxy")
    assert public.status_code == 200 and public.mimetype == "audio/mp4"
    assert hashlib.sha256(public.get_data()).hexdigest() not in (interview["proxy"][0], interview["original"][0])
    transcript = client.get(f"/api/public/transcripts/{tid}").get_json()
    assert [s["text"] for s in transcript["segments"]] == ["第一句", "第三句"]

    with app.app_context():
        material = db.session.get(Material, mid)
        # the archive's copies are untouched
        assert (material.sha256, material.storage_key) == interview["original"]
        proxy = material.derivative("proxy")
        assert (proxy.sha256, proxy.storage_key) == interview["proxy"]
        with get_storage().open_range(proxy.storage_key) as stream:
            assert hashlib.sha256(stream.read()).hexdigest() == interview["proxy"][0]
        first_key = material.derivative("public_proxy").storage_key

    # a second, overlapping range: merged, re-rendered under a new key, the old file removed
    assert _redact(client, auth, tid, role="archivist", start=1.5, end=2.2, reason="third_party").status_code == 201
    assert client.get(f"/api/public/transcripts/{tid}").get_json()["redacted"] == [{"start": 1.2, "end": 2.2}]
    with app.app_context():
        second_key = db.session.get(Material, mid).derivative("public_proxy").storage_key
        assert second_key != first_key and not get_storage().exists(first_key)

    # lifting every redaction (an archivist's decision: the material is public) drops the public proxy: the public
    # hears the proxy again
    for redaction in client.get(f"/api/v1/transcripts/{tid}/redactions", headers=auth("editor")).get_json()["items"]:
        assert_error(client.delete(f"/api/v1/transcripts/{tid}/redactions/{redaction['id']}",
                                   headers=auth("editor")), 403, "publication_requires_archivist")
        assert client.delete(f"/api/v1/transcripts/{tid}/redactions/{redaction['id']}",
                             headers=auth("archivist")).status_code == 204
    with app.app_context():
        assert db.session.get(Material, mid).derivative("public_proxy") is None
        assert not get_storage().exists(second_key)
    after = client.get(f"/api/public/materials/{mid}/content?variant=proxy").get_data()
    assert hashlib.sha256(after).hexdigest() == interview["proxy"][0]
    audit = client.get(f"/api/v1/audit?entity_type=transcript&entity_id={tid}", headers=auth("admin")).get_json()
    assert sorted(event["action"] for event in audit["items"]) == ["redact", "redact", "unredact", "unredact"]


def test_public_proxy_not_yet_made_is_409_never_the_unredacted_proxy(client, auth, users, interview, app):
    tid, mid = interview["transcript_id"], interview["material_id"]
    with app.app_context():  # as if the job had not run yet
        db.session.add(Redaction(transcript_id=tid, start=0.5, end=1.0, reason="sensitive", note="",
                                 created_by_id=users["editor"]))
        db.session.commit()
    response = client.get(f"/api/public/materials/{mid}/content?variant=proxy")
    assert_error(response, 409, "public_version_not_ready")
    assert response.headers["Retry-After"]
    # a stale public proxy (made for other ranges) is not served either
    redaction_id = _redact(client, auth, tid).get_json()["id"]
    assert client.get(f"/api/public/materials/{mid}/content?variant=proxy").status_code == 200
    with app.app_context():
        db.session.get(Redaction, redaction_id).end = 2.5
        db.session.commit()
    assert_error(client.get(f"/api/public/materials/{mid}/content?variant=proxy"), 409, "public_version_not_ready")


def test_redaction_of_another_transcript_is_404(client, auth, interview, app):
    tid = interview["transcript_id"]
    redaction_id = _redact(client, auth, tid).get_json()["id"]
    with app.app_context():
        other = Transcript(material_id=interview["material_id"], engine="faster-whisper", model="base", duration=3.0)
        db.session.add(other)
        db.session.commit()
        other_id = other.id
    assert_error(client.delete(f"/api/v1/transcripts/{other_id}/redactions/{redaction_id}", headers=auth("editor")),
                 404, "redaction_not_found")
    assert_error(client.get("/api/v1/transcripts/999999/redactions", headers=auth("editor")), 404,
                 "transcript_not_found")

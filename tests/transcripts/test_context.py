"""The archive's context reaches the engine: a material of an interview is transcribed with its interviewees' names,
aliases, native place and occupation and the interview's place and topic in the prompt, so names come out right;
callers who may not see those profiles do not read them in the transcript's options."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.api.helpers import make_person

pytestmark = pytest.mark.slow

PLACE_CLIP = "BAC009S0150W0401.wav"  # 于是太田市不得不决定中止使用这个logo; base alone writes 太甜是


def _upload(client, auth, path, **fields):
    with open(path, "rb") as fh:
        response = client.post("/api/v1/materials", data={"file": (fh, path.name), **fields},
                               content_type="multipart/form-data", headers=auth("collector"))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _transcribe(client, auth, material_id):
    queued = client.post(f"/api/v1/materials/{material_id}/transcripts", json={}, headers=auth("editor"))
    assert queued.status_code == 202, queued.get_json()
    job = client.get(f"/api/v1/jobs/{queued.get_json()['id']}", headers=auth("editor")).get_json()
    assert job["status"] == "succeeded", job
    return job["result"]["transcript_id"]


def test_the_interviews_context_spells_the_place_right(client, auth, app, shared_audio):
    app.config["AUTO_TRANSCRIBE"] = False
    person = make_person(client, auth("collector"), name="山田花子", aliases=["花子"], native_place="日本群马县",
                         occupation="设计师")
    interview = client.post("/api/v1/interviews", json={
        "title": "城市标志", "place": "日本群马县太田市", "interviewee_ids": [person["id"]], "language": "普通话"},
        headers=auth("collector")).get_json()
    # Without the context base writes 太甜是 here (tests/transcription/test_quality.py).
    with_interview = _upload(client, auth, shared_audio / PLACE_CLIP, interview_id=str(interview["id"]),
                             filename="访谈.wav")
    transcript_id = _transcribe(client, auth, with_interview["id"])
    transcript = client.get(f"/api/v1/transcripts/{transcript_id}", headers=auth("editor")).get_json()
    prompt = transcript["options"]["initial_prompt"]
    for fact in ("山田花子", "又名花子", "籍贯日本群马县", "设计师", "访谈地点日本群马县太田市", "主题是城市标志"):
        assert fact in prompt, prompt
    assert transcript["options"]["context"] == {"person_ids": [person["id"]], "interview_id": interview["id"]}
    assert "太田市" in "".join(s["text"] for s in transcript["segments"]), transcript["segments"]

    # The collector who made the profile reads the prompt; a collector who may not see the profile would not.
    own = client.get(f"/api/v1/transcripts/{transcript_id}", headers=auth("collector")).get_json()
    assert own["options"]["initial_prompt"] == prompt
    from backend.extensions import db
    from backend.models import User
    from backend.services.transcripts import options_for

    with app.app_context():
        stranger = db.session.scalar(db.select(User).filter_by(username="other-collector"))
        shown = options_for(stranger, SimpleNamespace(options=transcript["options"]))
        assert shown["initial_prompt"] is None and shown["context"] == {"hidden": True}
        assert options_for(None, SimpleNamespace(options=transcript["options"]))["initial_prompt"] is None
        assert options_for(stranger, SimpleNamespace(options={"initial_prompt": "以下是普通话的句子。"})) == {
            "initial_prompt": "以下是普通话的句子。"}

"""Edits, speakers, the review queue and the machine → in_review → reviewed → approved workflow (rules that do not
depend on the database run on SQLite only)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.api.helpers import assert_error, make_person
from tests.review.helpers import make_transcript, user_id


@pytest.fixture
def app(sqlite_app):
    return sqlite_app


def _url(tid: int, tail: str = "") -> str:
    return f"/api/v1/transcripts/{tid}{tail}"


SAVES = [
    ("patch", "/segments/0", {"text": "改"}),
    ("post", "/segments/0/split", {"at": 1.0, "text_before": "我叫王秀英，", "text_after": "今年八十三岁。"}),
    ("post", "/segments/merge", {"indexes": [0, 1]}),
    ("put", "/segments", {"segments": [{"index": 0, "text": "改"}]}),
    ("put", "/speakers", {"SPEAKER_1": {"name": "王秀英"}}),
    ("post", "/revert", {"revision": 1}),
]


def test_every_save_needs_if_match(client, auth, transcript_id, read):
    for method, tail, body in SAVES:
        call = getattr(client, method)
        assert_error(call(_url(transcript_id, tail), json=body, headers=auth("editor")), 428, "if_match_required")
        assert_error(call(_url(transcript_id, tail), json=body, headers={**auth("editor"), "If-Match": "*"}),
                     428, "if_match_required")
        assert_error(call(_url(transcript_id, tail), json=body, headers={**auth("editor"), "If-Match": '"0"'}),
                     412, "version_conflict")
        assert_error(call(_url(transcript_id, tail), json=body, headers={**auth("editor"), "If-Match": "abc"}),
                     412, "invalid_if_match")
    body, etag = read(transcript_id)
    assert etag == '"1"' and body["status"] == "machine"
    assert client.get(_url(transcript_id, "/revisions"), headers=auth("editor")).get_json()["total"] == 1


def test_collectors_cannot_edit_even_their_own_recording(client, auth, transcript_id):
    for method, tail, body in [*SAVES, ("post", "/claim", None), ("post", "/review", None)]:
        response = getattr(client, method)(_url(transcript_id, tail), json=body,
                                           headers={**auth("collector"), "If-Match": '"1"'})
        assert_error(response, 403)
    assert client.get(_url(transcript_id, "/revisions"), headers=auth("collector")).status_code == 200
    assert_error(client.get(_url(transcript_id, "/revisions"), headers=auth("other_collector")), 404,
                 "transcript_not_found")


def test_times_must_stay_inside_the_audio_and_in_order(client, auth, transcript_id, read):
    _, etag = read(transcript_id)
    h = {**auth("editor"), "If-Match": etag}
    cases = [
        ({"end": 12.5}, 3, "beyond_duration"),
        ({"start": 2.0}, 1, "overlaps_previous"),
        ({"end": 5.6}, 1, "overlaps_next"),
        ({"start": 4.0, "end": 3.0}, 1, "not_after_start"),
    ]
    for body, index, problem in cases:
        error = assert_error(client.patch(_url(transcript_id, f"/segments/{index}"), json=body, headers=h),
                             422, "invalid_segment_times")
        assert problem in [p["problem"] for p in error["details"]["problems"]], error
        assert error["details"]["duration"] == 12.0
    assert_error(client.patch(_url(transcript_id, "/segments/1"), json={"start": -1}, headers=h), 422,
                 "validation_error")
    error = assert_error(client.put(_url(transcript_id, "/segments"), json={"segments": [
        {"index": 0, "text": "改"}, {"index": 2, "end": 13}]}, headers=h), 422, "invalid_segment_times")
    assert error["details"]["problems"][0]["index"] == 2
    assert read(transcript_id)[0]["segments"][0]["text"] == "我叫王秀英，今年八十三岁。", "nothing half-saved"

    # Moving a boundary between two segments is one bulk save; segment by segment it would overlap on the way.
    moved = client.put(_url(transcript_id, "/segments"), json={"segments": [
        {"index": 1, "end": 5.8}, {"index": 2, "start": 5.8, "text": "那时候的日子很苦。"}]}, headers=h)
    assert moved.status_code == 200, moved.get_json()
    segments = moved.get_json()["segments"]
    assert (segments[1]["end"], segments[2]["start"], segments[2]["text"]) == (5.8, 5.8, "那时候的日子很苦。")
    revision = client.get(_url(transcript_id, "/revisions/2"), headers=auth("editor")).get_json()
    assert revision["summary"] == "bulk save 2 segments" and revision["changed"] == [1, 2]


def test_bad_bodies_are_clear_422s(client, auth, transcript_id, read):
    _, etag = read(transcript_id)
    h = {**auth("editor"), "If-Match": etag}
    assert_error(client.patch(_url(transcript_id, "/segments/0"), json={}, headers=h), 422, "validation_error")
    error = assert_error(client.patch(_url(transcript_id, "/segments/0"), json={"txt": "x"}, headers=h), 422)
    assert "txt" in error["details"]["fields"]
    assert_error(client.patch(_url(transcript_id, "/segments/7"), json={"text": "x"}, headers=h), 404,
                 "segment_not_found")
    error = assert_error(client.put(_url(transcript_id, "/segments"), json={"segments": [
        {"index": 0, "text": "a"}, {"index": 0, "text": "b"}, {"index": 8, "text": "c"}]}, headers=h),
        422, "invalid_segments")
    assert set(error["details"]["fields"]["segments"]) == {"1", "2"}
    assert_error(client.put(_url(transcript_id, "/segments"), json={"segments": []}, headers=h), 422)
    assert_error(client.put(_url(transcript_id, "/speakers"), json=["SPEAKER_1"], headers=h), 422, "invalid_speakers")
    assert_error(client.put(_url(transcript_id, "/speakers"), json={"SPEAKER_1": {"person_id": 1, "name": "x"}},
                            headers=h), 422, "invalid_speakers")
    assert_error(client.patch(_url(transcript_id, "/segments/0"), data="{", headers={**h, "Content-Type":
                                                                                    "application/json"}), 400)
    # A save that changes nothing is no save: no revision, same version.
    same = client.patch(_url(transcript_id, "/segments/0"), json={"text": "我叫王秀英，今年八十三岁。"}, headers=h)
    assert same.status_code == 200 and same.headers["ETag"] == etag and same.get_json()["status"] == "machine"


def test_speakers_map_to_visible_persons_or_names(client, auth, transcript_id, read):
    person = make_person(client, auth("collector"), name="王秀英")
    _, etag = read(transcript_id)
    h = {**auth("editor"), "If-Match": etag}
    error = assert_error(client.put(_url(transcript_id, "/speakers"), json={"SPEAKER_1": {"person_id": 99999}},
                                    headers=h), 422, "invalid_speakers")
    assert "SPEAKER_1" in error["details"]["fields"]
    mapping = {"SPEAKER_1": {"person_id": person["id"]}, "SPEAKER_2": {"name": "采访人 王芳"}}
    saved = client.put(_url(transcript_id, "/speakers"), json=mapping, headers=h)
    assert saved.status_code == 200, saved.get_json()
    assert saved.get_json()["speakers"] == mapping and saved.headers["ETag"] == '"2"'
    body, _ = read(transcript_id)
    assert body["speakers"] == mapping and body["status"] == "in_review"
    assert client.get(_url(transcript_id, "/revisions"), headers=auth("editor")).get_json()["total"] == 1
    audit = client.get(f"/api/v1/audit?entity_type=transcript&entity_id={transcript_id}",
                       headers=auth("archivist")).get_json()["items"]
    assert audit[0]["action"] == "speakers"
    assert audit[0]["changes"]["speakers"] == {"before": {}, "after": mapping}


def test_workflow_legal_and_illegal_transitions(app, client, auth, transcript_id, read):
    from backend.extensions import db
    from backend.models import Notification

    editor, archivist = auth("editor"), auth("archivist")
    body, etag = read(transcript_id)
    assert body["status"] == "machine" and body["machine_generated"] is True
    assert_error(client.post(_url(transcript_id, "/review"), headers={**editor, "If-Match": etag}), 409,
                 "invalid_transition")
    assert_error(client.post(_url(transcript_id, "/approve"), headers=archivist), 428, "if_match_required")
    assert_error(client.post(_url(transcript_id, "/approve"), headers={**archivist, "If-Match": etag}), 409,
                 "invalid_transition")

    assert client.post(_url(transcript_id, "/claim"), headers=editor).get_json()["status"] == "in_review"
    assert_error(client.post(_url(transcript_id, "/review"), headers=editor), 428, "if_match_required")
    reviewed = client.post(_url(transcript_id, "/review"), headers={**editor, "If-Match": etag})
    assert reviewed.status_code == 200, reviewed.get_json()
    body = reviewed.get_json()
    assert body["status"] == "reviewed" and body["lock"] is None and body["machine_generated"] is True
    assert body["reviewed_by_id"] == user_id(client, editor)
    assert_error(client.post(_url(transcript_id, "/approve"), headers=editor), 403)
    assert_error(client.post(_url(transcript_id, "/return"), json={"comment": "  "},
                             headers={**archivist, "If-Match": reviewed.headers["ETag"]}), 422, "comment_required")
    assert_error(client.post(_url(transcript_id, "/approve"), headers={**archivist, "If-Match": etag}), 412,
                 "version_conflict")

    approved = client.post(_url(transcript_id, "/approve"), headers={**archivist, "If-Match": reviewed.headers["ETag"]})
    assert approved.status_code == 200
    body, etag = read(transcript_id)
    assert body["status"] == "approved" and body["machine_generated"] is False
    assert client.get(f"/api/v1/materials/{body['material_id']}/transcripts",
                      headers=editor).get_json()[0]["machine_generated"] is False
    for method, tail, payload in SAVES:
        assert_error(getattr(client, method)(_url(transcript_id, tail), json=payload,
                                             headers={**editor, "If-Match": etag}), 409, "transcript_approved")
    assert_error(client.post(_url(transcript_id, "/claim"), headers=editor), 409, "transcript_approved")
    assert_error(client.post(_url(transcript_id, "/approve"), headers={**archivist, "If-Match": etag}), 409,
                 "invalid_transition")

    returned = client.post(_url(transcript_id, "/return"), json={"comment": "第2段“打鱼”应为“捕鱼”，请核对录音"},
                           headers={**archivist, "If-Match": etag})
    assert returned.status_code == 200
    body = returned.get_json()
    assert body["status"] == "in_review" and body["review_comment"] == "第2段“打鱼”应为“捕鱼”，请核对录音"
    assert body["machine_generated"] is True
    with app.app_context():
        [note] = db.session.query(Notification).all()
        assert (note.user_id, note.kind, note.entity_type, note.entity_id, note.comment) == (
            user_id(client, editor), "transcript_returned", "transcript", str(transcript_id), body["review_comment"])
    assert_error(client.post(_url(transcript_id, "/return"), json={"comment": "再看看"},
                             headers={**archivist, "If-Match": returned.headers["ETag"]}), 409, "invalid_transition")

    # Editable again; an edit after review sends a reviewed transcript back to in_review.
    etag = returned.headers["ETag"]
    fixed = client.patch(_url(transcript_id, "/segments/1"), json={"text": "小时候家里在新坝镇捕鱼。"},
                         headers={**editor, "If-Match": etag})
    assert fixed.status_code == 200
    again = client.post(_url(transcript_id, "/review"), headers={**editor, "If-Match": fixed.headers["ETag"]})
    assert again.get_json()["status"] == "reviewed"
    edited = client.patch(_url(transcript_id, "/segments/0"), json={"speaker": "SPEAKER_3"},
                          headers={**archivist, "If-Match": again.headers["ETag"]})
    assert edited.get_json()["status"] == "in_review"

    audit = client.get(f"/api/v1/audit?entity_type=transcript&entity_id={transcript_id}&per_page=50",
                       headers=archivist).get_json()["items"]
    assert [e["action"] for e in reversed(audit)] == [
        "claim", "review", "approve", "return", "edit_segment", "review", "edit_segment"]
    assert audit[3]["comment"] == "第2段“打鱼”应为“捕鱼”，请核对录音"
    assert audit[-1]["changes"]["status"] == {"before": "machine", "after": "in_review"}


def test_review_queue_sorts_filters_and_shows_locks(app, client, auth):
    collector = user_id(client, auth("collector"))
    other = user_id(client, auth("other_collector"))
    person = make_person(client, auth("collector"), name="王秀英")
    oldest = make_transcript(app, collector, [(0.0, 1.0, "一", None, False)], title="旧采访")
    flagged = make_transcript(app, other, title="两处存疑")  # 2 flagged segments
    newest = make_transcript(app, collector, [(0.0, 1.0, "二", None, False)], title="新采访")
    from backend.extensions import db
    from backend.models import Material, PersonMaterial, Transcript

    with app.app_context():
        material_id = db.session.get(Transcript, newest).material_id
        db.session.add(PersonMaterial(person_id=person["id"], material_id=material_id, role="interviewee"))
        db.session.commit()
        assert db.session.get(Material, material_id).title == "新采访"
    assert client.post(_url(flagged, "/claim"), headers=auth("editor")).status_code == 200

    def ids(query: str = "", role: str = "editor") -> list[int]:
        response = client.get(f"/api/v1/transcripts{query}", headers=auth(role))
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    page = client.get("/api/v1/transcripts", headers=auth("archivist")).get_json()
    assert [i["id"] for i in page["items"]] == [flagged, oldest, newest]
    assert (page["total"], page["page"], page["per_page"]) == (3, 1, 20)
    first = page["items"][0]
    assert first["material_title"] == "两处存疑" and first["flagged_count"] == 2 and first["segment_count"] == 4
    assert first["lock"]["holder"]["username"] == "editor" and first["status"] == "in_review"
    assert page["items"][1]["lock"] is None and page["items"][1]["machine_generated"] is True
    assert ids("?status=machine") == [oldest, newest]
    assert ids("?status=in_review&flagged=true") == [flagged]
    assert ids("?flagged=false") == [oldest, newest]
    assert ids(f"?collector={collector}") == [oldest, newest]
    assert ids(f"?person={person['id']}") == [newest]
    assert ids("?per_page=1&page=2") == [oldest]
    editor = user_id(client, auth("editor"))
    assert ids(f"?holder={editor}") == [flagged], "what the editor is working on"
    assert ids(f"?holder={collector}") == []
    assert first["collector"]["username"] == "other-collector" and page["items"][1]["collector"]["id"] == collector
    assert_error(client.get("/api/v1/transcripts?status=done", headers=auth("editor")), 422)
    assert_error(client.get("/api/v1/transcripts", headers=auth("collector")), 403)
    with app.app_context():
        db.session.get(Transcript, flagged).lock_expires_at -= timedelta(minutes=31)
        db.session.commit()
    assert ids(f"?holder={editor}") == [], "a lapsed claim is nobody's"

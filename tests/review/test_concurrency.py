"""Two editors on one transcript: If-Match and claims make sure nobody's work is silently overwritten (SQLite and
PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from tests.api.helpers import assert_error

pytestmark = pytest.mark.both_databases  # row locks, conditional UPDATEs and concurrent writers


def _url(tid: int, tail: str = "") -> str:
    return f"/api/v1/transcripts/{tid}{tail}"


def test_stale_save_gets_412_and_the_loser_reapplies(client, auth, second_editor, transcript_id, read):
    _, etag = read(transcript_id)
    first = client.patch(_url(transcript_id, "/segments/1"), json={"text": "小时候家里在新坝镇打渔。"},
                         headers={**auth("editor"), "If-Match": etag})
    assert first.status_code == 200, first.get_json()
    assert first.headers["ETag"] == '"2"' and first.get_json()["version"] == 2

    # The second editor read version 1 too: the save is refused, nothing is overwritten.
    stale = client.patch(_url(transcript_id, "/segments/1"), json={"text": "小时候在新坝镇打鱼。"},
                         headers={**second_editor, "If-Match": etag})
    error = assert_error(stale, 412, "version_conflict")
    assert error["details"] == {"current_version": 2, "your_version": 1}
    body, etag = read(transcript_id)
    assert body["segments"][1]["text"] == "小时候家里在新坝镇打渔。"

    # They re-read and re-apply on top of the first editor's work: both changes survive, in two revisions.
    again = client.patch(_url(transcript_id, "/segments/2"), json={"text": "那时候日子真苦。"},
                         headers={**second_editor, "If-Match": etag})
    assert again.status_code == 200 and again.headers["ETag"] == '"3"'
    texts = [s["text"] for s in again.get_json()["segments"]]
    assert texts[1:3] == ["小时候家里在新坝镇打渔。", "那时候日子真苦。"]
    revisions = client.get(_url(transcript_id, "/revisions"), headers=auth("editor")).get_json()
    assert [(r["number"], r["summary"], r["changed"]) for r in revisions["items"]] == [
        (3, "edit segment 2", [2]), (2, "edit segment 1", [1]), (1, "machine transcription", [])]
    assert revisions["items"][0]["created_by"]["display_name"] == "李编辑"
    assert revisions["items"][2]["created_by"] is None


def test_claim_locks_others_out_until_released(client, auth, second_editor, transcript_id, read):
    claimed = client.post(_url(transcript_id, "/claim"), headers=auth("editor"))
    assert claimed.status_code == 200, claimed.get_json()
    lock = claimed.get_json()["lock"]
    assert lock["holder"]["username"] == "editor" and claimed.get_json()["status"] == "in_review"
    body, etag = read(transcript_id, second_editor)
    assert body["status"] == "in_review" and body["lock"]["holder"]["username"] == "editor"

    # The other editor can neither claim nor save while the claim is held, even with a current ETag.
    for response in (
        client.post(_url(transcript_id, "/claim"), headers=second_editor),
        client.patch(_url(transcript_id, "/segments/0"), json={"text": "改"},
                     headers={**second_editor, "If-Match": etag}),
        client.put(_url(transcript_id, "/segments"), json={"segments": [{"index": 0, "text": "改"}]},
                   headers={**second_editor, "If-Match": etag}),
        client.post(_url(transcript_id, "/segments/0/split"), json={"at": 1, "text_before": "a", "text_after": "b"},
                    headers={**second_editor, "If-Match": etag}),
        client.post(_url(transcript_id, "/segments/merge"), json={"indexes": [0, 1]},
                    headers={**second_editor, "If-Match": etag}),
        client.put(_url(transcript_id, "/speakers"), json={"SPEAKER_1": {"name": "王秀英"}},
                   headers={**second_editor, "If-Match": etag}),
        client.post(_url(transcript_id, "/revert"), json={"revision": 1}, headers={**second_editor, "If-Match": etag}),
        client.delete(_url(transcript_id, "/claim"), headers=second_editor),
    ):
        error = assert_error(response, 423, "transcript_locked")
        assert error["details"]["holder"]["username"] == "editor"
        assert error["details"]["expires_at"] == lock["expires_at"]
    assert read(transcript_id)[0]["segments"][0]["text"] == "我叫王秀英，今年八十三岁。"
    assert read(transcript_id)[1] == etag, "refused saves do not bump the version"

    # The holder saves (which keeps the claim alive), then releases; now the other editor gets in.
    saved = client.patch(_url(transcript_id, "/segments/0"), json={"text": "我叫王秀英，今年八十三了。"},
                         headers={**auth("editor"), "If-Match": etag})
    assert saved.status_code == 200
    assert client.delete(_url(transcript_id, "/claim"), headers=auth("editor")).status_code == 204
    assert read(transcript_id)[0]["lock"] is None
    retry = client.post(_url(transcript_id, "/claim"), headers=second_editor)
    assert retry.status_code == 200 and retry.get_json()["lock"]["holder"]["display_name"] == "李编辑"


def test_holder_renews_and_an_expired_claim_lets_another_in(app, client, auth, second_editor, transcript_id, read):
    from backend.extensions import db
    from backend.models import Transcript
    from backend.models.types import utcnow

    first = client.post(_url(transcript_id, "/claim"), headers=auth("editor")).get_json()["lock"]["expires_at"]
    renewed = client.post(_url(transcript_id, "/claim"), headers=auth("editor"))
    assert renewed.status_code == 200 and renewed.get_json()["lock"]["expires_at"] >= first
    assert_error(client.post(_url(transcript_id, "/claim"), headers=second_editor), 423, "transcript_locked")

    with app.app_context():  # thirty minutes pass
        transcript = db.session.get(Transcript, transcript_id)
        transcript.lock_expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    body, etag = read(transcript_id, second_editor)
    assert body["lock"] is None
    saved = client.patch(_url(transcript_id, "/segments/3"), json={"speaker": "SPEAKER_2", "text": "您还记得是哪一年吗？"},
                         headers={**second_editor, "If-Match": etag})
    assert saved.status_code == 200, saved.get_json()
    assert client.post(_url(transcript_id, "/claim"), headers=second_editor).status_code == 200
    assert_error(client.post(_url(transcript_id, "/claim"), headers=auth("editor")), 423, "transcript_locked")


def test_lock_length_comes_from_the_setting(app, client, auth, second_editor, transcript_id, clock):
    app.config["TRANSCRIPT_LOCK"] = timedelta(seconds=0.5)
    assert client.post(_url(transcript_id, "/claim"), headers=auth("editor")).status_code == 200
    assert_error(client.post(_url(transcript_id, "/claim"), headers=second_editor), 423, "transcript_locked")
    clock.advance(timedelta(seconds=0.6))
    assert client.post(_url(transcript_id, "/claim"), headers=second_editor).status_code == 200


def test_admin_breaks_a_lock_and_the_holder_is_told(app, client, auth, second_editor, transcript_id, read):
    assert client.post(_url(transcript_id, "/claim"), headers=second_editor).status_code == 200
    assert_error(client.delete(_url(transcript_id, "/claim"), headers=auth("archivist")), 423, "transcript_locked")
    assert client.delete(_url(transcript_id, "/claim"), headers=auth("admin")).status_code == 204
    body, etag = read(transcript_id)
    assert body["lock"] is None
    assert client.patch(_url(transcript_id, "/segments/0"), json={"text": "改"},
                        headers={**auth("editor"), "If-Match": etag}).status_code == 200
    from backend.extensions import db
    from backend.models import Notification

    with app.app_context():
        notes = db.session.query(Notification).all()
        assert [(n.kind, n.entity_id) for n in notes] == [("transcript_lock_broken", str(transcript_id))]
    audit = client.get(f"/api/v1/audit?entity_type=transcript&entity_id={transcript_id}", headers=auth("admin"))
    assert "break_lock" in [e["action"] for e in audit.get_json()["items"]]


def _race(app, requests):
    """Send the requests at the same instant from separate threads (separate connections and transactions)."""
    barrier = threading.Barrier(len(requests))
    results: list = [None] * len(requests)

    def run(i, send):
        client = app.test_client()
        barrier.wait()
        results[i] = send(client)

    threads = [threading.Thread(target=run, args=(i, send)) for i, send in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_simultaneous_saves_and_claims_have_one_winner(app, auth, second_editor, transcript_id, read):
    texts = {"editor": "我叫王秀英，今年八十三。", "second": "我叫王秀英，今年已经八十三岁。"}
    headers = {"editor": auth("editor"), "second": second_editor}

    def save(who):
        return lambda client: client.patch(_url(transcript_id, "/segments/0"), json={"text": texts[who]},
                                           headers={**headers[who], "If-Match": '"1"'})

    first, second = _race(app, [save("editor"), save("second")])
    assert sorted([first.status_code, second.status_code]) == [200, 412], (first.get_json(), second.get_json())
    winner = "editor" if first.status_code == 200 else "second"
    body, etag = read(transcript_id)
    assert etag == '"2"' and body["segments"][0]["text"] == texts[winner]
    revisions = app.test_client().get(_url(transcript_id, "/revisions"), headers=auth("editor")).get_json()
    assert revisions["total"] == 2

    def claim(who):
        return lambda client: client.post(_url(transcript_id, "/claim"), headers=headers[who])

    first, second = _race(app, [claim("editor"), claim("second")])
    assert sorted([first.status_code, second.status_code]) == [200, 423]
    holder = read(transcript_id)[0]["lock"]["holder"]["username"]
    assert holder == ("editor" if first.status_code == 200 else "editor-2")


def test_a_write_landing_between_check_and_save_is_still_caught(app, users, transcript_id):
    """The version check and the bump are one conditional UPDATE: a save or a claim that commits after this request
    read the transcript (so the in-memory checks pass) still makes this save fail, and leaves no partial work."""
    from sqlalchemy import text, update

    from backend.errors import Locked, PreconditionFailed
    from backend.extensions import db
    from backend.models import Transcript, User
    from backend.models.types import utcnow
    from backend.services import transcript_edits

    with app.app_context():
        editor = db.session.get(User, users["editor"])
        db.session.get(Transcript, transcript_id)  # read at version 1
        with db.engine.begin() as other:  # another request's save commits meanwhile
            other.execute(text("UPDATE transcripts SET version = 2 WHERE id = :id"), {"id": transcript_id})
        with pytest.raises(PreconditionFailed) as raised:
            transcript_edits.edit_segment(editor, transcript_id, 0, {"text": "改"}, expected_version=1)
        assert raised.value.details == {"current_version": 2, "your_version": 1}

        db.session.get(Transcript, transcript_id)  # read at version 2, unlocked
        with db.engine.begin() as other:  # another editor's claim commits meanwhile
            other.execute(update(Transcript.__table__).where(Transcript.__table__.c.id == transcript_id).values(
                locked_by_id=users["admin"], lock_expires_at=utcnow() + timedelta(minutes=5)))
        with pytest.raises(Locked):
            transcript_edits.edit_segment(editor, transcript_id, 0, {"text": "改"}, expected_version=2)
        db.session.rollback()
        transcript = db.session.get(Transcript, transcript_id)
        assert transcript.segments[0].text == "我叫王秀英，今年八十三岁。" and transcript.version == 2

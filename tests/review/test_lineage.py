"""Lineage on both databases: split and merge keep indexes contiguous and times ordered, every save is a revision,
a revert restores a revision byte for byte as a new one, revision 1 never changes, diffs down to characters."""

from __future__ import annotations

import itertools
import json

import pytest

from tests.api.helpers import assert_error

pytestmark = pytest.mark.both_databases  # revisions as JSON, restored byte for byte; numbering by SQL max()


def _url(tid: int, tail: str = "") -> str:
    return f"/api/v1/transcripts/{tid}{tail}"


def _assert_well_formed(body: dict, duration: float = 12.0) -> None:
    segments = body["segments"]
    assert [s["index"] for s in segments] == list(range(len(segments)))
    for segment in segments:
        assert 0 <= segment["start"] < segment["end"] <= duration
    for before, after in itertools.pairwise(segments):
        assert before["end"] <= after["start"]
    assert body["segment_count"] == len(segments)


def _revision(client, auth, tid, number):
    response = client.get(_url(tid, f"/revisions/{number}"), headers=auth("editor"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_split_then_merge_keeps_order_and_indexes(client, auth, transcript_id, read):
    _, etag = read(transcript_id)
    split = client.post(_url(transcript_id, "/segments/1/split"),
                        json={"at": 3.75, "text_before": "小时候家里", "text_after": "在新坝镇打鱼。"},
                        headers={**auth("editor"), "If-Match": etag})
    assert split.status_code == 200, split.get_json()
    body = split.get_json()
    _assert_well_formed(body)
    assert [(s["start"], s["end"], s["text"]) for s in body["segments"][1:4]] == [
        (2.5, 3.75, "小时候家里"), (3.75, 5.0, "在新坝镇打鱼。"), (5.5, 8.0, "那时候日子很苦。")]
    assert body["segments"][2]["speaker"] == "SPEAKER_1" and body["segments"][2]["flagged"] is True
    assert body["status"] == "in_review" and split.headers["ETag"] == '"2"'

    merged = client.post(_url(transcript_id, "/segments/merge"), json={"indexes": [2, 3]},
                         headers={**auth("editor"), "If-Match": split.headers["ETag"]})
    assert merged.status_code == 200, merged.get_json()
    body = merged.get_json()
    _assert_well_formed(body)
    assert len(body["segments"]) == 4
    assert (body["segments"][2]["start"], body["segments"][2]["end"], body["segments"][2]["text"]) == (
        3.75, 8.0, "在新坝镇打鱼。那时候日子很苦。")
    assert body["flagged_count"] == sum(s["flagged"] for s in body["segments"])

    revisions = client.get(_url(transcript_id, "/revisions"), headers=auth("editor")).get_json()["items"]
    assert [(r["number"], r["summary"], r["changed"]) for r in revisions] == [
        (3, "merge 2-3", [2, 3]), (2, "split 1", [1]), (1, "machine transcription", [])]
    assert _revision(client, auth, transcript_id, 3)["segments"] == [
        {k: s[k] for k in ("index", "start", "end", "text", "speaker", "flagged")} for s in body["segments"]]


def test_bad_split_and_merge_are_refused(client, auth, transcript_id, read):
    _, etag = read(transcript_id)
    headers = {**auth("editor"), "If-Match": etag}
    error = assert_error(client.post(_url(transcript_id, "/segments/1/split"),
                                     json={"at": 5.0, "text_before": "a", "text_after": "b"}, headers=headers),
                         422, "invalid_split_point")
    assert error["details"]["start"] == 2.5 and error["details"]["end"] == 5.0
    assert_error(client.post(_url(transcript_id, "/segments/9/split"),
                             json={"at": 5.0, "text_before": "a", "text_after": "b"}, headers=headers),
                 404, "segment_not_found")
    assert_error(client.post(_url(transcript_id, "/segments/merge"), json={"indexes": [0, 2]}, headers=headers),
                 422, "invalid_merge")
    assert_error(client.post(_url(transcript_id, "/segments/merge"), json={"indexes": [3, 4]}, headers=headers),
                 422, "segment_not_found")
    error = assert_error(client.post(_url(transcript_id, "/segments/merge"), json={"indexes": [2, 3]},
                                     headers=headers), 422, "speaker_mismatch")
    assert error["details"]["speakers"] == {"2": "SPEAKER_1", "3": "SPEAKER_2"}
    assert read(transcript_id)[1] == etag


def test_revert_restores_a_revision_exactly_as_a_new_revision(client, auth, transcript_id, read):
    _, etag = read(transcript_id)
    h = auth("editor")
    steps = [
        ("patch", "/segments/0", {"text": "我叫王秀英，今年八十三了。", "speaker": "SPEAKER_3"}),
        ("post", "/segments/2/split", {"at": 6.5, "text_before": "那时候", "text_after": "日子很苦。"}),
        ("put", "/segments", {"segments": [{"index": 1, "text": "小时候家在新坝镇打渔。", "flagged": False},
                                           {"index": 4, "start": 8.2, "end": 9.9}]}),
    ]
    for method, tail, body in steps:
        response = getattr(client, method)(_url(transcript_id, tail), json=body, headers={**h, "If-Match": etag})
        assert response.status_code == 200, response.get_json()
        etag = response.headers["ETag"]
    machine = _revision(client, auth, transcript_id, 1)
    split = _revision(client, auth, transcript_id, 3)
    assert _revision(client, auth, transcript_id, 4)["summary"] == "bulk save 2 segments"

    reverted = client.post(_url(transcript_id, "/revert"), json={"revision": 3}, headers={**h, "If-Match": etag})
    assert reverted.status_code == 200, reverted.get_json()
    assert reverted.headers["ETag"] == '"5"'
    new = _revision(client, auth, transcript_id, 5)
    assert new["summary"] == "revert to 3" and new["changed"] == [1, 4]
    assert json.dumps(new["segments"], ensure_ascii=False) == json.dumps(split["segments"], ensure_ascii=False)

    back = client.post(_url(transcript_id, "/revert"), json={"revision": 1},
                       headers={**h, "If-Match": reverted.headers["ETag"]})
    assert back.status_code == 200
    body = back.get_json()
    _assert_well_formed(body)
    latest = _revision(client, auth, transcript_id, 6)
    assert json.dumps(latest["segments"], ensure_ascii=False) == json.dumps(machine["segments"], ensure_ascii=False)
    assert [(s["start"], s["end"], s["text"], s["speaker"], s["flagged"]) for s in body["segments"]] == [
        (s["start"], s["end"], s["text"], s["speaker"], s["flagged"]) for s in machine["segments"]]
    assert body["flagged_count"] == 2
    # Revision 1 is unchanged by all this, and every revision is still there.
    assert _revision(client, auth, transcript_id, 1) == machine
    listing = client.get(_url(transcript_id, "/revisions?per_page=2&page=3"), headers=h).get_json()
    assert listing["total"] == 6 and [r["number"] for r in listing["items"]] == [2, 1]
    assert_error(client.get(_url(transcript_id, "/revisions/7"), headers=h), 404, "revision_not_found")
    assert_error(client.post(_url(transcript_id, "/revert"), json={"revision": 9},
                             headers={**h, "If-Match": back.headers["ETag"]}), 404, "revision_not_found")


def test_diff_shows_segments_and_chinese_characters(client, auth, transcript_id, read):
    _, etag = read(transcript_id)
    h = auth("editor")
    edit = client.patch(_url(transcript_id, "/segments/1"), json={"text": "小时候家里在新坝镇捕鱼为生。"},
                        headers={**h, "If-Match": etag})
    split = client.post(_url(transcript_id, "/segments/2/split"),
                        json={"at": 6.5, "text_before": "那时候", "text_after": "日子很苦很苦。"},
                        headers={**h, "If-Match": edit.headers["ETag"]})
    assert split.status_code == 200, split.get_json()

    diff = client.get(_url(transcript_id, "/diff?from=1&to=2"), headers=h).get_json()
    assert diff["from"] == 1 and diff["to"] == 2
    assert diff["stats"] == {"added": 0, "removed": 0, "changed": 1, "unchanged": 3}
    [change] = diff["segments"]
    assert change["type"] == "changed" and change["from_index"] == change["to_index"] == 1
    assert change["fields"] == ["text"]
    assert change["before"]["text"] == "小时候家里在新坝镇打鱼。"
    assert change["after"]["text"] == "小时候家里在新坝镇捕鱼为生。"
    assert [op for op in change["text_ops"] if op["op"] != "equal"] == [
        {"op": "replace", "before": "打", "after": "捕"}, {"op": "insert", "before": "", "after": "为生"}]
    assert "".join(op["before"] for op in change["text_ops"]) == change["before"]["text"]
    assert "".join(op["after"] for op in change["text_ops"]) == change["after"]["text"]

    # Default: the latest revision against the one before it — a split is a changed segment plus an added one.
    latest = client.get(_url(transcript_id, "/diff"), headers=h).get_json()
    assert (latest["from"], latest["to"]) == (2, 3)
    assert latest["stats"] == {"added": 1, "removed": 0, "changed": 1, "unchanged": 3}
    changed, added = latest["segments"]
    assert changed["type"] == "changed" and changed["fields"] == ["end", "text"]
    assert changed["text_ops"] == [{"op": "equal", "before": "那时候", "after": "那时候"},
                                   {"op": "delete", "before": "日子很苦。", "after": ""}]
    assert added == {"type": "added", "from_index": None, "to_index": 3, "before": None,
                     "after": {"index": 3, "start": 6.5, "end": 8.0, "text": "日子很苦很苦。",
                               "speaker": "SPEAKER_1", "flagged": False}}

    # Backwards from 3 to 1 the added segment is removed again.
    backwards = client.get(_url(transcript_id, "/diff?from=3&to=1"), headers=h).get_json()
    assert backwards["stats"] == {"added": 0, "removed": 1, "changed": 2, "unchanged": 2}
    assert_error(client.get(_url(transcript_id, "/diff?from=1&to=8"), headers=h), 404, "revision_not_found")
    assert_error(client.get(_url(transcript_id, "/diff?from=0"), headers=h), 422)

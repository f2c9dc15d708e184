"""Reading revisions and the review queue takes the same number of queries however many authors and lock holders
there are: the services load them in one query, and the schemas only format what they are given."""

from __future__ import annotations

from typing import Any

from flask import Flask

from tests.review.helpers import make_transcript, user_id
from tests.support.statements import counted_statements


def _get(app: Flask, client: Any, url: str, headers: dict[str, str]) -> tuple[dict[str, Any], int]:
    with counted_statements(app) as statements:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json(), len(statements)


def _save(client: Any, tid: int, n: int, headers: dict[str, str]) -> None:
    response = client.patch(f"/api/v1/transcripts/{tid}/segments/0", json={"text": f"修订 {n}"},
                            headers={**headers, "If-Match": f'"{n}"'})
    assert response.status_code == 200, response.get_json()


def test_revision_authors_do_not_cost_a_query_each(app, client, auth, second_editor, transcript_id):
    url = f"/api/v1/transcripts/{transcript_id}/revisions"
    _save(client, transcript_id, 1, auth("editor"))
    few, few_queries = _get(app, client, url, auth("editor"))
    for n, headers in enumerate([second_editor, auth("admin"), auth("archivist"), auth("editor")], start=2):
        _save(client, transcript_id, n, headers)
    many, many_queries = _get(app, client, url, auth("editor"))

    assert [r["created_by"] for r in few["items"]] == [
        {"id": user_id(client, auth("editor")), "username": "editor", "display_name": "editor"}, None]
    assert [(r["created_by"] or {}).get("username") for r in many["items"]] == [
        "editor", "archivist", "admin", "editor-2", "editor", None]
    assert many_queries == few_queries

    one, _ = _get(app, client, f"{url}/3", auth("editor"))
    assert one["created_by"]["display_name"] == "李编辑" and one["segments"][0]["text"] == "修订 2"


def test_lock_holders_in_the_queue_do_not_cost_a_query_each(app, client, auth, second_editor):
    collector = user_id(client, auth("collector"))
    holders = [auth("editor"), second_editor, auth("admin"), auth("archivist")]
    transcripts = [make_transcript(app, collector, title=f"采访 {n}") for n in range(len(holders))]

    def claim(tid: int, headers: dict[str, str]) -> None:
        assert client.post(f"/api/v1/transcripts/{tid}/claim", headers=headers).status_code == 200

    claim(transcripts[0], holders[0])
    few, few_queries = _get(app, client, "/api/v1/transcripts", auth("editor"))
    for tid, headers in zip(transcripts[1:], holders[1:]):
        claim(tid, headers)
    many, many_queries = _get(app, client, "/api/v1/transcripts", auth("editor"))

    assert sorted((item["lock"] or {}).get("holder", {}).get("username", "") for item in few["items"]) == [
        "", "", "", "editor"]
    assert sorted(item["lock"]["holder"]["username"] for item in many["items"]) == [
        "admin", "archivist", "editor", "editor-2"]
    assert many_queries == few_queries


def test_a_control_character_stored_earlier_does_not_break_the_word_export(app, client, auth):
    """A title saved before the API refused control characters (a phone app pasting \\x0b) used to break the DOCX
    export of every transcript of that material until someone changed the title."""
    import io

    from docx import Document

    from tests.review.helpers import make_transcript, user_id

    transcript_id = make_transcript(app, user_id(client, auth("collector")), title="渔村\x0b记忆\x01",
                                    segments=[(0.0, 2.0, "我叫\x07王秀英。", "SPEAKER\x1b_1", False)])
    response = client.get(f"/api/v1/transcripts/{transcript_id}/export?format=docx", headers=auth("editor"))
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    document = Document(io.BytesIO(response.data))
    text = "\n".join(p.text for p in document.paragraphs)
    assert "渔村记忆" in text and "我叫王秀英。" in text

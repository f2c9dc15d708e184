"""The text read from a document (OCR, a PDF's text layer, an editor's correction) is searchable for those who may see
the material, from the next request on; the public search never searches it (the public API does not show it)."""

from __future__ import annotations

import pytest

from tests.api.helpers import upload_png

pytestmark = pytest.mark.both_databases  # each engine's index follows the text's save


def _ids(client, headers, q: str) -> set[int]:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/search", query_string={"q": q, "type": "material"}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return {item["id"] for item in response.get_json()["items"]}


def test_a_corrected_certificate_text_is_found_at_once_by_those_who_may_see_it(client, auth):
    material = upload_png(client, auth("collector"), seed=11, title="奖状照片")
    url = f"/api/v1/materials/{material['id']}/text"
    assert _ids(client, auth("collector"), "见义勇为") == set()
    page = {"number": 1, "lines": [{"text": "荣誉证书"}, {"text": "授予王秀英同志“见义勇为先进个人”称号"}]}
    saved = client.put(url, json={"pages": [page]}, headers={**auth("collector"), "If-Match": '"0"'})
    assert saved.status_code == 200, saved.get_json()
    assert _ids(client, auth("collector"), "见义勇为") == {material["id"]}
    assert _ids(client, auth("editor"), "見義勇為") == {material["id"]}  # Traditional input finds it too
    assert _ids(client, auth("other_collector"), "见义勇为") == set()  # not theirs, not open
    # An editor's correction replaces the words that are found.
    etag = client.get(url, headers=auth("editor")).headers["ETag"]
    page["lines"][1] = {"text": "授予王秀英同志“助人为乐模范”称号"}
    assert client.put(url, json={"pages": [page]}, headers={**auth("editor"), "If-Match": etag}).status_code == 200
    assert _ids(client, auth("archivist"), "见义勇为") == set()
    assert _ids(client, auth("archivist"), "助人为乐") == {material["id"]}
    public = client.get("/api/public/search", query_string={"q": "助人为乐"})
    assert public.status_code == 200 and public.get_json()["total"] == 0

"""The text of materials: OCR of a photographed certificate through upload → processing → OCR job, PDF text layers
used as they are, blank pages, editors' corrections as revisions with If-Match, and who may read and edit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from media import ocr
from tests.api.helpers import assert_error, if_match
from tests.support import documents

TEXT_LAYER_PAGES = [["荣誉证书", "授予 李明 同志", "苏州市文化广电和旅游局"], ["二〇一九年五月一日"]]


@pytest.fixture
def reading_app(app):  # type: ignore[no-untyped-def]
    """The app with OCR after processing switched on, as it is by default outside the tests."""
    app.config["AUTO_OCR"] = True
    return app


@pytest.fixture
def text_layer_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "荣誉证书（文字版）.pdf"
    documents.text_layer_pdf(path, TEXT_LAYER_PAGES)
    return path


@pytest.fixture
def no_ocr(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any OCR run fails the test: what must come from a text layer must not be recognised from pixels."""
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("OCR ran on a page that has a text layer")

    monkeypatch.setattr(ocr.RapidOcrEngine, "recognize", refuse)
    monkeypatch.setattr(ocr.TesseractEngine, "recognize", refuse)


def _text(client, auth, material_id: int, role: str = "collector") -> Any:  # type: ignore[no-untyped-def]
    response = client.get(f"/api/v1/materials/{material_id}/text", headers=auth(role))
    assert response.status_code == 200, response.get_json()
    return response


def test_photographed_certificate_reads_back_through_upload_processing_and_ocr(
        reading_app, client, auth, upload, tmp_path):
    photo = tmp_path / "荣誉证书.jpg"
    truth = documents.certificate(photo, rotation=3.0, quality=80)
    material = upload(photo, title="王秀英荣誉证书").get_json()
    assert material["status"] == "ready"

    response = _text(client, auth, material["id"])
    body = response.get_json()
    assert response.headers["ETag"] == '"1"' and body["revision"] == 1
    assert body["source"] == "ocr" and body["engine"] == reading_app.config["OCR_ENGINE"] == "rapidocr"
    accuracy = documents.character_accuracy(truth, body["text"])
    assert accuracy >= 0.9, (accuracy, body["text"])
    # The title, the name, the issuing body and the date (under the red seal) are all there.
    assert body["text"].startswith("荣誉证书") and "王秀英同志" in body["text"]
    assert "姑苏区精神文明建设办公室" in body["text"] and "年十二月二十日" in body["text"]
    [page] = body["pages"]
    assert page["number"] == 1 and page["source"] == "ocr" and page["width"] > 1000
    for line in page["lines"]:
        assert len(line["box"]) == 4 and all(0 <= x <= page["width"] and 0 <= y <= page["height"]
                                             for x, y in line["box"])
        assert 0.5 <= line["confidence"] <= 1
    assert page["text"] == body["text"] == "\n".join(line["text"] for line in page["lines"])
    assert body["can_edit"] is True  # the uploader's own material

    with reading_app.app_context():
        from backend.extensions import db
        from backend.models import Material

        assert db.session.get(Material, material["id"]).text_content == body["text"]


def test_tesseract_engine_reads_a_photographed_letter(tmp_path):
    photo = tmp_path / "家书.jpg"
    truth = documents.letter(photo)
    [page] = ocr.ocr_image(photo, ocr.engine_named("tesseract"))
    assert page.engine == "tesseract" and page.lines
    assert documents.character_accuracy(truth, page.text) >= 0.9, page.text
    assert all(line.confidence is not None and 0 < line.confidence <= 1 for line in page.lines)


@pytest.mark.both_databases
def test_pdf_with_a_text_layer_is_used_as_it_is(reading_app, client, auth, upload, text_layer_pdf, no_ocr):
    material = upload(text_layer_pdf).get_json()
    body = _text(client, auth, material["id"]).get_json()
    assert body["revision"] == 1 and body["source"] == "text_layer" and body["engine"] is None
    assert body["text"] == "荣誉证书\n授予 李明 同志\n苏州市文化广电和旅游局\n\n二〇一九年五月一日"
    assert [page["source"] for page in body["pages"]] == ["text_layer", "text_layer"]
    first = body["pages"][0]
    assert [line["text"] for line in first["lines"]] == TEXT_LAYER_PAGES[0]
    assert first["width"] == 595 and first["height"] == 842
    top = first["lines"][0]["box"]
    assert top[0][1] < 100 and top[2][1] > top[0][1]  # top-left origin: the first line is near the top
    assert first["lines"][0]["confidence"] is None


def test_blank_pages_give_no_text_and_no_error(reading_app, client, auth, upload, tmp_path):
    blank_photo = tmp_path / "blank.jpg"
    documents.blank_page_image(blank_photo)
    blank_pdf = tmp_path / "blank.pdf"
    documents.blank_page_pdf(blank_pdf)
    for path in (blank_photo, blank_pdf):
        material = upload(path).get_json()
        assert material["status"] == "ready"
        body = _text(client, auth, material["id"]).get_json()
        assert body["revision"] == 1 and body["text"] == ""
        assert [(page["number"], page["lines"]) for page in body["pages"]] == [(1, [])]
        jobs = client.get(f"/api/v1/audit?entity_type=material&entity_id={material['id']}", headers=auth("archivist"))
        assert "text_read" in [event["action"] for event in jobs.get_json()["items"]]


def test_scanned_pdf_pages_are_recognised_one_by_one(reading_app, client, auth, upload, tmp_path):
    page_one = tmp_path / "page1.jpg"
    truth = documents.letter(page_one)
    blank = tmp_path / "page2.jpg"
    documents.blank_page_image(blank)
    scan = tmp_path / "家书扫描.pdf"
    documents.scanned_pdf(scan, [page_one, blank])
    body = _text(client, auth, upload(scan).get_json()["id"]).get_json()
    assert [(page["number"], page["source"]) for page in body["pages"]] == [(1, "ocr"), (2, "ocr")]
    assert body["pages"][1]["lines"] == []
    assert documents.character_accuracy(truth, body["text"]) >= 0.9, body["text"]


def test_audio_has_no_text_and_text_is_not_read_when_switched_off(app, client, auth, upload, media_samples,
                                                                   text_layer_pdf):
    material = upload(text_layer_pdf).get_json()  # AUTO_OCR is off in the tests' configuration
    response = _text(client, auth, material["id"])
    assert response.headers["ETag"] == '"0"'
    assert response.get_json()["revision"] == 0 and response.get_json()["text"] is None
    assert response.get_json()["pages"] == []
    audio = upload(media_samples("tone.wav")).get_json()
    assert _text(client, auth, audio["id"]).get_json()["pages"] == []
    assert_error(client.post(f"/api/v1/materials/{audio['id']}/text/ocr", json={}, headers=auth("collector")),
                 409, "no_text_to_read")


def _save(client, material_id: int, headers: dict[str, str], pages: list[dict[str, Any]], **extra: Any):  # type: ignore[no-untyped-def]
    return client.put(f"/api/v1/materials/{material_id}/text", json={"pages": pages, **extra}, headers=headers)


@pytest.mark.both_databases
def test_editing_keeps_revisions_and_needs_if_match(reading_app, client, auth, upload, text_layer_pdf):
    material_id = upload(text_layer_pdf).get_json()["id"]
    url = f"/api/v1/materials/{material_id}/text"
    before = _text(client, auth, material_id, "editor").get_json()
    corrected = [{"number": 1, "lines": [{"text": "荣誉证书"}, {"text": "授予 李明同志"},
                                         {"text": "苏州市文化广电和旅游局"}]},
                 {"number": 2, "lines": [{"text": "二〇一九年五月一日"}]}]

    assert_error(_save(client, material_id, auth("editor"), corrected), 428, "if_match_required")
    assert_error(_save(client, material_id, {**auth("editor"), "If-Match": '"0"'}, corrected), 412,
                 "version_conflict")
    saved = _save(client, material_id, if_match(client, url, auth("editor")), corrected, comment="去掉多余空格")
    assert saved.status_code == 200, saved.get_json()
    assert saved.headers["ETag"] == '"2"'
    body = saved.get_json()
    assert body["revision"] == 2 and body["source"] == "editor" and body["updated_by"]["username"] == "editor"
    assert body["text"] == "荣誉证书\n授予 李明同志\n苏州市文化广电和旅游局\n\n二〇一九年五月一日"
    first, second = body["pages"]
    assert first["source"] == "editor" and second["source"] == "text_layer"  # page 2 was left as it was
    assert first["lines"][0] == before["pages"][0]["lines"][0]  # an unchanged line keeps its box
    assert first["lines"][1]["box"] == before["pages"][0]["lines"][1]["box"]
    assert first["lines"][1]["confidence"] is None

    # Saving the same text again changes nothing: no new revision.
    unchanged = _save(client, material_id, {**auth("editor"), "If-Match": '"2"'}, corrected)
    assert unchanged.status_code == 200 and unchanged.headers["ETag"] == '"2"'

    # The collector saved from the revision the editor replaced: refused, with the version that won.
    stale = assert_error(_save(client, material_id, {**auth("collector"), "If-Match": '"1"'}, corrected), 412)
    assert stale["details"]["current_version"] == 2

    revisions = client.get(f"{url}/revisions", headers=auth("collector")).get_json()
    assert [(r["number"], r["base_number"], r["source"]) for r in revisions] == [(2, 1, "editor"),
                                                                                 (1, None, "text_layer")]
    assert revisions[0]["created_by"]["username"] == "editor" and revisions[1]["created_by"] is None
    assert revisions[0]["comment"] == "去掉多余空格"
    events = client.get(f"/api/v1/audit?entity_type=material&entity_id={material_id}",
                        headers=auth("archivist")).get_json()["items"]
    edit = next(event for event in events if event["action"] == "text_update")
    assert edit["actor_name"] == "editor" and edit["changes"]["text_revision"] == {"before": 1, "after": 2}

    # Reading it again stacks a new revision on the correction, which stays in the history.
    job = client.post(f"{url}/ocr", json={}, headers=auth("editor"))
    assert job.status_code == 202, job.get_json()
    again = _text(client, auth, material_id).get_json()
    assert again["revision"] == 3 and again["source"] == "text_layer"
    assert client.get(f"{url}/revisions", headers=auth("editor")).get_json()[0]["base_number"] == 2


def test_invalid_saves_are_422(reading_app, client, auth, upload, text_layer_pdf):
    material_id = upload(text_layer_pdf).get_json()["id"]
    url = f"/api/v1/materials/{material_id}/text"
    headers = if_match(client, url, auth("editor"))
    for pages in ([{"number": 1, "lines": [{"text": "a", "box": [[0, 0], [1, 0], [1, 1]]}]}],
                  [{"number": 0, "lines": []}],
                  [{"number": 1, "lines": [{"text": "a\u0000"}]}],
                  [{"number": 1, "lines": [], "extra": 1}]):
        assert_error(_save(client, material_id, headers, pages), 422)
    assert_error(_save(client, material_id, headers, [{"number": 1, "lines": []}, {"number": 1, "lines": []}]),
                 422, "duplicate_page")
    assert _text(client, auth, material_id).get_json()["revision"] == 1


@pytest.mark.both_databases
def test_text_is_seen_and_edited_as_the_material_is(reading_app, client, auth, upload, text_layer_pdf):
    material_id = upload(text_layer_pdf).get_json()["id"]  # the collector's, restricted
    url = f"/api/v1/materials/{material_id}/text"
    pages = [{"number": 1, "lines": [{"text": "荣誉证书"}]}]

    assert_error(client.get(url, headers=auth("anonymous")), 401)
    assert_error(client.put(url, json={"pages": pages}, headers=auth("anonymous")), 401)
    assert_error(client.get(url, headers=auth("other_collector")), 404, "material_not_found")
    assert_error(client.get(f"{url}/revisions", headers=auth("other_collector")), 404, "material_not_found")
    assert_error(_save(client, material_id, {**auth("other_collector"), "If-Match": '"1"'}, pages), 404)
    assert_error(client.post(f"{url}/ocr", json={}, headers=auth("other_collector")), 404)
    assert _text(client, auth, material_id, "editor").get_json()["can_edit"] is True

    material_url = f"/api/v1/materials/{material_id}"
    opened = client.patch(material_url, json={"access_level": "open"},
                          headers=if_match(client, material_url, auth("archivist")))
    assert opened.status_code == 200, opened.get_json()
    seen = _text(client, auth, material_id, "other_collector").get_json()
    assert seen["text"].startswith("荣誉证书") and seen["can_edit"] is False
    assert_error(_save(client, material_id, {**auth("other_collector"), "If-Match": '"1"'}, pages), 403,
                 "text_edit_forbidden")
    assert_error(client.get(f"/api/public/materials/{material_id}/text"), 404)
    assert _text(client, auth, material_id).get_json()["revision"] == 1


def test_the_text_read_command_reads_what_has_no_text_yet(app, client, auth, upload, text_layer_pdf, tmp_path):
    unread = upload(text_layer_pdf).get_json()  # AUTO_OCR is off: archived without text
    other = tmp_path / "other.pdf"
    documents.text_layer_pdf(other, [["家书"]])
    second = upload(other).get_json()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["text", "read"])
    assert result.exit_code == 0 and "queued 2 OCR jobs" in result.output, result.output
    assert _text(client, auth, unread["id"]).get_json()["revision"] == 1
    assert _text(client, auth, second["id"]).get_json()["text"] == "家书"
    assert "queued 0 OCR jobs" in runner.invoke(args=["text", "read"]).output  # nothing left to read
    again = runner.invoke(args=["text", "read", "--material", str(second["id"])])
    assert "queued 1 OCR jobs" in again.output
    assert _text(client, auth, second["id"]).get_json()["revision"] == 2

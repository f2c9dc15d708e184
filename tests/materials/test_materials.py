"""Materials as collectors, editors and archivists meet them: uploads, type sniffing, de-duplication, processing,
content with Range, access levels, person links, interviews, jobs and fixity."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.api.helpers import assert_error, if_match, make_person
from tests.materials.conftest import sha256_of


@pytest.fixture
def app(sqlite_app):  # media behaviour does not depend on the database: run these on SQLite only
    sqlite_app.config["AUTO_TRANSCRIBE"] = False
    return sqlite_app


def test_audio_upload_is_sniffed_stored_and_processed(client, auth, upload, media_samples, app):
    path = media_samples("tone.m4a")
    person = make_person(client, auth("collector"), name="王秀英")
    response = upload(path, filename="采访录音.mp4", person_id=person["id"], title="第一次采访",
                      captured_at="2026-05-01T09:30:00+08:00", latitude="34.6", longitude="119.2")
    assert response.status_code == 201, response.get_json()
    material = response.get_json()
    assert response.posted["duplicate"] is False and response.posted["status"] == "uploaded"
    assert material["kind"] == "audio" and material["mime"] == "audio/mp4", "type comes from content, not the name"
    assert material["original_filename"] == "采访录音.mp4"
    assert material["sha256"] == sha256_of(path) and material["size"] == path.stat().st_size
    assert material["person_ids"] == [person["id"]]
    assert material["status"] == "ready"  # processed once the upload was committed (the tests' queue runs at once)
    detail = client.get(f"/api/v1/materials/{material['id']}", headers=auth("collector")).get_json()
    assert detail["media_info"]["duration"] == pytest.approx(1.0, abs=0.2)
    assert detail["media_info"]["sample_rate"] and detail["media_info"]["channels"]
    assert set(detail["variants"]) == {"original", "asr", "proxy", "waveform"}
    assert detail["captured_at"].startswith("2026-05-01T01:30:00")
    # the original comes back byte for byte
    original = client.get(f"/api/v1/materials/{material['id']}/content", headers=auth("collector"))
    assert original.status_code == 200 and original.data == path.read_bytes()
    assert original.headers["ETag"] == f'"{material["sha256"]}"'
    assert original.mimetype == "audio/mp4"


def test_asr_derivative_is_16k_mono(client, auth, upload, media_samples, tmp_path):
    material = upload(media_samples.speech).get_json()
    asr = client.get(f"/api/v1/materials/{material['id']}/content?variant=asr", headers=auth("collector"))
    assert asr.status_code == 200 and asr.mimetype == "audio/flac"
    out = tmp_path / "asr.flac"
    out.write_bytes(asr.data)
    probe = json.loads(subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(out)],
                                      capture_output=True, check=True).stdout)
    stream = probe["streams"][0]
    assert stream["sample_rate"] == "16000" and stream["channels"] == 1
    waveform = client.get(f"/api/v1/materials/{material['id']}/content?variant=waveform", headers=auth("collector"))
    peaks = waveform.get_json()
    assert peaks["duration"] == pytest.approx(4.2, abs=0.2) and len(peaks["peaks"]) > 10


def test_video_gets_proxy_and_poster(client, auth, upload, media_samples):
    material = upload(media_samples("portrait_phone.mp4")).get_json()
    assert material["kind"] == "video" and material["status"] == "ready"
    assert material["media_info"]["rotation"] in (90, 270)
    proxy = client.get(f"/api/v1/materials/{material['id']}/content?variant=proxy", headers=auth("collector"))
    assert proxy.status_code == 200 and proxy.mimetype == "video/mp4"
    poster = client.get(f"/api/v1/materials/{material['id']}/content?variant=poster", headers=auth("collector"))
    assert poster.status_code == 200 and poster.data[:3] == b"\xff\xd8\xff"


def test_photo_exif_gps_and_thumbnail(client, auth, upload, media_samples):
    material = upload(media_samples("photo_gps.jpg")).get_json()
    assert material["kind"] == "image" and material["status"] == "ready"
    assert material["media_info"]["gps_lat"] is not None
    assert material["latitude"] == pytest.approx(material["media_info"]["gps_lat"])
    assert material["captured_at"] is not None, "EXIF capture time fills captured_at"
    thumb = client.get(f"/api/v1/materials/{material['id']}/content?variant=thumbnail", headers=auth("collector"))
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"


def test_pdf_page_count(client, auth, upload, media_samples):
    material = upload(media_samples("three_pages.pdf")).get_json()
    assert material["kind"] == "document" and material["media_info"]["page_count"] == 3


def test_same_bytes_twice_is_one_material_linked_to_both_persons(client, auth, upload, media_samples):
    path = media_samples("tone.mp3")
    first_person = make_person(client, auth("collector"), name="甲")
    second_person = make_person(client, auth("collector"), name="乙")
    first = upload(path, person_id=first_person["id"]).get_json()
    again = upload(path, filename="copy.mp3", person_id=second_person["id"])
    assert again.status_code == 200
    body = again.get_json()
    assert again.posted["duplicate"] is True and body["id"] == first["id"]
    assert body["person_ids"] == sorted([first_person["id"], second_person["id"]])
    found = client.get(f"/api/v1/materials?sha256={first['sha256'].upper()}", headers=auth("collector")).get_json()
    assert found["total"] == 1 and found["items"][0]["id"] == first["id"]
    assert client.get(f"/api/v1/materials?sha256={'0' * 64}", headers=auth("collector")).get_json()["total"] == 0


@pytest.mark.parametrize("name", ["elf_renamed.mp4", "archive.zip", "notes.txt", "playlist.mp4"])
def test_unaccepted_content_is_415_and_nothing_is_stored(client, auth, upload, media_samples, app, name):
    response = upload(media_samples(name))
    assert_error(response, 415, "unsupported_media")
    assert client.get("/api/v1/materials", headers=auth("admin")).get_json()["total"] == 0
    media_root = Path(app.config["STORAGE_URL"])
    assert not media_root.exists() or not any(p.is_file() for p in media_root.rglob("*"))


def test_zero_bytes_is_refused(client, auth, upload, media_samples):
    assert_error(upload(media_samples("zero.mp4")), 422, "empty_file")


@pytest.mark.parametrize("name", ["truncated.mp4", "broken.pdf"])
def test_damaged_file_is_kept_as_a_failed_material(client, auth, upload, media_samples, name):
    path = media_samples(name)
    response = upload(path)
    assert response.status_code == 201, response.get_json()
    material = response.get_json()
    assert material["status"] == "failed" and "损坏" in material["failure_reason"]
    original = client.get(f"/api/v1/materials/{material['id']}/content", headers=auth("collector"))
    assert original.data == path.read_bytes(), "the original is still kept"


def test_png_bomb_fails_without_eating_memory(client, auth, upload, media_samples):
    response = upload(media_samples("bomb.png"))
    assert response.status_code in (201, 415, 422), response.get_json()
    if response.status_code == 201:
        assert response.get_json()["status"] == "failed"


def test_path_traversal_filename_is_only_a_label(client, auth, upload, media_samples, app):
    material = upload(media_samples("tone.flac"), filename="../../etc/passwd").get_json()
    assert material["original_filename"] == "passwd"
    assert Path("/etc/passwd").read_bytes() != media_samples("tone.flac").read_bytes()
    stored = [p for p in Path(app.config["STORAGE_URL"]).rglob("*") if p.is_file() and p.suffix != ".json"]
    assert all("passwd" not in str(p) for p in stored)


def test_client_sha256_mismatch_is_refused(client, auth, upload, media_samples):
    assert_error(upload(media_samples("tone.wav"), sha256="a" * 64), 422, "sha256_mismatch")


def test_unknown_person_is_422(client, auth, upload, media_samples):
    assert_error(upload(media_samples("tone.wav"), person_id=99999), 422, "unknown_person")
    others = make_person(client, auth("other_collector"), name="别人的草稿")
    assert_error(upload(media_samples("tone.wav"), person_id=others["id"]), 422, "unknown_person")


def test_form_upload_size_limit(client, auth, upload, media_samples, app):
    app.config["MULTIPART_MAX_SIZE"] = 10_000
    assert_error(upload(media_samples("tone.wav")), 413)


def test_range_requests_and_conditional_get(client, auth, upload, media_samples):
    path = media_samples("tone.wav")
    material = upload(path).get_json()
    url = f"/api/v1/materials/{material['id']}/content"
    data = path.read_bytes()
    part = client.get(url, headers={**auth("collector"), "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == data[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(data)}"
    tail = client.get(url, headers={**auth("collector"), "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == data[-10:]
    beyond = client.get(url, headers={**auth("collector"), "Range": f"bytes={len(data) + 5}-"})
    assert beyond.status_code == 416
    cached = client.get(url, headers={**auth("collector"), "If-None-Match": f'"{material["sha256"]}"'})
    assert cached.status_code == 304
    download = client.get(url + "?download=true", headers=auth("collector"))
    assert download.headers["Content-Disposition"].startswith("attachment")
    missing = client.get(url + "?variant=poster", headers=auth("collector"))
    assert_error(missing, 404, "variant_not_available")


def test_range_as_rfc_9110_says(client, auth, upload, media_samples):
    path = media_samples("tone.wav")
    material = upload(path).get_json()
    url = f"/api/v1/materials/{material['id']}/content"
    data = path.read_bytes()
    size = len(data)

    def get(range_header: str):  # type: ignore[no-untyped-def]
        return client.get(url, headers={**auth("collector"), "Range": range_header})

    # A suffix longer than the representation is the whole representation (RFC 9110 §14.1.2), still a 206.
    whole = get(f"bytes=-{size + 1000}")
    assert whole.status_code == 206 and whole.data == data
    assert whole.headers["Content-Range"] == f"bytes 0-{size - 1}/{size}"
    # A last position beyond the end is cut to the end.
    tail = get(f"bytes={size - 10}-{size + 10**30}")
    assert tail.status_code == 206 and tail.data == data[-10:]
    assert tail.headers["Content-Range"] == f"bytes {size - 10}-{size - 1}/{size}"
    # Several ranges: this server may ignore the header (§14.2) and does, answering the whole file.
    for several in ("bytes=0-1,3-4", "bytes=0-1, -5", "bytes=0-1,1000000000-"):
        full = get(several)
        assert full.status_code == 200 and full.data == data and "Content-Range" not in full.headers, several
    # Units other than bytes, and malformed ranges, are ignored: the whole file.
    for ignored in ("items=0-1", "bytes=1-0", "bytes=abc", "bytes=²-5", "bytes=0-1-2", "bytes=", "bytes",
                    "bytes=--1", "bytes=1"):
        full = get(ignored)
        assert full.status_code == 200 and full.data == data, ignored
    # No satisfiable range: 416 with the size, for a zero-length suffix too.
    for unsatisfiable in ("bytes=-0", "bytes=-000", f"bytes={size}-", f"bytes={size}-{size + 5}",
                          f"bytes={10**30}-", "bytes=" + "9" * 5000 + "-"):
        refused = get(unsatisfiable)
        assert refused.status_code == 416, unsatisfiable
        assert refused.headers["Content-Range"] == f"bytes */{size}"
    # The unit and the spaces around a range are matched as the RFC's grammar allows.
    spaced = get("Bytes= 100-199 ")
    assert spaced.status_code == 206 and spaced.data == data[100:200]
    # If-Range with the strong ETag keeps the range; a weak or other validator means the whole file.
    etag = f'"{material["sha256"]}"'
    kept = client.get(url, headers={**auth("collector"), "Range": "bytes=0-9", "If-Range": etag})
    assert kept.status_code == 206 and kept.data == data[:10]
    for validator in (f"W/{etag}", '"other"'):
        full = client.get(url, headers={**auth("collector"), "Range": "bytes=0-9", "If-Range": validator})
        assert full.status_code == 200 and full.data == data, validator


def test_access_levels(client, auth, upload, media_samples):
    material = upload(media_samples("tone.ogg")).get_json()
    url = f"/api/v1/materials/{material['id']}"
    assert material["access_level"] == "restricted"
    assert_error(client.get(url, headers=auth("other_collector")), 404)
    assert_error(client.get(url + "/content", headers=auth("other_collector")), 404)
    assert client.get(url, headers=auth("editor")).status_code == 200
    assert_error(client.patch(url, json={"access_level": "open"}, headers=if_match(client, url, auth("collector"))), 403,
                 "access_level_forbidden")
    assert_error(client.patch(url, json={"access_level": "open"}, headers=if_match(client, url, auth("editor"))), 403)
    opened = client.patch(url, json={"access_level": "open"}, headers=if_match(client, url, auth("archivist")))
    assert opened.status_code == 200 and opened.get_json()["access_level"] == "open"
    assert client.get(url, headers=auth("other_collector")).status_code == 200
    embargoed = client.patch(url, json={"embargo_until": "2099-01-01"}, headers=if_match(client, url, auth("archivist")))
    assert embargoed.status_code == 200
    assert_error(client.get(url + "/content?variant=proxy", headers=auth("other_collector")), 404)
    assert client.get(url, headers=auth("collector")).status_code == 200, "the collector keeps their own upload"
    listing = client.get("/api/v1/materials", headers=auth("other_collector")).get_json()
    assert listing["total"] == 0


def test_metadata_edit_with_if_match(client, auth, upload, media_samples):
    material = upload(media_samples("tone.aac")).get_json()
    url = f"/api/v1/materials/{material['id']}"
    etag = client.get(url, headers=auth("collector")).headers["ETag"]
    ok = client.patch(url, json={"title": "渔歌", "place": "连岛"}, headers={**auth("collector"), "If-Match": etag})
    assert ok.status_code == 200 and ok.get_json()["title"] == "渔歌"
    assert_error(client.patch(url, json={"title": "旧"}, headers={**auth("editor"), "If-Match": etag}), 412)
    assert_error(client.patch(url, json={"sha256": "0" * 64}, headers=auth("collector")), 422)


def test_person_links_both_ways(client, auth, upload, media_samples):
    person = make_person(client, auth("collector"), name="刘师傅")
    material = upload(media_samples("tone.flac")).get_json()
    linked = client.post(f"/api/v1/materials/{material['id']}/persons", json={"person_id": person["id"],
                                                                          "role": "donor"}, headers=auth("collector"))
    assert linked.status_code == 200 and linked.get_json()["person_ids"] == [person["id"]]
    persons = client.get(f"/api/v1/materials/{material['id']}/persons", headers=auth("collector")).get_json()
    assert persons == [{"person_id": person["id"], "name": "刘师傅", "category": "good_person", "role": "donor"}]
    of_person = client.get(f"/api/v1/persons/{person['id']}/materials", headers=auth("collector")).get_json()
    assert [m["id"] for m in of_person["items"]] == [material["id"]]
    assert_error(client.post(f"/api/v1/materials/{material['id']}/persons", json={"person_id": person["id"],
                                                                              "role": "hero"},
                             headers=auth("collector")), 422)
    removed = client.delete(f"/api/v1/materials/{material['id']}/persons/{person['id']}", headers=auth("collector"))
    assert removed.status_code == 200 and removed.get_json()["person_ids"] == []


def test_interviews(client, auth, upload, media_samples):
    person = make_person(client, auth("collector"), name="张大爷")
    consent = upload(media_samples("three_pages.pdf")).get_json()
    created = client.post("/api/v1/interviews", json={
        "title": "渔村记忆", "date": "2026-05", "place": "连云区连岛", "interviewers": ["王芳", "李明"],
        "interviewee_ids": [person["id"]], "language": "海州方言", "consent_material_id": consent["id"],
        "notes": "第一次上门"}, headers=auth("collector"))
    assert created.status_code == 201, created.get_json()
    interview = created.get_json()
    assert interview["interviewee_ids"] == [person["id"]] and interview["interviewers"] == ["王芳", "李明"]
    recording = upload(media_samples("tone.wav"), interview_id=interview["id"], person_id=person["id"]).get_json()
    assert recording["interview_id"] == interview["id"]
    links = client.get(f"/api/v1/materials/{recording['id']}/persons", headers=auth("collector")).get_json()
    assert links[0]["role"] == "interviewee"
    assert_error(client.get(f"/api/v1/interviews/{interview['id']}", headers=auth("other_collector")), 404)
    assert_error(upload(media_samples("tone.mp3"), role="other_collector", interview_id=interview["id"]), 422,
                 "unknown_interview")
    assert_error(client.delete(f"/api/v1/interviews/{interview['id']}", headers=auth("collector")), 409,
                 "interview_has_materials")
    assert_error(client.post("/api/v1/interviews", json={"interviewee_ids": [99999]}, headers=auth("collector")),
                 422, "unknown_person")
    listing = client.get(f"/api/v1/interviews?person_id={person['id']}", headers=auth("editor")).get_json()
    assert listing["total"] == 1


def test_processing_job_is_visible(client, auth, upload, media_samples, app):
    from backend.extensions import db
    from backend.models import Job

    material = upload(media_samples("tone.wav")).get_json()
    with app.app_context():
        job = db.session.query(Job).filter_by(material_id=material["id"], kind="process_material").one()
        job_id = job.id
    body = client.get(f"/api/v1/jobs/{job_id}", headers=auth("collector")).get_json()
    assert body["status"] == "succeeded" and body["progress"] == 100 and body["attempts"] == 1
    assert_error(client.get(f"/api/v1/jobs/{job_id}", headers=auth("other_collector")), 404)
    assert_error(client.post(f"/api/v1/jobs/{job_id}/cancel", headers=auth("editor")), 409, "job_finished")


def test_fixity_check_finds_tampering_and_loss(client, auth, upload, media_samples, app, runner):
    good = upload(media_samples("tone.wav")).get_json()
    bad = upload(media_samples("tone.mp3")).get_json()
    gone = upload(media_samples("tone.flac")).get_json()
    root = Path(app.config["STORAGE_URL"])
    key = lambda sha: root / "originals" / sha[:2] / sha[2:4] / sha  # noqa: E731
    tampered = key(bad["sha256"])
    tampered.write_bytes(tampered.read_bytes()[:-1] + b"\x00")
    key(gone["sha256"]).unlink()
    result = runner.invoke(args=["fixity", "check"])
    assert result.exit_code == 1
    assert "MISMATCH\tmaterial " + str(bad["id"]) in result.output
    assert "MISSING\tmaterial " + str(gone["id"]) in result.output
    assert "checked 3 originals: 1 ok, 2 with problems" in result.output
    history = client.get(f"/api/v1/materials/{good['id']}/fixity", headers=auth("archivist")).get_json()
    assert history[0]["outcome"] == "ok"
    assert_error(client.get(f"/api/v1/materials/{good['id']}/fixity", headers=auth("collector")), 403)

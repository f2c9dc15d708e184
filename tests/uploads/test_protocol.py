"""tus protocol behaviour through the Flask test client: every status code a phone app is written against."""

from __future__ import annotations

import base64
import fcntl
import io
import os
import subprocess
import sys
import threading
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from backend.extensions import db
from backend.models import Upload
from backend.models.types import utcnow
from backend import transaction
from backend.services import uploads as upload_service
from tests.api.helpers import assert_error, make_person
from tests.uploads.conftest import CHUNK, TUS, checksum, make_pdf, sha256_hex

pytestmark = pytest.mark.both_databases  # insert-unless-known per dialect, conditional UPDATEs, expiry in SQL

URL = "/api/v1/uploads"


def location(response) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 201, (response.status_code, response.get_data(as_text=True))
    return response.headers["Location"]


def patch(client, tus, url, offset, data, role="collector", **extra):  # type: ignore[no-untyped-def]
    return client.patch(url, data=data, headers={**tus(role, Upload_Offset=str(offset), **extra), **CHUNK})


def head_offset(client, tus, url, role="collector") -> int:  # type: ignore[no-untyped-def]
    response = client.head(url, headers=tus(role))
    assert response.status_code == 200, response.status_code
    return int(response.headers["Upload-Offset"])


def assert_head(response, status: int) -> None:  # type: ignore[no-untyped-def]
    """HEAD answers carry no body: the status and the tus header are what a client sees."""
    assert response.status_code == status, response.status_code
    assert response.headers["Tus-Resumable"] == "1.0.0"


def send_in_chunks(client, tus, url, data: bytes, size: int):  # type: ignore[no-untyped-def]
    response = None
    for start in range(0, len(data), size):
        response = patch(client, tus, url, start, data[start:start + size],
                         Upload_Checksum=checksum(data[start:start + size], "sha256"))
        assert response.status_code == 204, response.get_data(as_text=True)
        assert response.headers["Upload-Offset"] == str(min(start + size, len(data)))
    return response


# --- discovery and creation -------------------------------------------------------------------------------------

def test_options_advertises_the_server_capabilities(client):
    response = client.options(URL)
    assert response.status_code == 204
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert response.headers["Tus-Version"] == "1.0.0"
    extensions = set(response.headers["Tus-Extension"].split(","))
    assert {"creation", "creation-with-upload", "termination", "checksum", "expiration"} <= extensions
    assert int(response.headers["Tus-Max-Size"]) == 8 * 1024**3
    assert {"sha1", "sha256"} <= set(response.headers["Tus-Checksum-Algorithm"].split(","))


def test_creation_answers_location_and_expiry(client, create, tus):
    data = make_pdf(5000)
    response = create(data, title="渔村往事")
    url = location(response)
    assert url.startswith(URL + "/") and len(url.rsplit("/", 1)[1]) == 32
    assert response.headers["Tus-Resumable"] == "1.0.0"
    expires = parsedate_to_datetime(response.headers["Upload-Expires"])
    assert response.headers["Upload-Expires"].endswith(" GMT")
    assert timedelta(hours=71) < expires - utcnow() <= timedelta(hours=72)

    head = client.head(url, headers=tus())
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == "0" and head.headers["Upload-Length"] == "5000"
    assert head.headers["Cache-Control"] == "no-store"
    pairs = dict(pair.split(" ") for pair in head.headers["Upload-Metadata"].split(","))
    assert base64.b64decode(pairs["title"]).decode() == "渔村往事"


def test_a_whole_upload_becomes_a_material_and_a_repeat_is_a_duplicate(client, create, tus, upload_dir, auth):
    data = make_pdf(300_000)
    url = location(create(data, title="老码头"))
    final = send_in_chunks(client, tus, url, data, 100_000)
    material_id = int(final.headers["Liufang-Material-Id"])
    assert final.headers["Liufang-Duplicate"] == "false"
    assert "Upload-Expires" not in final.headers

    status = client.get(url, headers=auth("collector")).get_json()
    assert status["status"] == "completed" and status["offset"] == status["length"] == 300_000
    assert status["material_id"] == material_id and status["duplicate"] is False
    assert status["metadata"]["title"] == "老码头"
    material = client.get(f"/api/v1/materials/{material_id}", headers=auth("collector")).get_json()
    assert material["sha256"] == sha256_hex(data)
    assert not any(name.startswith(url.rsplit("/", 1)[1]) and not name.endswith(".lock")
                   for name in os.listdir(upload_dir)), "partial bytes must be gone once ingested"
    assert head_offset(client, tus, url) == 300_000

    again = location(create(data))
    final = patch(client, tus, again, 0, data)
    assert final.status_code == 204
    assert final.headers["Liufang-Material-Id"] == str(material_id)
    assert final.headers["Liufang-Duplicate"] == "true"
    assert client.get(again, headers=auth("collector")).get_json()["duplicate"] is True


def test_bytes_of_another_collectors_restricted_material_become_the_uploaders_own(client, create, tus, auth):
    """The repeat of someone else's file that the uploader may not see is no duplicate to them: they get a
    material of their own, nothing of the other's, and their person is not linked to it."""
    data = make_pdf(5000, seed=9)
    owner_person = make_person(client, auth("collector"), name="档案主人")
    first = patch(client, tus, location(create(data, person_id=owner_person["id"], title="别人的私事")), 0, data)
    theirs = int(first.headers["Liufang-Material-Id"])

    uploader_person = make_person(client, auth("other_collector"), name="上传人的档案")
    url = location(create(data, role="other_collector", person_id=uploader_person["id"], title="我的文件"))
    final = patch(client, tus, url, 0, data, role="other_collector")
    assert final.status_code == 204 and final.headers["Liufang-Duplicate"] == "false"
    mine = int(final.headers["Liufang-Material-Id"])
    assert mine != theirs
    status = client.get(url, headers=auth("other_collector")).get_json()
    assert status["duplicate"] is False and status["material_id"] == mine
    material = client.get(f"/api/v1/materials/{mine}", headers=auth("other_collector")).get_json()
    assert material["title"] == "我的文件" and material["person_ids"] == [uploader_person["id"]]
    other = client.get(f"/api/v1/materials/{theirs}", headers=auth("admin")).get_json()
    assert other["person_ids"] == [owner_person["id"]] and other["title"] == "别人的私事"
    assert_error(client.get(f"/api/v1/materials/{theirs}", headers=auth("other_collector")), 404)


def test_retrying_the_final_patch_after_a_lost_answer_repeats_the_result(client, create, tus):
    data = make_pdf(4000)
    url = location(create(data))
    first = patch(client, tus, url, 0, data)
    retry = patch(client, tus, url, 4000, b"")
    assert retry.status_code == 204
    assert retry.headers["Liufang-Material-Id"] == first.headers["Liufang-Material-Id"]
    stale = patch(client, tus, url, 0, data)
    assert_error(stale, 409, "offset_mismatch")


def test_creation_with_upload_takes_the_first_chunk(client, create, tus):
    data = make_pdf(10_000)
    response = create(data, body=data[:4000])
    url = location(response)
    assert response.headers["Upload-Offset"] == "4000"
    assert head_offset(client, tus, url) == 4000
    assert patch(client, tus, url, 4000, data[4000:]).status_code == 204


def test_creation_with_upload_of_the_whole_file(client, create):
    data = make_pdf(3000)
    response = create(data, body=data)
    assert response.status_code == 201
    assert response.headers["Upload-Offset"] == "3000"
    assert response.headers["Liufang-Duplicate"] == "false"


def test_a_whole_file_refused_at_creation_is_kept_as_a_failed_upload(client, create, auth, upload_dir):
    """The POST's own unit of work is rolled back, and the failed upload is recorded after it, so the phone can
    read why at the Location it was given."""
    elf = b"\x7fELF\x02\x01\x01" + bytes(9) + os.urandom(3000)
    response = create(elf, body=elf, filename="采访.mp4", filetype="video/mp4")
    assert_error(response, 415)
    status = client.get(response.headers["Location"], headers=auth("collector")).get_json()
    assert status["status"] == "failed" and status["failure_reason"] and status["material_id"] is None
    assert not (upload_dir / response.headers["Location"].rsplit("/", 1)[1]).exists()


# --- refusals at creation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [None, "0.2.2", "2.0.0"])
def test_missing_or_unsupported_tus_version_is_412(client, auth, create, tus, version):
    url = location(create(make_pdf(2000)))
    headers = {**auth("collector"), **({"Tus-Resumable": version} if version else {})}
    for response in (client.post(URL, headers={**headers, "Upload-Length": "10"}),
                     client.patch(url, data=b"x", headers={**headers, **CHUNK, "Upload-Offset": "0"}),
                     client.head(url, headers=headers),
                     client.delete(url, headers=headers)):
        assert response.status_code == 412
        assert response.headers["Tus-Version"] == "1.0.0"
        assert response.headers["Tus-Resumable"] == "1.0.0"
    assert head_offset(client, tus, url) == 0


def test_upload_larger_than_the_maximum_is_413(app, client, create):
    app.config["TUS_MAX_SIZE"] = 1000
    response = create(1001)
    assert_error(response, 413, "upload_too_large")
    assert response.headers["Tus-Max-Size"] == "1000"
    assert client.options(URL).headers["Tus-Max-Size"] == "1000"


def test_zero_byte_upload_is_refused_at_creation(app, client, create, upload_dir):
    assert_error(create(0), 400, "empty_upload")
    with app.app_context():
        assert db.session.query(Upload).count() == 0
    assert os.listdir(upload_dir) == []


@pytest.mark.parametrize("header, key", [
    ("filename " + base64.b64encode("采访.mp4".encode("gbk")).decode(), "filename"),  # GBK, not UTF-8
    ("title @@not-base64@@", "title"),
    ("title 5pc=", "title"),  # valid base64 of a truncated UTF-8 sequence (first two bytes of 日)
])
def test_bad_metadata_is_a_clear_400(client, tus, header, key):
    response = client.post(URL, headers=tus(Upload_Length="100", Upload_Metadata=header))
    error = assert_error(response, 400, "invalid_metadata")
    assert error["details"]["key"] == key
    assert response.headers["Tus-Resumable"] == "1.0.0"


def test_missing_or_malformed_length_is_400(client, tus):
    assert_error(client.post(URL, headers=tus()), 400, "missing_header")
    assert_error(client.post(URL, headers=tus(Upload_Length="-5")), 400, "invalid_header")
    assert_error(client.post(URL, headers=tus(Upload_Defer_Length="1")), 400, "defer_length_unsupported")


@pytest.mark.parametrize("value", ["1²", "²", "٣", "1 2", "+5", "0x10", "1e3", "99999999999999999999999"])
def test_lengths_and_offsets_are_ascii_digits_only(client, create, tus, upload_dir, value):
    """``str.isdigit()`` takes superscripts and other scripts' digits, which ``int()`` then refuses or reads as
    another number: tus headers are ASCII digits (and fit 64 bits), anything else is a 400."""
    error = assert_error(client.post(URL, headers=tus(Upload_Length=value)), 400, "invalid_header")
    assert error["details"]["header"] == "Upload-Length"
    assert os.listdir(upload_dir) == []
    data = make_pdf(3000)
    url = location(create(data))
    error = assert_error(patch(client, tus, url, value, data[:100]), 400, "invalid_header")
    assert error["details"]["header"] == "Upload-Offset"
    assert head_offset(client, tus, url) == 0
    assert patch(client, tus, url, 0, data).status_code == 204


def test_unknown_person_or_interview_is_422_before_any_byte(app, client, create, auth, upload_dir):
    assert create(1000, person_id=999_999).status_code == 422
    assert create(1000, interview_id=999_999).status_code == 422
    # Another collector's draft profile is invisible to this collector: same answer.
    person = make_person(client, auth("other_collector"), name="李四")
    assert create(1000, person_id=person["id"]).status_code == 422
    assert create(1000, latitude="91").status_code == 422
    assert create(1000, sha256="not-hex").status_code == 422
    with app.app_context():
        assert db.session.query(Upload).count() == 0
    assert os.listdir(upload_dir) == []
    mine = make_person(client, auth("collector"), name="王五")
    data = make_pdf(2000)
    url = location(create(data, person_id=mine["id"]))
    assert client.get(url, headers=auth("collector")).get_json()["metadata"]["person_id"] == mine["id"]


def test_a_path_in_the_filename_is_only_a_label(app, client, create, tus, auth, upload_dir, tmp_path):
    data = make_pdf(2500)
    url = location(create(data, filename="../../etc/passwd"))
    upload_id = url.rsplit("/", 1)[1]
    assert sorted(os.listdir(upload_dir)) == [upload_id]
    metadata = client.get(url, headers=auth("collector")).get_json()["metadata"]
    assert "/" not in metadata["filename"] and ".." not in metadata["filename"]
    assert patch(client, tus, url, 0, data).status_code == 204
    assert not (upload_dir.parent.parent / "etc").exists()
    assert b"root:" in Path("/etc/passwd").read_bytes()


# --- appending --------------------------------------------------------------------------------------------------

def test_offset_mismatch_is_409_and_writes_nothing(client, create, tus):
    data = make_pdf(6000)
    url = location(create(data))
    assert patch(client, tus, url, 0, data[:1000]).status_code == 204
    for wrong in (0, 999, 1001, 5000):
        response = patch(client, tus, url, wrong, data[wrong:wrong + 500])
        assert_error(response, 409, "offset_mismatch")
        assert response.headers["Upload-Offset"] == "1000"
    assert head_offset(client, tus, url) == 1000
    assert patch(client, tus, url, 1000, data[1000:]).status_code == 204


def test_chunk_beyond_the_declared_length_is_413(client, create, tus):
    data = make_pdf(3000)
    url = location(create(data))
    assert_error(patch(client, tus, url, 0, data + b"extra"), 413, "chunk_exceeds_length")
    assert head_offset(client, tus, url) == 0


def test_chunk_must_be_offset_octet_stream(client, create, tus):
    url = location(create(make_pdf(3000)))
    response = client.patch(url, data=b"abc", headers={**tus(Upload_Offset="0"), "Content-Type": "text/plain"})
    assert_error(response, 415)
    response = client.patch(url, json={"a": 1}, headers=tus(Upload_Offset="0"))
    assert_error(response, 415)


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "md5"])
def test_checksum_mismatch_is_460_and_the_chunk_is_discarded(client, create, tus, algorithm):
    data = make_pdf(8000)
    url = location(create(data))
    assert patch(client, tus, url, 0, data[:3000], Upload_Checksum=checksum(data[:3000], algorithm)).status_code == 204
    damaged = data[3000:6000][:-1] + b"\x00"
    response = patch(client, tus, url, 3000, damaged, Upload_Checksum=checksum(data[3000:6000], algorithm))
    assert_error(response, 460, "checksum_mismatch")
    assert response.headers["Tus-Resumable"] == "1.0.0"
    assert head_offset(client, tus, url) == 3000
    final = patch(client, tus, url, 3000, data[3000:], Upload_Checksum=checksum(data[3000:], algorithm))
    assert final.status_code == 204 and final.headers["Liufang-Duplicate"] == "false"


def test_unsupported_or_malformed_checksum_is_400(client, create, tus):
    url = location(create(make_pdf(3000)))
    assert_error(patch(client, tus, url, 0, b"abc", Upload_Checksum="crc32 AAAA"), 400,
                 "unsupported_checksum_algorithm")
    assert_error(patch(client, tus, url, 0, b"abc", Upload_Checksum="sha1 short"), 400, "invalid_checksum")
    assert head_offset(client, tus, url) == 0


class CutOffStream(io.RawIOBase):
    """A request body whose client vanishes after ``limit`` bytes (as the WSGI server reports it)."""

    def __init__(self, data: bytes, limit: int) -> None:
        self.data, self.limit, self.pos = data, limit, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else len(self.data) + offset if whence == 2 else self.pos + offset
        return self.pos

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        if self.pos >= self.limit:
            raise ConnectionResetError("client went away")
        block = self.data[self.pos:min(self.pos + len(buffer), self.limit)]
        buffer[:len(block)] = block
        self.pos += len(block)
        return len(block)


def test_a_cut_off_chunk_keeps_the_bytes_received(client, create, tus):
    data = make_pdf(20_000)
    url = location(create(data))
    body = data[:12_000]
    headers = {**tus(Upload_Offset="0"), **CHUNK, "Content-Length": str(len(body))}
    response = client.patch(url, input_stream=CutOffStream(body, 7000), headers=headers)
    assert response.status_code == 400
    assert head_offset(client, tus, url) == 7000
    final = patch(client, tus, url, 7000, data[7000:])
    assert final.status_code == 204 and final.headers["Liufang-Duplicate"] == "false"


def test_a_cut_off_chunk_with_a_checksum_is_discarded(client, create, tus):
    data = make_pdf(20_000)
    url = location(create(data))
    body = data[:12_000]
    headers = {**tus(Upload_Offset="0", Upload_Checksum=checksum(body)), **CHUNK, "Content-Length": str(len(body))}
    client.patch(url, input_stream=CutOffStream(body, 7000), headers=headers)
    assert head_offset(client, tus, url) == 0


def forget_digests(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        upload_service.upload_store()._digests.clear()


def test_hash_is_rebuilt_when_another_process_takes_the_next_chunk(client, create, tus, auth):
    data = make_pdf(50_000)
    url = location(create(data))
    assert patch(client, tus, url, 0, data[:20_000]).status_code == 204
    forget_digests(client.application)  # as if a different gunicorn worker (or a restarted server) got the next PATCH
    assert patch(client, tus, url, 20_000, data[20_000:35_000]).status_code == 204
    forget_digests(client.application)
    final = patch(client, tus, url, 35_000, data[35_000:])
    assert final.status_code == 204
    material = client.get(f"/api/v1/materials/{final.headers['Liufang-Material-Id']}", headers=auth("collector"))
    assert material.get_json()["sha256"] == sha256_hex(data)


def test_bytes_written_after_the_last_fsync_are_not_reported(client, create, tus, upload_dir, auth):
    data = make_pdf(30_000)
    url = location(create(data))
    assert patch(client, tus, url, 0, data[:10_000]).status_code == 204
    upload_id = url.rsplit("/", 1)[1]
    with open(upload_dir / upload_id, "ab") as fh:  # a write the server was killed in the middle of
        fh.write(b"\xff" * 4321)
    assert head_offset(client, tus, url) == 10_000
    forget_digests(client.application)
    final = patch(client, tus, url, 10_000, data[10_000:])
    assert final.status_code == 204
    material = client.get(f"/api/v1/materials/{final.headers['Liufang-Material-Id']}", headers=auth("collector"))
    assert material.get_json()["sha256"] == sha256_hex(data)


class BlockingStream(io.RawIOBase):
    """A slow phone: hands out the first bytes, then waits until told to go on."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0
        self.started, self.go_on = threading.Event(), threading.Event()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # the test client measures the body by seeking
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset if whence == 0 else len(self.data) + offset if whence == 2 else self.pos + offset
        return self.pos

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        if self.pos > 0:
            self.started.set()
            assert self.go_on.wait(30)
        block = self.data[self.pos:self.pos + min(len(buffer), 1000)]
        buffer[:len(block)] = block
        self.pos += len(block)
        return len(block)


def test_a_second_concurrent_patch_is_refused_and_does_not_corrupt(app, client, create, tus, auth):
    data = make_pdf(40_000)
    url = location(create(data))
    slow = BlockingStream(data[:30_000])
    results: list[int] = []
    headers = {**tus(Upload_Offset="0"), **CHUNK, "Content-Length": "30000"}
    worker = threading.Thread(target=lambda: results.append(
        app.test_client().patch(url, input_stream=slow, headers=headers).status_code))
    worker.start()
    assert slow.started.wait(30)
    second = patch(client, tus, url, 0, data[:30_000])
    assert_error(second, 423, "upload_busy")
    assert_error(client.delete(url, headers=tus()), 423, "upload_busy")
    slow.go_on.set()
    worker.join(30)
    assert results == [204]
    final = patch(client, tus, url, 30_000, data[30_000:])
    assert final.status_code == 204
    material = client.get(f"/api/v1/materials/{final.headers['Liufang-Material-Id']}", headers=auth("collector"))
    assert material.get_json()["sha256"] == sha256_hex(data)


def test_the_lock_holds_across_processes(client, create, tus, upload_dir):
    data = make_pdf(5000)
    url = location(create(data))
    lock_path = upload_dir / (url.rsplit("/", 1)[1] + ".lock")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys\n"
        f"fd = os.open({str(lock_path)!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\nprint('locked', flush=True)\nsys.stdin.readline()\n")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert_error(patch(client, tus, url, 0, data), 423, "upload_busy")
    finally:
        holder.communicate("\n", timeout=10)
    assert patch(client, tus, url, 0, data).status_code == 204
    assert fcntl  # flock is the mechanism under test


# --- the end of the upload --------------------------------------------------------------------------------------

def test_whole_file_sha256_mismatch_fails_the_upload_and_deletes_the_bytes(client, create, tus, auth, upload_dir):
    data = make_pdf(9000)
    url = location(create(data, sha256=sha256_hex(b"something else")))
    assert patch(client, tus, url, 0, data[:5000]).status_code == 204
    response = patch(client, tus, url, 5000, data[5000:])
    error = assert_error(response, 460, "sha256_mismatch")
    assert error["details"]["received"] == sha256_hex(data)
    status = client.get(url, headers=auth("collector")).get_json()
    assert status["status"] == "failed" and "SHA-256" in status["failure_reason"]
    assert status["material_id"] is None
    assert not (upload_dir / url.rsplit("/", 1)[1]).exists()
    assert_head(client.head(url, headers=tus()), 410)
    assert_error(patch(client, tus, url, 9000, b""), 410, "upload_gone")
    listing = client.get(f"/api/v1/materials?sha256={sha256_hex(data)}", headers=auth("collector")).get_json()
    assert listing["total"] == 0


def test_an_executable_named_mp4_is_415_and_the_upload_fails(client, create, tus, auth, upload_dir):
    elf = b"\x7fELF\x02\x01\x01" + bytes(9) + os.urandom(4000)
    url = location(create(elf, filename="采访.mp4", filetype="video/mp4"))
    response = patch(client, tus, url, 0, elf)
    assert_error(response, 415)
    assert response.headers["Tus-Resumable"] == "1.0.0"
    status = client.get(url, headers=auth("collector")).get_json()
    assert status["status"] == "failed" and status["failure_reason"]
    assert not (upload_dir / url.rsplit("/", 1)[1]).exists()


# --- termination, expiry, ownership -----------------------------------------------------------------------------

def test_termination_deletes_the_bytes(client, create, tus, auth, upload_dir):
    data = make_pdf(4000)
    url = location(create(data))
    assert patch(client, tus, url, 0, data[:1000]).status_code == 204
    assert client.delete(url, headers=tus()).status_code == 204
    assert not (upload_dir / url.rsplit("/", 1)[1]).exists()
    assert_head(client.head(url, headers=tus()), 410)
    assert_error(patch(client, tus, url, 1000, data[1000:]), 410, "upload_gone")
    assert client.get(url, headers=auth("collector")).get_json()["status"] == "terminated"
    done = location(create(make_pdf(2000, seed=7)))
    assert patch(client, tus, done, 0, make_pdf(2000, seed=7)).status_code == 204
    assert_error(client.delete(done, headers=tus()), 409, "upload_completed")


def test_idle_uploads_expire_and_the_purge_deletes_their_bytes(app, client, create, tus, auth, upload_dir):
    data = make_pdf(4000)
    idle = location(create(data))
    active = location(create(make_pdf(4000, seed=2)))
    assert patch(client, tus, idle, 0, data[:1000]).status_code == 204
    with app.app_context():
        upload = db.session.get(Upload, idle.rsplit("/", 1)[1])
        upload.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        with transaction.atomic():  # the periodic task's unit of work
            assert upload_service.purge_expired_uploads() == 1
        with transaction.atomic():
            assert upload_service.purge_expired_uploads() == 0
    assert not (upload_dir / idle.rsplit("/", 1)[1]).exists()
    assert (upload_dir / active.rsplit("/", 1)[1]).exists()
    assert client.get(idle, headers=auth("collector")).get_json()["status"] == "expired"
    assert_head(client.head(idle, headers=tus()), 410)
    assert_error(patch(client, tus, idle, 1000, data[1000:]), 410, "upload_gone")
    assert head_offset(client, tus, active) == 0


def test_an_idle_upload_is_gone_even_before_the_purge_runs(app, client, create, tus):
    app.config["TUS_EXPIRE"] = timedelta(seconds=-1)
    data = make_pdf(3000)
    url = location(create(data))
    assert_error(patch(client, tus, url, 0, data), 410, "upload_gone")


def test_each_chunk_pushes_the_expiry_back(app, client, create, tus):
    data = make_pdf(3000)
    url = location(create(data))
    app.config["TUS_EXPIRE"] = timedelta(hours=200)
    response = patch(client, tus, url, 0, data[:100])
    assert parsedate_to_datetime(response.headers["Upload-Expires"]) - utcnow() > timedelta(hours=199)


def test_a_steady_upload_records_its_progress_at_most_once_a_minute(app, client, create, tus, auth):
    """Quick chunks in a row answer the recorded expiry and do not write the row each time; the offset the phone
    sees is always the true one, and the row catches up once a minute has passed."""
    data = make_pdf(6000)
    url = location(create(data))
    upload_id = url.rsplit("/", 1)[1]
    first = patch(client, tus, url, 0, data[:1000])
    second = patch(client, tus, url, 1000, data[1000:2000])
    assert second.headers["Upload-Offset"] == "2000"
    assert second.headers["Upload-Expires"] == first.headers["Upload-Expires"]
    assert client.get(url, headers=auth("collector")).get_json()["offset"] == 2000
    assert head_offset(client, tus, url) == 2000
    with app.app_context():
        row = db.session.get(Upload, upload_id)
        assert row.offset == 0  # not written for each chunk: the on-disk marker holds the offset
        recorded = row.expires_at
        assert parsedate_to_datetime(second.headers["Upload-Expires"]) == recorded.replace(microsecond=0)
        row.expires_at = recorded - timedelta(minutes=2)  # as if the last record were two minutes old
        db.session.commit()
    third = patch(client, tus, url, 2000, data[2000:3000])
    with app.app_context():
        row = db.session.get(Upload, upload_id)
        assert row.offset == 3000 and row.expires_at >= recorded
        assert parsedate_to_datetime(third.headers["Upload-Expires"]) == row.expires_at.replace(microsecond=0)


def test_the_purge_is_a_periodic_task(app):
    assert "purge_expired_uploads" in app.extensions["liufang_queue"].task_names


@pytest.mark.parametrize("role", ["other_collector", "editor", "archivist", "admin"])
def test_an_upload_belongs_to_its_creator(client, create, tus, auth, role):
    data = make_pdf(3000)
    url = location(create(data))
    assert_head(client.head(url, headers=tus(role)), 404)
    assert_error(patch(client, tus, url, 0, data, role=role), 404, "upload_not_found")
    assert_error(client.delete(url, headers=tus(role)), 404, "upload_not_found")
    assert_error(client.get(url, headers=auth(role)), 404, "upload_not_found")
    assert head_offset(client, tus, url) == 0
    assert_error(client.get(URL + "/" + "0" * 32, headers=auth("collector")), 404, "upload_not_found")
    assert_error(client.get(URL + "/not-an-id", headers=auth("collector")), 404, "upload_not_found")


def test_anonymous_requests_are_401_with_tus_headers(client, create):
    url = location(create(make_pdf(2000)))
    for response in (client.post(URL, headers={**TUS, "Upload-Length": "10"}),
                     client.patch(url, data=b"x", headers={**TUS, **CHUNK, "Upload-Offset": "0"}),
                     client.delete(url, headers=TUS)):
        assert_error(response, 401)
        assert response.headers["Tus-Resumable"] == "1.0.0"


def test_status_view_reports_progress(client, create, tus, auth):
    data = make_pdf(6000)
    url = location(create(data, title="口述"))
    assert patch(client, tus, url, 0, data[:2500]).status_code == 204
    status = client.get(url, headers=auth("collector")).get_json()
    assert status["status"] == "receiving" and status["offset"] == 2500 and status["length"] == 6000
    assert status["expires_at"] and status["failure_reason"] is None and status["material_id"] is None
    assert status["id"] == url.rsplit("/", 1)[1]


def test_answers_are_as_the_openapi_document_says(client, create, tus, auth):
    """Found by the fuzz pass: the tus operations documented nothing but the error shape, so every answer broke
    the document (a JSON status read as an error, empty answers typed text/html)."""
    spec = client.get("/api/openapi.json").get_json()
    item = spec["paths"]["/api/v1/uploads/{upload_id}"]
    assert set(item["patch"]["responses"]) >= {"204", "400", "404", "409", "410", "413", "415", "423", "460"}
    assert set(item["head"]["responses"]) >= {"200", "404", "410"} and "204" in item["delete"]["responses"]
    assert "201" in spec["paths"]["/api/v1/uploads"]["post"]["responses"]
    assert spec["paths"]["/api/v1/uploads"]["options"]["security"] == []
    status_schema = item["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/")[-1]
    documented = set(spec["components"]["schemas"][status_schema]["properties"])

    data = make_pdf(3000)
    url = location(create(data))
    assert set(client.get(url, headers=auth("collector")).get_json()) == documented
    for empty in (client.options(URL), patch(client, tus, url, 0, data[:1000]), client.delete(url, headers=tus())):
        assert empty.status_code == 204 and empty.data == b""
        assert "Content-Type" not in empty.headers

"""Real tus clients (tuspy, tus-js-client) against real servers, and uploads cut off and across a kill -9."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
from werkzeug.serving import make_server

from tests.support.gunicorn import Gunicorn
from tests.uploads.conftest import encode_metadata, make_pdf, sha256_hex

pytestmark = pytest.mark.both_databases  # gunicorn workers writing the same upload concurrently, per engine

ROOT = Path(__file__).resolve().parents[2]
NODE_MODULES = ROOT / "bench" / "node_modules"
NPM_INSTALL = ("cd bench && npm install --no-save --no-package-lock tus-js-client @tus/server @tus/file-store")


@pytest.fixture
def live_server(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The test app under Werkzeug's threaded WSGI server on 127.0.0.1."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


def material_sha256(base: str, headers: dict[str, str], material_id: int) -> str:
    response = requests.get(f"{base}/api/v1/materials/{material_id}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["sha256"]


def test_tuspy_uploads_with_checksums_and_resumes_later(live_server, auth, tmp_path):
    from tusclient import client as tus_client

    data = make_pdf(3 * 1024 * 1024 + 12_345, seed=11)
    path = tmp_path / "口述-张大爷.pdf"
    path.write_bytes(data)
    tus = tus_client.TusClient(f"{live_server}/api/v1/uploads", headers=auth("collector"))
    metadata = {"filename": path.name, "filetype": "application/pdf", "sha256": sha256_hex(data), "title": "张大爷"}
    first = tus.uploader(file_path=str(path), chunk_size=512 * 1024, metadata=metadata, upload_checksum=True)
    first.upload(stop_at=1024 * 1024)  # the phone goes out of coverage here
    url = first.url
    assert requests.head(url, headers={**auth("collector"), "Tus-Resumable": "1.0.0"},
                         timeout=10).headers["Upload-Offset"] == str(1024 * 1024)

    later = tus.uploader(file_path=str(path), url=url, chunk_size=768 * 1024, upload_checksum=True)
    assert later.offset == 1024 * 1024
    later.upload()
    status = requests.get(url, headers=auth("collector"), timeout=10).json()
    assert status["status"] == "completed" and status["offset"] == len(data)
    assert status["metadata"]["title"] == "张大爷"
    assert material_sha256(live_server, auth("collector"), status["material_id"]) == sha256_hex(data)


def _node_or_skip() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (apt-get install nodejs)")
    if not (NODE_MODULES / "tus-js-client").is_dir():
        pytest.skip(f"tus-js-client is not installed: {NPM_INSTALL}")
    return node


@pytest.mark.parametrize("mode", ["patch-only", "with-creation-data"])
def test_tus_js_client_uploads_a_file(live_server, auth, tmp_path, mode):
    node = _node_or_skip()
    data = make_pdf(2 * 1024 * 1024 + 777, seed=21)
    path = tmp_path / "interview.pdf"
    path.write_bytes(data)
    token = auth("collector")["Authorization"].removeprefix("Bearer ")
    result = subprocess.run(
        [node, str(Path(__file__).with_name("tus_js_upload.js")), f"{live_server}/api/v1/uploads", token, str(path),
         str(700 * 1024), sha256_hex(data), mode],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["duplicate"] is False
    status = requests.get(outcome["url"], headers=auth("collector"), timeout=10).json()
    assert status["status"] == "completed" and status["material_id"] == outcome["materialId"]
    assert material_sha256(live_server, auth("collector"), outcome["materialId"]) == sha256_hex(data)


# --- a gunicorn server that can be killed (tests.support.gunicorn) ----------------------------------------------

@pytest.fixture
def gunicorn(app, tmp_path) -> Iterator[Gunicorn]:  # type: ignore[no-untyped-def]
    server = Gunicorn(app, tmp_path)
    server.start()
    yield server
    server.stop()


def send_part_of_a_patch(base: str, path: str, token: str, offset: int, body: bytes, sent: int) -> socket.socket:
    """Start a PATCH that declares ``len(body)`` bytes but only send ``sent`` of them; returns the open socket."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    head = (f"PATCH {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    sock.sendall(head.encode("ascii") + body[:sent])
    return sock


def wait_for_offset(base: str, url: str, headers: dict[str, str], expected: int) -> int:
    """HEAD until the server has noticed the cut-off body and made it durable (or time runs out)."""
    deadline = time.monotonic() + 20
    offset = -1
    while time.monotonic() < deadline:
        response = requests.head(base + url, headers={**headers, "Tus-Resumable": "1.0.0"}, timeout=10)
        assert response.status_code == 200, response.status_code
        offset = int(response.headers["Upload-Offset"])
        if offset == expected:
            return offset
        time.sleep(0.1)
    return offset


def test_an_upload_cut_off_repeatedly_and_across_a_kill9_finishes_intact(gunicorn, auth, app):
    data = make_pdf(6 * 1024 * 1024 + 4321, seed=31)
    headers = auth("collector")
    token = headers["Authorization"].removeprefix("Bearer ")
    created = requests.post(f"{gunicorn.base}/api/v1/uploads", headers={
        **headers, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
        "Upload-Metadata": encode_metadata(filename="video.pdf", sha256=sha256_hex(data))}, timeout=10)
    assert created.status_code == 201, created.text
    url = created.headers["Location"]

    offset = 0
    for sent in (300_001, 1_048_577, 77_777):  # the network drops mid-chunk, three times
        sock = send_part_of_a_patch(gunicorn.base, url, token, offset, data[offset:offset + 2 * 1024 * 1024], sent)
        sock.close()
        assert wait_for_offset(gunicorn.base, url, headers, offset + sent) == offset + sent
        offset += sent

    # A chunk is streaming in when the whole server is killed -9; bytes past the last fsync are never reported.
    sock = send_part_of_a_patch(gunicorn.base, url, token, offset, data[offset:offset + 3 * 1024 * 1024], 2_000_000)
    data_file = Path(app.instance_path) / "uploads" / url.rsplit("/", 1)[1]
    deadline = time.monotonic() + 20
    while data_file.stat().st_size < offset + 1_000_000 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert data_file.stat().st_size > offset, "the server should have been writing the chunk"
    gunicorn.kill9()
    sock.close()
    gunicorn.start()
    resumed = requests.head(gunicorn.base + url, headers={**headers, "Tus-Resumable": "1.0.0"}, timeout=10)
    assert resumed.status_code == 200
    assert int(resumed.headers["Upload-Offset"]) == offset

    final = requests.patch(gunicorn.base + url, data=data[offset:], timeout=60, headers={
        **headers, "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
        "Content-Type": "application/offset+octet-stream"})
    assert final.status_code == 204, final.text
    assert final.headers["Liufang-Duplicate"] == "false"
    material_id = int(final.headers["Liufang-Material-Id"])
    assert material_sha256(gunicorn.base, headers, material_id) == sha256_hex(data)
    status = requests.get(gunicorn.base + url, headers=headers, timeout=10).json()
    assert status["status"] == "completed" and status["offset"] == len(data)
    assert not data_file.exists()


def test_parallel_patches_on_two_gunicorn_workers_never_corrupt(gunicorn, auth):
    data = make_pdf(4 * 1024 * 1024, seed=41)
    headers = auth("collector")
    token = headers["Authorization"].removeprefix("Bearer ")
    created = requests.post(f"{gunicorn.base}/api/v1/uploads", headers={
        **headers, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
        "Upload-Metadata": encode_metadata(filename="a.pdf", sha256=sha256_hex(data))}, timeout=10)
    url = created.headers["Location"]
    # One phone's PATCH is slow; a retry of the same chunk from a second connection arrives meanwhile.
    slow = send_part_of_a_patch(gunicorn.base, url, token, 0, data[:2 * 1024 * 1024], 1024 * 1024)
    time.sleep(0.5)
    answers = set()
    for _ in range(6):  # new connections land on either worker process
        response = requests.patch(gunicorn.base + url, data=data[:2 * 1024 * 1024], timeout=30, headers={
            **headers, "Tus-Resumable": "1.0.0", "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream", "Connection": "close"})
        answers.add(response.status_code)
    assert answers == {423}
    slow.sendall(data[1024 * 1024:2 * 1024 * 1024])
    reply = slow.recv(4096).decode("latin-1")
    slow.close()
    assert reply.startswith("HTTP/1.1 204"), reply
    final = requests.patch(gunicorn.base + url, data=data[2 * 1024 * 1024:], timeout=30, headers={
        **headers, "Tus-Resumable": "1.0.0", "Upload-Offset": str(2 * 1024 * 1024),
        "Content-Type": "application/offset+octet-stream"})
    assert final.status_code == 204, final.text
    assert material_sha256(gunicorn.base, headers, int(final.headers["Liufang-Material-Id"])) == sha256_hex(data)

"""Slow and stalled phones under the production server (scripts/gunicorn.conf.py): they take nothing from anyone else.

Many upload bodies left hanging half-sent, a multipart form or a JSON body that stops midway, a database that makes
one request wait: other requests of the same worker are answered all the same, no database transaction stays open
for a body that is still coming, and the stalled uploads finish intact once their phones send the rest. A phone
that goes silent for good is cut off after LIUFANG_UPLOAD_IDLE_SECONDS and resumes from another connection.
"""

from __future__ import annotations

import itertools
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import psycopg
import pytest
import requests
from sqlalchemy.engine import make_url

from tests.support.gunicorn import Gunicorn
from tests.uploads.conftest import encode_metadata, make_pdf, sha256_hex

pytestmark = pytest.mark.both_databases  # what a waiting request holds differs per engine (connections, locks)

STALLED = 40      # the threaded server this replaced had 2 workers × 4 threads: eight such bodies stopped it
ANSWER_WITHIN = 5  # seconds: generous, so a loaded machine passes; the threaded server answered none of these


def _server(app: Any, tmp_path: Path, workers: int) -> Gunicorn:
    server = Gunicorn(app, tmp_path, workers=workers)
    url = make_url(server.env["DATABASE_URL"])
    if url.get_backend_name() == "postgresql":  # name the server's connections, to find them in pg_stat_activity
        server.env["DATABASE_URL"] = url.update_query_dict({"application_name": "slow-clients-test"}).render_as_string(
            hide_password=False)
    return server


@pytest.fixture
def server(app: Any, tmp_path: Path) -> Iterator[Gunicorn]:
    live = _server(app, tmp_path, workers=2)
    live.start()
    yield live
    live.stop()


@pytest.fixture
def one_worker(app: Any, tmp_path: Path) -> Iterator[Gunicorn]:
    live = _server(app, tmp_path, workers=1)
    live.start()
    yield live
    live.stop()


def _open_transactions(app: Any) -> list[str]:
    """On PostgreSQL: the queries of the server's connections that sit inside a transaction (none may, while only
    bodies are arriving). On SQLite: [] (a read holds no lock there; the writes that follow show the file free)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        return []
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        rows = conn.execute("SELECT state, query FROM pg_stat_activity WHERE application_name = 'slow-clients-test'"
                            " AND state LIKE 'idle in transaction%'").fetchall()
    return [f"{state}: {query}" for state, query in rows]


def _raw_request(base: str, head: str, body: bytes) -> socket.socket:
    """Send the request line and headers, then ``body`` (part of what Content-Length announced); the socket stays
    open, as a phone's does when its network stalls."""
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=60)
    sock.sendall(head.encode("ascii") + b"\r\n" + body)
    return sock


def _response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Read one response (headers, and a body of Content-Length bytes) from the socket."""
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        assert more, f"connection closed before an answer: {data!r}"
        data += more
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        more = sock.recv(65536)
        assert more, "connection closed inside an answer"
        body += more
    return int(lines[0].split()[1]), headers, body


def _create(base: str, headers: dict[str, str], data: bytes) -> str:
    created = requests.post(f"{base}/api/v1/uploads", timeout=ANSWER_WITHIN, headers={
        **headers, "Tus-Resumable": "1.0.0", "Upload-Length": str(len(data)),
        "Upload-Metadata": encode_metadata(filename="访谈.pdf", sha256=sha256_hex(data))})
    assert created.status_code == 201, created.text
    return created.headers["Location"]


def _patch_head(base: str, path: str, token: str, length: int) -> str:
    host = base.removeprefix("http://")
    return (f"PATCH {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n"
            f"Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: {length}\r\n")


_small_uploads = itertools.count(1000)


def _cheap_requests_answer(base: str, headers: dict[str, str]) -> None:
    """What other users do meanwhile: the health check, their own account, a small upload from start to end."""
    assert requests.get(f"{base}/api/health", timeout=ANSWER_WITHIN).status_code == 200
    me = requests.get(f"{base}/api/v1/auth/me", headers=headers, timeout=ANSWER_WITHIN)
    assert me.status_code == 200, me.text
    small = make_pdf(256 * 1024, seed=next(_small_uploads))
    path = _create(base, headers, small)
    done = requests.patch(base + path, data=small, timeout=ANSWER_WITHIN, headers={
        **headers, "Tus-Resumable": "1.0.0", "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    assert done.status_code == 204, done.text
    assert done.headers["Upload-Offset"] == str(len(small)) and done.headers["Liufang-Duplicate"] == "false"


def test_many_stalled_upload_bodies_leave_the_server_to_everyone_else_then_finish_intact(server, auth, app):
    headers = auth("collector")
    token = headers["Authorization"].removeprefix("Bearer ")
    files = [make_pdf(300 * 1024 + number, seed=number) for number in range(STALLED)]
    paths = [_create(server.base, headers, data) for data in files]
    # Every phone sends its headers and the first 100 KiB of its file, then its network stalls.
    sockets = [_raw_request(server.base, _patch_head(server.base, path, token, len(data)), data[:100 * 1024])
               for path, data in zip(paths, files)]
    try:
        _cheap_requests_answer(server.base, headers)
        assert _open_transactions(app) == [], "a stalled body must not keep a transaction (and its connection)"
        _cheap_requests_answer(server.base, headers)  # still, after the inspection

        for sock, data in zip(sockets, files):  # the networks come back: the rest of every body arrives
            sock.sendall(data[100 * 1024:])
        answers = [_response(sock) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()

    assert [status for status, _, _ in answers] == [204] * STALLED, [body for _, _, body in answers]
    assert [int(h["upload-offset"]) for _, h, _ in answers] == [len(data) for data in files]
    material_ids = [int(h["liufang-material-id"]) for _, h, _ in answers]
    for material_id, data in zip(material_ids, files):
        material = requests.get(f"{server.base}/api/v1/materials/{material_id}", headers=headers, timeout=30)
        assert material.json()["sha256"] == sha256_hex(data)
    for path in paths:
        assert requests.get(server.base + path, headers=headers, timeout=30).json()["status"] == "completed"


def _multipart(boundary: str, data: bytes) -> bytes:
    return (f"--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\n老照片\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"证书.pdf\"\r\n"
            f"Content-Type: application/pdf\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()


def test_a_stalled_form_upload_and_a_stalled_json_body_hold_no_transaction(server, auth, app):
    headers = auth("collector")
    token = headers["Authorization"].removeprefix("Bearer ")
    host = server.base.removeprefix("http://")
    form = _multipart("liufang-form", make_pdf(400 * 1024, seed=7))
    form_sock = _raw_request(server.base, f"POST /api/v1/materials HTTP/1.1\r\nHost: {host}\r\n"
                             f"Authorization: Bearer {token}\r\nContent-Length: {len(form)}\r\n"
                             "Content-Type: multipart/form-data; boundary=liufang-form\r\n", form[:150 * 1024])
    person = '{"name": "王秀英", "category": "good_person"}'.encode()
    # (with an Idempotency-Key the body is read after the token's user is loaded, whichever way views parse)
    json_sock = _raw_request(server.base, f"POST /api/v1/persons HTTP/1.1\r\nHost: {host}\r\n"
                             f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                             f"Idempotency-Key: phone-1-person-1\r\nContent-Length: {len(person)}\r\n", person[:10])
    try:
        _cheap_requests_answer(server.base, headers)
        assert _open_transactions(app) == []
        form_sock.sendall(form[150 * 1024:])
        json_sock.sendall(person[10:])
        (form_status, _, form_body), (json_status, _, json_body) = _response(form_sock), _response(json_sock)
    finally:
        form_sock.close()
        json_sock.close()
    assert form_status == 201, form_body
    assert json_status == 201, json_body


@contextmanager
def _persons_table_held(app: Any) -> Iterator[None]:
    """Another client holding what creating a person needs: on PostgreSQL an exclusive lock on the table (the
    INSERT waits for PostgreSQL), on SQLite the write lock of the file (the INSERT waits for the file)."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() == "postgresql":
        with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
            conn.execute("LOCK TABLE persons IN ACCESS EXCLUSIVE MODE")
            yield
            conn.rollback()
        return
    conn = sqlite3.connect(url.database, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def _waiting_for_the_lock(app: Any) -> bool:
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        return True  # (nothing to see from outside: the INSERT retries inside the worker)
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(hide_password=False)) as conn:
        return bool(conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                 "'slow-clients-test' AND wait_event_type = 'Lock'").fetchone()[0])


def test_a_request_waiting_for_the_database_does_not_hold_up_its_worker(one_worker, auth, app):
    """One worker process: a request that waits for a lock in the database (psycopg's wait under gevent; SQLite's
    busy wait, done cooperatively) leaves that worker free to answer the next request."""
    headers = auth("collector")
    outcome: dict[str, Any] = {}

    def create_person() -> None:
        outcome["response"] = requests.post(f"{one_worker.base}/api/v1/persons", headers=headers, timeout=60,
                                            json={"name": "李桂兰", "category": "local_worthy"})

    waiting = threading.Thread(target=create_person)
    with _persons_table_held(app):
        waiting.start()
        waiting.join(1)  # time for the request to reach the lock (PostgreSQL shows when it has)
        for _ in range(100):
            if _waiting_for_the_lock(app):
                break
            waiting.join(0.1)
        assert _waiting_for_the_lock(app) and "response" not in outcome
        assert requests.get(f"{one_worker.base}/api/health", timeout=ANSWER_WITHIN).status_code == 200
        me = requests.get(f"{one_worker.base}/api/v1/auth/me", headers=headers, timeout=ANSWER_WITHIN)
        assert me.status_code == 200
        assert "response" not in outcome, "the request should still be waiting for the lock"
    waiting.join(60)
    assert outcome["response"].status_code == 201, outcome["response"].text


@pytest.fixture
def impatient_server(app: Any, tmp_path: Path) -> Iterator[Gunicorn]:
    live = _server(app, tmp_path, workers=2)
    live.env["LIUFANG_UPLOAD_IDLE_SECONDS"] = "1"
    live.start()
    yield live
    live.stop()


def test_a_phone_that_goes_silent_is_cut_off_and_its_upload_resumes_from_another_connection(impatient_server, auth):
    """The phone lost its network mid-chunk and its old connection is never closed (as often on mobile networks):
    once it has been silent for LIUFANG_UPLOAD_IDLE_SECONDS, what arrived counts, and the upload is free again."""
    base, headers = impatient_server.base, auth("collector")
    token = headers["Authorization"].removeprefix("Bearer ")
    data = make_pdf(300 * 1024, seed=77)
    path = _create(base, headers, data)
    abandoned = _raw_request(base, _patch_head(base, path, token, len(data)), data[:100 * 1024])
    try:
        offset, deadline = 0, time.monotonic() + 30
        while offset != 100 * 1024 and time.monotonic() < deadline:
            time.sleep(0.2)
            offset = int(requests.head(base + path, timeout=ANSWER_WITHIN, headers={
                **headers, "Tus-Resumable": "1.0.0"}).headers["Upload-Offset"])
        assert offset == 100 * 1024, "the bytes that arrived before the silence count"
        resumed = requests.patch(base + path, data=data[offset:], timeout=30, headers={
            **headers, "Tus-Resumable": "1.0.0", "Upload-Offset": str(offset),
            "Content-Type": "application/offset+octet-stream"})
    finally:
        abandoned.close()
    assert resumed.status_code == 204, resumed.text  # not 423: the silent request let go of the upload
    material = requests.get(f"{base}/api/v1/materials/{resumed.headers['Liufang-Material-Id']}", headers=headers,
                            timeout=30)
    assert material.json()["sha256"] == sha256_hex(data)

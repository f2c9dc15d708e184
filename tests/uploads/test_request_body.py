"""Large request bodies read straight from gunicorn's socket: right bytes, and keep-alive connections stay in step."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from backend.api.request_body import open_body

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(params=["sync", "gthread", "gevent"])  # gevent: the production worker (scripts/gunicorn.conf.py)
def body_server(request, tmp_path) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """tests.support.body_app under real gunicorn with the given worker class; yields its port."""
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--worker-class", request.param,
         "--threads", "2", "--keep-alive", "30", "tests.support.body_app:app"],
        cwd=ROOT, stdout=log, stderr=log, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError((tmp_path / "gunicorn.log").read_text()[-3000:]) from None
                time.sleep(0.1)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)
        log.close()


def _post(path: str, body: bytes, close: bool = False) -> bytes:
    headers = f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {len(body)}\r\n"
    return (headers + ("Connection: close\r\n" if close else "") + "\r\n").encode() + body


def _read_responses(sock: socket.socket, count: int) -> list[dict[str, object]]:
    """Read ``count`` HTTP responses (each with a Content-Length) from one connection."""
    data, answers = b"", []
    while len(answers) < count:
        while b"\r\n\r\n" not in data:
            more = sock.recv(65536)
            assert more, f"connection closed after {len(answers)} responses"
            data += more
        head, _, data = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length:"))
        while len(data) < length:
            more = sock.recv(65536)
            assert more, "connection closed inside a response body"
            data += more
        assert status == 200, head
        answers.append(json.loads(data[:length]))
        data = data[length:]
    return answers


def test_bodies_are_read_from_the_socket_and_pipelined_requests_stay_in_step(body_server):
    big, small, third = os.urandom(3 * 1024 * 1024 + 17), os.urandom(5000), os.urandom(70000)
    with socket.create_connection(("127.0.0.1", body_server), timeout=30) as sock:
        # Three requests in one write: gunicorn reads part of the second one along with the first one's headers.
        sock.sendall(_post("/", small) + _post("/", big) + _post("/", third))
        answers = _read_responses(sock, 3)
    assert [a["sha256"] for a in answers] == [hashlib.sha256(b).hexdigest() for b in (small, big, third)]
    assert [a["received"] for a in answers] == [len(small), len(big), len(third)]
    assert {a["reader"] for a in answers} == {"_GunicornSocketBody"}


def test_a_body_read_only_in_part_is_drained_before_the_next_request(body_server):
    # gunicorn drains up to 64 KiB of unread body to keep a connection; it must drain exactly the unread rest.
    first, second = os.urandom(100_000), os.urandom(1000)
    with socket.create_connection(("127.0.0.1", body_server), timeout=30) as sock:
        sock.sendall(_post("/?limit=60000", first) + _post("/", second))
        answers = _read_responses(sock, 2)
    assert answers[0]["sha256"] == hashlib.sha256(first[:60_000]).hexdigest()
    assert answers[1]["sha256"] == hashlib.sha256(second).hexdigest()


def test_a_client_that_goes_away_mid_body_ends_the_read(body_server):
    body = os.urandom(1024 * 1024)
    with socket.create_connection(("127.0.0.1", body_server), timeout=30) as sock:
        sock.sendall(_post("/", body)[:-600_000])
        sock.shutdown(socket.SHUT_WR)
        try:
            sock.recv(65536)  # gunicorn answers what it read, or just closes: either way the worker goes on
        except ConnectionResetError:
            pass
    with socket.create_connection(("127.0.0.1", body_server), timeout=30) as sock:
        sock.sendall(_post("/", b"still serving", close=True))
        assert _read_responses(sock, 1)[0]["sha256"] == hashlib.sha256(b"still serving").hexdigest()


class _Stream:
    """A WSGI input without readinto (and one with it), as other servers give."""

    def __init__(self, data: bytes, readinto: bool) -> None:
        self._data, self._pos = data, 0
        if readinto:
            self.readinto = self._readinto

    def read(self, size: int) -> bytes:
        piece = self._data[self._pos:self._pos + min(size, 1000)]
        self._pos += len(piece)
        return piece

    def _readinto(self, buffer: memoryview) -> int:
        piece = self.read(len(buffer))
        buffer[:len(piece)] = piece
        return len(piece)


@pytest.mark.parametrize("readinto", [False, True])
def test_other_servers_inputs_are_read_up_to_the_declared_length(readinto):
    data = os.urandom(10_000)
    body = open_body({"wsgi.input": _Stream(data + b"NEXT REQUEST", readinto)}, len(data), None)
    buffer, out = memoryview(bytearray(4096)), bytearray()
    while n := body.readinto(buffer):
        out += buffer[:n]
    assert bytes(out) == data
    assert type(body).__name__ == "_StreamBody"

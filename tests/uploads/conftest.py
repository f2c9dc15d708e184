"""Fixtures and helpers for the tus upload tests: sample files with known SHA-256 and tus request headers."""

from __future__ import annotations

import base64
import hashlib
import random
from pathlib import Path
from typing import Any, Callable

import pytest

TUS = {"Tus-Resumable": "1.0.0"}
CHUNK = {"Content-Type": "application/offset+octet-stream"}


def make_pdf(size: int, seed: int = 1) -> bytes:
    """A valid one-page PDF of exactly ``size`` bytes (an incompressible padding stream makes up the size)."""
    rng = random.Random(seed)

    def build(pad: int) -> bytes:
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
            b"<< /Length 0 >>\nstream\n\nendstream",
            b"<< /Length %012d >>\nstream\n" % pad + rng.randbytes(pad) + b"\nendstream",
        ]
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
        out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%010d\n%%%%EOF\n" % (len(objects) + 1, xref)
        return bytes(out)

    overhead = len(build(0))  # every number in the file has a fixed width, so the overhead is constant
    if size < overhead:
        raise AssertionError(f"a PDF needs at least {overhead} bytes")
    rng = random.Random(seed)
    data = build(size - overhead)
    assert len(data) == size
    return data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_metadata(**values: Any) -> str:
    return ",".join(f"{key} {base64.b64encode(str(value).encode()).decode()}" for key, value in values.items())


def checksum(data: bytes, algorithm: str = "sha1") -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


@pytest.fixture
def tus(auth: Callable[[str], dict[str, str]]) -> Callable[..., dict[str, str]]:
    """``tus("collector", **more)`` → bearer token + Tus-Resumable (+ any extra headers)."""

    def headers(role: str = "collector", **extra: str) -> dict[str, str]:
        return {**auth(role), **TUS, **{k.replace("_", "-"): v for k, v in extra.items()}}

    return headers


@pytest.fixture
def create(client, tus) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    """``create(data_or_length, role=..., **metadata)`` → the POST response (sha256 of the data sent as metadata)."""

    def send(data: bytes | int, role: str = "collector", *, body: bytes | None = None, **metadata: Any) -> Any:
        length = data if isinstance(data, int) else len(data)
        if not isinstance(data, int):
            metadata.setdefault("sha256", sha256_hex(data))
        metadata.setdefault("filename", "interview.pdf")
        headers = tus(role, **{"Upload-Length": str(length), "Upload-Metadata": encode_metadata(**metadata)})
        if body is not None:
            headers.update(CHUNK)
        return client.post("/api/v1/uploads", headers=headers, data=body)

    return send


@pytest.fixture
def upload_dir(app) -> Path:  # type: ignore[no-untyped-def]
    with app.app_context():
        from backend.services.uploads import upload_store

        directory = upload_store().directory
    directory.mkdir(parents=True, exist_ok=True)
    return directory

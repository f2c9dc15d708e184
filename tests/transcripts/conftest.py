"""Fixtures for transcript tests: the app with automatic transcription on the shipped base model."""

from __future__ import annotations

import base64
import csv
import hashlib
from pathlib import Path
from typing import Any, Callable

import pytest

SHARED_AUDIO = Path(__file__).resolve().parents[3] / "shared" / "audio"


@pytest.fixture(scope="session")
def shared_audio() -> Path:
    if not (SHARED_AUDIO / "references.tsv").is_file():
        pytest.fail(f"reference audio missing at {SHARED_AUDIO}")
    return SHARED_AUDIO


@pytest.fixture(scope="session")
def references(shared_audio: Path) -> dict[str, str]:
    with open(shared_audio / "references.tsv", encoding="utf-8", newline="") as fh:
        return {row["file"]: row["reference"] for row in csv.DictReader(fh, delimiter="\t")}


@pytest.fixture
def app(sqlite_app, model_cache):  # transcription does not depend on the database engine
    """The app with automatic transcription on (off in the shared test config), on the session's model cache
    (tests/conftest.py), so the model is joined once and the transcriber loaded once for the whole session."""
    sqlite_app.config.update(AUTO_TRANSCRIBE=True, MODEL_CACHE=str(model_cache))
    return sqlite_app


def _metadata(fields: dict[str, Any]) -> str:
    return ",".join(f"{key} {base64.b64encode(str(value).encode()).decode()}" for key, value in fields.items())


@pytest.fixture
def tus_upload(client, auth) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    """Upload a file through the tus protocol in two chunks; returns the final PATCH response."""

    def send(path: Path, role: str = "collector", **metadata: Any) -> Any:
        data = path.read_bytes()
        meta = {"filename": path.name, "sha256": hashlib.sha256(data).hexdigest(), **metadata}
        headers = {**auth(role), "Tus-Resumable": "1.0.0"}
        created = client.post("/api/v1/uploads", headers={**headers, "Upload-Length": str(len(data)),
                                                          "Upload-Metadata": _metadata(meta)})
        assert created.status_code == 201, created.get_data(as_text=True)
        url = created.headers["Location"]
        half = len(data) // 2
        response = None
        for offset, chunk in ((0, data[:half]), (half, data[half:])):
            response = client.patch(url, data=chunk, headers={**headers, "Upload-Offset": str(offset),
                                                              "Content-Type": "application/offset+octet-stream"})
            assert response.status_code == 204, response.get_data(as_text=True)
        return response

    return send

"""Fixtures for material tests: generated sample media and a helper that uploads through the form endpoint."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable

import pytest

from tests.media.conftest import Samples


@pytest.fixture(scope="session")
def media_samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    return Samples(tmp_path_factory.mktemp("material-samples"))


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Uploaded:
    """The answer to POST /api/v1/materials (status code, headers, ``posted`` body), with ``get_json()`` giving the
    material as the uploader reads it afterwards: the tests' queue runs the processing job as soon as the upload is
    committed, which is after the POST has answered (its body still says ``uploaded``)."""

    def __init__(self, posted: Any, current: Any) -> None:
        self.status_code, self.headers, self.mimetype = posted.status_code, posted.headers, posted.mimetype
        self.posted = posted.get_json()
        self._current = current

    def get_json(self) -> Any:
        return self._current


@pytest.fixture
def upload(client, auth) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    """``upload(path, role="collector", filename=None, **form)`` → POST /api/v1/materials, then the material."""

    def send(path: Path, role: str = "collector", filename: str | None = None, **form: Any) -> Any:
        with open(path, "rb") as fh:
            data = {"file": (fh, filename or path.name), **{k: str(v) for k, v in form.items()}}
            posted = client.post("/api/v1/materials", data=data, content_type="multipart/form-data",
                                 headers=auth(role))
        if posted.status_code not in (200, 201):
            return posted
        current = client.get(f"/api/v1/materials/{posted.get_json()['id']}", headers=auth(role)).get_json()
        return Uploaded(posted, current)

    return send

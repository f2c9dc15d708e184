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


@pytest.fixture
def upload(client, auth) -> Callable[..., Any]:  # type: ignore[no-untyped-def]
    """``upload(path, role="collector", filename=None, **form)`` → the response of POST /api/v1/materials."""

    def send(path: Path, role: str = "collector", filename: str | None = None, **form: Any) -> Any:
        with open(path, "rb") as fh:
            data = {"file": (fh, filename or path.name), **{k: str(v) for k, v in form.items()}}
            return client.post("/api/v1/materials", data=data, content_type="multipart/form-data",
                               headers=auth(role))

    return send

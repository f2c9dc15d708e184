"""Records for the archivists' desk tests, made through the live server's API (profiles, workflow steps,
consents) or, for materials whose derivatives a page shows, through the seeding app that processes them at once."""

from __future__ import annotations

import io
import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image

from backend import transaction
from backend.extensions import db
from backend.models import Material

# What an attacker would type into a name, a biography, a comment or a consent's conditions.
INJECTION = '<img src=x onerror="window.__pwned=1">'


def unique_tag() -> str:
    """A tag of this test's own, so a list filtered by it holds only the profiles the test made."""
    return f"测试{uuid.uuid4().hex[:8]}"


def create_person(site: Any, user: str = "collector", **fields: Any) -> dict[str, Any]:
    payload = {"category": "good_person", "name": "顾秀兰", **fields}
    answer = site.api("POST", "/api/v1/persons", user, json=payload)
    assert answer.status_code == 201, answer.text
    return answer.json()


def person(site: Any, person_id: int, user: str = "archivist") -> dict[str, Any]:
    answer = site.api("GET", f"/api/v1/persons/{person_id}", user)
    assert answer.status_code == 200, answer.text
    return answer.json()


def step(site: Any, person_id: int, user: str, action: str, **body: Any) -> dict[str, Any]:
    """One workflow action through the API, with the If-Match a client would send."""
    current = site.api("GET", f"/api/v1/persons/{person_id}", user)
    answer = site.api("POST", f"/api/v1/persons/{person_id}/{action}", user, json=body or None,
                      headers={"If-Match": current.headers["ETag"]})
    assert answer.status_code == 200, answer.text
    return answer.json()


def png(path: Path, size: int = 64, *, noise: bool = False, shade: int = 0) -> Path:
    """A PNG: flat and small, or noise that does not compress (``size`` 720 → about 1.5 MB, over one tus chunk)."""
    if noise:
        image = Image.frombytes("RGB", (size, size), os.urandom(size * size * 3))
    else:
        image = Image.new("RGB", (size, size), (40 + shade % 200, 90, 160 - shade % 100))
    image.save(path, "PNG")
    return path


def pdf(path: Path, shade: int = 0) -> Path:
    Image.new("RGB", (420, 595), (250, 250 - shade % 50, 240)).save(path, "PDF")
    return path


def upload_processed(site: Any, path: Path, *, title: str, person_id: int | None = None,
                     user: str = "archivist") -> dict[str, Any]:
    """A material uploaded and processed at once (thumbnails, proxies) in this process, linked to ``person_id``."""
    with site.seeding():
        client = site.app.test_client()
        form: dict[str, Any] = {"title": title}
        if person_id is not None:
            form["person_id"] = str(person_id)
        with open(path, "rb") as fh:
            answer = client.post("/api/v1/materials", data={"file": (fh, path.name), **form},
                                 content_type="multipart/form-data", headers=site.headers(user))
        assert answer.status_code in (200, 201), answer.get_json()
        return answer.get_json()


def upload_bytes(site: Any, data: bytes, name: str, user: str = "archivist") -> dict[str, Any]:
    """A material sent to the live server (not processed there: its queue has no worker)."""
    answer = site.api("POST", "/api/v1/materials", user, files={"file": (name, io.BytesIO(data))})
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def record_consent(site: Any, person_id: int, *, conditions: str = "", scope: str = "public",
                   user: str = "archivist") -> dict[str, Any]:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), tuple(uuid.uuid4().bytes[:3])).save(buffer, "PNG")
    form = upload_bytes(site, buffer.getvalue(), "consent.png", user)
    answer = site.api("POST", f"/api/v1/persons/{person_id}/consents", user,
                      json={"scope": scope, "signed_at": "2024-05-01", "material_id": form["id"],
                            "conditions": conditions})
    assert answer.status_code == 201, answer.text
    return answer.json()


def seed_recordings(site: Any, hours_at: dict[float, datetime]) -> None:
    """Audio rows of ``{duration in hours: when uploaded}`` straight in the database, for the statistics (no file
    behind them and no transcript, so no other page lists them as work)."""
    with site.seeding(), transaction.atomic():
        for hours, created in hours_at.items():
            digest = uuid.uuid4().hex * 2
            db.session.add(Material(kind="audio", status="ready", mime="audio/mp4", size=1, sha256=digest,
                                    storage_key=f"originals/{digest}", collector_id=site.user_ids["collector"],
                                    access_level="restricted", title="统计用录音",
                                    media_info={"duration": hours * 3600}, created_at=created))

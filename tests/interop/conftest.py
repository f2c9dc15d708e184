"""Fixtures for the interop tests: the official XML schemas (compiled once, offline) and a small public archive."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.api.helpers import VALID_ID, advance, if_match, make_person, upload_png

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {"id_number": VALID_ID, "phone": "13912345678", "address": "连云港市连云区海棠路88号3单元502室"}


def schema_dir() -> Path:
    """``../shared/schemas`` beside the checkout (or ``LIUFANG_SCHEMAS``): the official schemas, no network."""
    configured = os.environ.get("LIUFANG_SCHEMAS")
    for candidate in ([Path(configured)] if configured else []) + [ROOT.parent / "shared" / "schemas",
                                                                   ROOT / "shared" / "schemas"]:
        if (candidate / "bundle.xsd").is_file():
            return candidate
    raise pytest.UsageError("the XML schemas are not found: put shared/schemas beside the checkout "
                            "or set LIUFANG_SCHEMAS")


class Schemas:
    """Compiled schemas by file name; ``validate(xml, "cpf.xsd")`` raises with libxml2's message."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._compiled: dict[str, etree.XMLSchema] = {}

    def __getitem__(self, name: str) -> etree.XMLSchema:
        if name not in self._compiled:
            self._compiled[name] = etree.XMLSchema(file=str(self.folder / name))
        return self._compiled[name]

    def validate(self, document: bytes | etree._Element, name: str) -> etree._Element:
        if isinstance(document, bytes):
            parser = etree.XMLParser(no_network=True, resolve_entities=False)
            document = etree.fromstring(document, parser)
        schema = self[name]
        if not schema.validate(document):
            raise AssertionError(f"{name}: {schema.error_log.last_error}\n"
                                 f"{etree.tostring(document, encoding='unicode')[:3000]}")
        return document


@pytest.fixture(scope="session")
def schemas() -> Schemas:
    return Schemas(schema_dir())


def open_material(client: Any, auth: Any, material_id: int) -> None:
    url = f"/api/v1/materials/{material_id}"
    response = client.patch(url, json={"access_level": "open"}, headers=if_match(client, url, auth("archivist")))
    assert response.status_code == 200, response.get_json()


def published_person(client: Any, auth: Any, **fields: Any) -> dict[str, Any]:
    """A profile created by the collector, submitted, approved and published by the archivist through the API,
    with its photo opened to the public; returns the profile (staff view) and its photo's id."""
    person = make_person(client, auth("collector"), **fields)
    advance(client, person["id"], auth("archivist"), "submit", "approve", "publish")
    photo = client.get(f"/api/v1/persons/{person['id']}/materials", headers=auth("archivist")).get_json()
    photo_id = next(item["id"] for item in photo["items"] if item["title"] == "近照")
    open_material(client, auth, photo_id)
    return {**client.get(f"/api/v1/persons/{person['id']}", headers=auth("archivist")).get_json(),
            "photo_id": photo_id}


@pytest.fixture
def rich_person(client: Any, auth: Any) -> dict[str, Any]:
    """A published 乡贤 with everything a profile can hold, a public photo and a restricted recording."""
    person = published_person(
        client, auth, category="local_worthy", name="林海生", aliases=["林老", "灯塔爷爷"], gender="male",
        ethnicity="汉族", birth_date="1938-05-02", death_date="2020", native_place="江苏赣榆",
        area={"district": "连云区", "town": "连岛街道"}, occupation="灯塔看守人",
        honours=[{"title": "中国好人", "year": 2019, "conferred_by": "中央文明办"}, {"title": "感动港城人物"}],
        biography="五十年守护海岛灯塔。\n\n退休后义务讲述海岛历史。", tags=["灯塔", "海岛"], **SECRETS)
    hidden = upload_png(client, auth("archivist"), person["id"], 7, person_id=str(person["id"]),
                        title="内部录音整理稿")
    return {**person, "hidden_material_id": hidden["id"]}

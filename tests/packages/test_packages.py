"""Preservation packages: a BagIt bag that bagit-python validates, with originals, derivatives, transcripts,
consent forms and metadata (METS+PREMIS+DC valid against bundle.xsd, EAC-CPF against cpf.xsd); its job's status;
downloads with Range; only archivists; nothing outside the scope and no personal data inside."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bagit
import pytest
from lxml import etree

from tests.api.helpers import assert_error
from tests.packages.conftest import SECRETS, unpack

PREMIS = "{http://www.loc.gov/premis/v3}"
METS = "{http://www.loc.gov/METS/}"


def _download(client: Any, auth: Any, export: dict[str, Any]) -> bytes:
    response = client.get(export["download_url"], headers=auth("archivist"))
    assert response.status_code == 200
    assert response.headers["ETag"] == f'"{export["sha256"]}"'
    return response.get_data()


def _bag(client: Any, auth: Any, export: dict[str, Any], tmp_path: Path) -> Path:
    return unpack(_download(client, auth, export), tmp_path / "unpacked")


@pytest.mark.both_databases
def test_person_package_is_a_valid_bag_with_everything(archive, make_package, client, auth, tmp_path) -> None:
    export = make_package("person", [archive["person"]["id"]])
    assert export["progress"] == 100.0 and export["file_count"] > 0 and len(export["sha256"]) == 64
    bag_dir = _bag(client, auth, export, tmp_path)
    bag = bagit.Bag(str(bag_dir))
    bag.validate()  # raises BagValidationError on any manifest, Payload-Oxum or tag manifest problem
    assert set(bag.algorithms) == {"sha256", "sha512"}
    assert bag.info["BagIt-Version" if "BagIt-Version" in bag.info else "Source-Organization"]
    assert bag.info["External-Identifier"] == export["uuid"]
    assert bag.info["Bag-Software-Agent"].startswith("Liufang")
    files = {path.relative_to(bag_dir).as_posix() for path in bag_dir.rglob("*") if path.is_file()}
    recording = f"data/objects/materials/material-{archive['recording']['id']}"
    assert f"{recording}/original/王秀英口述-第一次.wav" in files  # Chinese names round-trip
    assert {f"{recording}/derivatives/asr.flac", f"{recording}/derivatives/proxy.m4a"} <= files
    tid = archive["transcript_id"]
    for revision in ("machine", "approved"):
        assert {f"{recording}/transcripts/transcript-{tid}-{revision}.{ext}" for ext in ("vtt", "json", "docx")} <= files
    machine = (bag_dir / f"{recording}/transcripts/transcript-{tid}-machine.vtt").read_text(encoding="utf-8")
    approved = (bag_dir / f"{recording}/transcripts/transcript-{tid}-approved.vtt").read_text(encoding="utf-8")
    assert "打鱼" in machine and "打渔" in approved and "打鱼" not in approved
    assert f"data/objects/consents/material-{archive['form']['id']}/original/photo.png" in files
    assert f"data/objects/materials/material-{archive['photo']['id']}/original/photo.png" in files
    assert f"data/objects/metadata/eac-cpf/person-{archive['person']['id']}.xml" in files
    assert f"data/objects/metadata/dc/interview-{archive['interview']['id']}.xml" in files
    assert f"data/METS.{export['uuid']}.xml" in files
    # Nothing of the other person, and no personal data anywhere in the bag.
    assert not any(f"material-{archive['others_photo']['id']}/" in name for name in files)
    assert f"data/objects/metadata/eac-cpf/person-{archive['other']['id']}.xml" not in files
    everything = b"".join(path.read_bytes() for path in bag_dir.rglob("*") if path.is_file())
    for secret in (*SECRETS.values(), "13800001111", "不公开家庭住址"):
        assert secret.encode("utf-8") not in everything, secret
    assert "李四".encode("utf-8") not in everything


def test_mets_premis_dc_and_eac_cpf_validate(archive, make_package, client, auth, tmp_path, schemas) -> None:
    export = make_package("interview", [archive["interview"]["id"]])
    bag_dir = _bag(client, auth, export, tmp_path)
    document = schemas.validate((bag_dir / f"data/METS.{export['uuid']}.xml").read_bytes(), "bundle.xsd")
    assert document.tag == f"{METS}mets" and document.get("OBJID") == export["uuid"]
    eac = bag_dir / f"data/objects/metadata/eac-cpf/person-{archive['person']['id']}.xml"
    assert schemas.validate(eac.read_bytes(), "cpf.xsd").tag == "{urn:isbn:1-931666-33-4}eac-cpf"
    # An amdSec per file, each with a PREMIS object whose fixity is the file's sha256.
    files = document.findall(f".//{METS}fileSec//{METS}file")
    amd = {section.get("ID"): section for section in document.iter(f"{METS}amdSec")}
    assert len(files) == len(amd) == export["file_count"] - 1  # every payload file but the METS itself
    original = next(f for f in files if f.find(f"{METS}FLocat").get("{http://www.w3.org/1999/xlink}href")
                    .endswith("王秀英口述-第一次.wav"))
    section = amd[original.get("ADMID")]
    obj = section.find(f".//{PREMIS}object")
    assert obj.findtext(f".//{PREMIS}messageDigest") == archive["recording"]["sha256"]
    assert obj.findtext(f".//{PREMIS}size") == str(archive["recording"]["size"])
    assert obj.findtext(f".//{PREMIS}formatName") == "audio/wav"
    assert obj.findtext(f".//{PREMIS}formatRegistryKey") == "fmt/141"
    assert obj.findtext(f"{PREMIS}originalName") == "王秀英口述-第一次.wav"
    events = {e.findtext(f"{PREMIS}eventType") for e in section.iter(f"{PREMIS}event")}
    assert {"ingestion", "message digest calculation", "format identification", "fixity check"} <= events
    agents = {a.findtext(f"{PREMIS}agentType") for a in section.iter(f"{PREMIS}agent")}
    assert {"software", "organization", "person"} <= agents
    transcript = next(f for f in files if f.find(f"{METS}FLocat").get("{http://www.w3.org/1999/xlink}href")
                      .endswith(f"transcript-{archive['transcript_id']}-approved.json"))
    events = [e.findtext(f"{PREMIS}eventType") for e in amd[transcript.get("ADMID")].iter(f"{PREMIS}event")]
    assert events[0] == "transcription" and "modification" in events and "approval" in events
    # A Dublin Core record per material and interview, in the METS and as files.
    dmd_ids = {section.get("ID") for section in document.iter(f"{METS}dmdSec")}
    assert f"dmd-interview-{archive['interview']['id']}" in dmd_ids
    assert f"dmd-material-{archive['recording']['id']}" in dmd_ids


def test_tar_package_validates_too(archive, make_package, client, auth, tmp_path) -> None:
    export = make_package("person", [archive["person"]["id"]], "tar")
    data = _download(client, auth, export)
    assert data[:4] != b"PK\x03\x04"
    bagit.Bag(str(unpack(data, tmp_path / "tar"))).validate()


def test_download_answers_ranges(archive, make_package, client, auth) -> None:
    export = make_package("person", [archive["person"]["id"]])
    response = client.get(export["download_url"], headers={**auth("archivist"), "Range": "bytes=0-3"})
    assert response.status_code == 206
    assert response.get_data() == b"PK\x03\x04"
    assert response.headers["Content-Range"] == f"bytes 0-3/{export['size']}"
    assert "filename*=UTF-8''liufang-" in response.headers["Content-Disposition"]


@pytest.mark.parametrize("who", ["collector", "editor"])
def test_only_archivists_make_or_read_packages(archive, make_package, client, auth, who) -> None:
    export = make_package("person", [archive["person"]["id"]])
    assert_error(client.post("/api/v1/exports", json={"scope": "person", "ids": [archive["person"]["id"]]},
                             headers=auth(who)), 403)
    for url in ("/api/v1/exports", f"/api/v1/exports/{export['id']}", export["download_url"], export["report_url"],
                f"/api/v1/reports?scope=person&ids={archive['person']['id']}"):
        assert_error(client.get(url, headers=auth(who)), 403)
        assert_error(client.get(url), 401)


def test_bad_requests_are_clear(archive, client, auth) -> None:
    archivist = auth("archivist")
    assert_error(client.post("/api/v1/exports", json={"scope": "person", "ids": [999999]}, headers=archivist),
                 404, "person_not_found")
    assert_error(client.post("/api/v1/exports", json={"scope": "person", "ids": []}, headers=archivist), 422)
    assert_error(client.post("/api/v1/exports", json={"scope": "box", "ids": [1]}, headers=archivist), 422)
    assert_error(client.get("/api/v1/exports/424242", headers=archivist), 404, "export_not_found")
    assert_error(client.get("/api/v1/reports?scope=interview&ids=abc", headers=archivist), 422)


def test_a_package_not_made_yet_is_409_and_a_failed_build_says_why(archive, client, auth, app) -> None:
    from backend.extensions import db
    from backend.models import Material

    with app.app_context():  # the stored original went missing: the build must fail, not package a gap
        material = db.session.get(Material, archive["photo"]["id"])
        (Path(app.config["STORAGE_URL"]) / material.storage_key).unlink()
    response = client.post("/api/v1/exports", json={"scope": "person", "ids": [archive["person"]["id"]]},
                           headers=auth("archivist"))
    assert response.status_code == 202
    export = client.get(response.headers["Location"], headers=auth("archivist")).get_json()
    assert export["status"] == "failed" and "存储中缺少文件" in export["error"]
    assert export["download_url"] is None
    for suffix in ("download", "report"):
        error = assert_error(client.get(f"/api/v1/exports/{export['id']}/{suffix}", headers=auth("archivist")),
                             409, "export_not_ready")
        assert error["details"]["status"] == "failed"

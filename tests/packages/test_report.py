"""The DA/T 70 four-property report: every item passes for an untouched package; a flipped byte, a deleted file or
an edited metadata field fails on the exact item, with the file named in its evidence; the same report on demand
for a scope without a package; printable Chinese HTML and PDF; ClamAV used when installed, "not checked" when not."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pypdfium2
import pytest

from backend.services import printable
from tests.packages.conftest import rewrite_zip, stored_package, unpack

PROPERTY_ORDER = ["真实性", "完整性", "可用性", "安全性"]


def _items(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for group in report["groups"] for item in group["items"]}


def _report(client: Any, auth: Any, export: dict[str, Any]) -> dict[str, Any]:
    response = client.get(export["report_url"], headers=auth("archivist"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _failed(report: dict[str, Any]) -> set[str]:
    return {item_id for item_id, item in _items(report).items() if item["result"] == "failed"}


@pytest.fixture
def no_clamscan(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH on which clamscan is not found (the programs the checks need still are)."""
    bin_dir = tmp_path / "bin-without-clamscan"
    bin_dir.mkdir()
    for program in ("ffmpeg", "ffprobe", "fc-list"):
        found = next((Path(p) / program for p in os.environ["PATH"].split(os.pathsep)
                      if (Path(p) / program).exists()), None)
        if found is not None:
            (bin_dir / program).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_an_untouched_package_passes_every_item(archive, make_package, client, auth, no_clamscan) -> None:
    export = make_package("person", [archive["person"]["id"]])
    report = _report(client, auth, export)
    assert [group["label"] for group in report["groups"]] == PROPERTY_ORDER
    items = _items(report)
    assert list(items) == ["authenticity.fixity", "authenticity.metadata_agreement", "integrity.required_metadata",
                           "integrity.counts", "integrity.archival_codes", "integrity.process_records",
                           "usability.opens", "usability.archival_formats", "security.virus_scan",
                           "security.no_encryption", "security.unaltered"]
    assert _failed(report) == set(), {k: v["evidence"] for k, v in items.items() if v["result"] == "failed"}
    assert report["result"] == "passed" and report["package"]["sha256"] == export["sha256"]
    assert items["authenticity.fixity"]["checked"] == export["file_count"] - 1
    assert items["usability.opens"]["checked"] == export["file_count"] - 1
    assert items["security.virus_scan"]["result"] == "not_checked"
    assert "ClamAV" in items["security.virus_scan"]["evidence"][0]
    assert items["integrity.archival_codes"]["result"] == "not_checked"


def test_a_flipped_byte_fails_fixity_of_that_file(archive, make_package, client, auth, app) -> None:
    export = make_package("person", [archive["person"]["id"]])
    name = "王秀英口述-第一次.wav"

    def flip(entry: str, data: bytes) -> bytes:
        if entry.endswith(name):
            return data[:-10] + bytes([data[-10] ^ 0x01]) + data[-9:]
        return data

    rewrite_zip(stored_package(app, export), flip)
    report = _report(client, auth, export)
    items = _items(report)
    assert items["authenticity.fixity"]["result"] == "failed"
    assert any(name in line for line in items["authenticity.fixity"]["evidence"])
    assert items["security.unaltered"]["result"] == "failed"  # the bag's manifests and the package digest
    assert items["integrity.counts"]["result"] == "passed"
    assert items["authenticity.metadata_agreement"]["result"] == "passed"
    assert report["result"] == "failed"


def test_a_deleted_file_fails_the_counts(archive, make_package, client, auth, app) -> None:
    export = make_package("person", [archive["person"]["id"]])
    gone = f"transcript-{archive['transcript_id']}-approved.docx"
    rewrite_zip(stored_package(app, export), lambda entry, data: None if entry.endswith(gone) else data)
    items = _items(_report(client, auth, export))
    assert items["integrity.counts"]["result"] == "failed"
    assert any(gone in line and "缺失" in line for line in items["integrity.counts"]["evidence"])
    assert items["authenticity.fixity"]["result"] == "passed"
    assert items["security.unaltered"]["result"] == "failed"


def test_an_edited_metadata_field_fails_metadata_agreement(archive, make_package, client, auth, app) -> None:
    export = make_package("person", [archive["person"]["id"]])
    mets_name = f"METS.{export['uuid']}.xml"

    def edit(entry: str, data: bytes) -> bytes:
        if entry.endswith(mets_name):
            edited = data.replace("<premis:originalName>王秀英口述-第一次.wav".encode(),
                                  "<premis:originalName>王秀英口述-第二次.wav".encode())
            assert edited != data
            return edited
        return data

    rewrite_zip(stored_package(app, export), edit)
    items = _items(_report(client, auth, export))
    evidence = items["authenticity.metadata_agreement"]["evidence"]
    assert items["authenticity.metadata_agreement"]["result"] == "failed"
    assert any("originalName" in line and "王秀英口述-第二次.wav" in line for line in evidence), evidence
    assert items["authenticity.fixity"]["result"] == "passed"
    assert items["integrity.counts"]["result"] == "passed"


def test_an_edited_description_fails_metadata_agreement(archive, make_package, client, auth, app) -> None:
    export = make_package("interview", [archive["interview"]["id"]])
    mets_name = f"METS.{export['uuid']}.xml"
    rewrite_zip(stored_package(app, export), lambda entry, data: data.replace(
        "<dc:title xml:lang=\"zh\">王秀英口述录音".encode(), "<dc:title xml:lang=\"zh\">张冠李戴".encode())
        if entry.endswith(mets_name) else data)
    evidence = _items(_report(client, auth, export))["authenticity.metadata_agreement"]["evidence"]
    assert any(f"dmd-material-{archive['recording']['id']}" in line and "dc:title" in line for line in evidence)


def test_report_on_demand_checks_the_storage(archive, client, auth, app) -> None:
    url = f"/api/v1/reports?scope=person&ids={archive['person']['id']}"
    report = client.get(url, headers=auth("archivist")).get_json()
    items = _items(report)
    assert report["export_id"] is None and _failed(report) == set(), report
    assert items["security.unaltered"]["result"] == "not_checked"
    assert items["authenticity.fixity"]["checked"] >= 3
    from backend.extensions import db
    from backend.models import Material

    with app.app_context():
        path = Path(app.config["STORAGE_URL"]) / db.session.get(Material, archive["photo"]["id"]).storage_key
    path.chmod(stat.S_IWUSR | stat.S_IRUSR)
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    items = _items(client.get(url, headers=auth("archivist")).get_json())
    assert items["authenticity.fixity"]["result"] == "failed"
    assert any(f"material-{archive['photo']['id']}/" in line for line in items["authenticity.fixity"]["evidence"])


def test_report_as_printable_html_and_pdf(archive, make_package, client, auth) -> None:
    export = make_package("person", [archive["person"]["id"]])
    html = client.get(export["report_url"] + "?format=html", headers=auth("archivist"))
    assert html.status_code == 200 and html.mimetype == "text/html"
    text = html.get_data(as_text=True)
    assert "电子档案四性检测报告" in text and all(label in text for label in PROPERTY_ORDER)
    if not printable.cjk_font_installed():
        pytest.skip("no Chinese font for the PDF (scripts/install-system-deps)")
    pdf = client.get(export["report_url"] + "?format=pdf", headers=auth("archivist"))
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    document = pypdfium2.PdfDocument(pdf.get_data())
    first = document[0].get_textpage().get_text_range()
    assert "四性检测报告" in first and "真实性" in first


def test_clamscan_is_used_when_installed(archive, client, auth, monkeypatch, tmp_path) -> None:
    """A stand-in clamscan that reports the recording infected: the item fails naming it (real ClamAV needs a
    signature database, which cannot be had offline)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "clamscan"
    fake.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "ClamAV 1.4.6/27500"; exit 0; fi\n'
                    'for last; do :; done\nfor f in $(find "$last" -name "*.wav"); do echo "$f: Eicar-Test-Signature '
                    'FOUND"; done\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    report = client.get(f"/api/v1/reports?scope=person&ids={archive['person']['id']}",
                        headers=auth("archivist")).get_json()
    virus = _items(report)["security.virus_scan"]
    assert virus["result"] == "failed"
    assert any("Eicar-Test-Signature" in line for line in virus["evidence"])
    assert "ClamAV 1.4.6" in virus["evidence"][0]


def test_archival_codes_without_gaps_and_a_gap_found(archive, make_package, client, auth, app, tmp_path) -> None:
    from backend.extensions import db
    from backend.models import ArchivalCounter, Interview
    from tests.api.helpers import advance, if_match

    archivist = auth("archivist")
    interview_url = f"/api/v1/interviews/{archive['interview']['id']}"
    response = client.post(f"{interview_url}/approve", headers=if_match(client, interview_url, archivist))
    assert response.status_code == 200, response.get_json()
    advance(client, archive["person"]["id"], archivist, "submit", "approve")
    export = make_package("person", [archive["person"]["id"]])
    bag = unpack(client.get(export["download_url"], headers=archivist).get_data(), tmp_path / "bag")
    mets_text = (bag / f"data/METS.{export['uuid']}.xml").read_text(encoding="utf-8")
    with app.app_context():
        codes = [db.session.get(Interview, archive["interview"]["id"]).archival_code,
                 client.get(f"/api/v1/persons/{archive['person']['id']}", headers=archivist).get_json()["archival_code"]]
    assert all(code and f'<mets:altRecordID TYPE="archival_code">{code}<' in mets_text for code in codes)
    item = _items(_report(client, auth, export))["integrity.archival_codes"]
    assert item["result"] == "passed" and item["checked"] == 2, item
    assert any("连续" in line for line in item["evidence"])
    with app.app_context():
        code = db.session.get(Interview, archive["interview"]["id"]).archival_code
        counter = db.session.scalars(db.select(ArchivalCounter)).all()
        series = next(row for row in counter if code.startswith(row.series.split("{seq}")[0]))
        series.last_seq += 1  # a number handed out whose record is gone: a gap in the series
        db.session.commit()
    item = _items(_report(client, auth, export))["integrity.archival_codes"]
    assert item["result"] == "failed"
    assert any("缺号 2" in line for line in item["evidence"]), item

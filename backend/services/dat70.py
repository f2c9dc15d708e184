"""The DA/T 70-2018 four-property report (四性检测报告) of a preservation package, or of any scope on demand: one
row per check item with its result and evidence, grouped 真实性 / 完整性 / 可用性 / 安全性.

A package is checked as it is stored now: its bytes against the digest recorded when it was made, its bag
manifests, its METS (PREMIS fixity, size, format, original name, events; Dublin Core) against the files it holds
and against the archive's records. A scope without a package is checked in the storage against the database.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import current_app
from lxml import etree
from sqlalchemy import select

from backend.extensions import db
from backend.models import ArchivalCounter, AuditEvent, Export, Interview, Person, User
from backend.models.types import utcnow
from backend.services import archival_codes, crosswalks, mets, packages, printable
from backend.services.package_contents import PackageFile, ScopeContent, resolve, stored_files
from backend.services.storage import get_storage
from media import antivirus, usability
from media.bag import ALGORITHMS, BagReader, parse_bag_info, parse_manifest
from media.errors import MediaError, ObjectNotFound
from media.hashing import CHUNK_SIZE, sha256_file
from media.sniff import sniff

PASSED, FAILED, NOT_CHECKED = "passed", "failed", "not_checked"
RESULT_LABELS = {PASSED: "通过", FAILED: "未通过", NOT_CHECKED: "未检测"}
PROPERTIES = (("authenticity", "真实性"), ("integrity", "完整性"), ("usability", "可用性"), ("security", "安全性"))
#: (id, property, name): the check items, in the order the report lists them.
ITEMS = (
    ("authenticity.fixity", "authenticity", "每个文件的 SHA-256 与登记的固定性值一致"),
    ("authenticity.metadata_agreement", "authenticity", "文件名称、大小、格式和日期与元数据一致"),
    ("integrity.required_metadata", "integrity", "必备元数据齐全"),
    ("integrity.counts", "integrity", "文件数量与总字节数相符"),
    ("integrity.archival_codes", "integrity", "档号序列连续、无缺号"),
    ("integrity.process_records", "integrity", "过程记录（接收、摘要计算、格式识别、固定性检查、转写、修订、审核）齐全"),
    ("usability.opens", "usability", "每个文件均可打开（音视频 ffprobe、图片 Pillow、PDF 渲染）"),
    ("usability.archival_formats", "usability", "文件格式为归档格式"),
    ("security.virus_scan", "security", "病毒检测（ClamAV）"),
    ("security.no_encryption", "security", "文件未加密"),
    ("security.unaltered", "security", "封装包制作后未被改动"),
)
MAX_EVIDENCE = 200
# The PREMIS events each kind of file must have (process records).
REQUIRED_EVENTS = {"original": (mets.INGESTION, mets.DIGEST, mets.FORMAT_ID, mets.FIXITY),
                   "derivative": (mets.CREATION,), "transcript-machine": (mets.TRANSCRIPTION,),
                   "transcript-approved": (mets.TRANSCRIPTION, mets.APPROVAL)}
_BAG_INFO_REQUIRED = ("Source-Organization", "Bagging-Date", "External-Identifier", "Payload-Oxum")


@dataclass
class Item:
    id: str
    property: str
    name: str
    result: str = PASSED
    evidence: list[str] = field(default_factory=list)
    checked: int = 0

    def fail(self, text: str) -> None:
        self.result = FAILED
        self.note(text)

    def note(self, text: str) -> None:
        if len(self.evidence) < MAX_EVIDENCE:
            self.evidence.append(text)
        elif len(self.evidence) == MAX_EVIDENCE:
            self.evidence.append("……（其余从略）")

    def skip(self, text: str) -> None:
        self.result = NOT_CHECKED
        self.evidence = [text]


@dataclass
class Target:
    """A file as the checks see it: where its bytes are on disk now, and what it should be."""

    path: str
    use: str
    mime: str
    local: Path | None


class Report:
    def __init__(self) -> None:
        self.items = {item_id: Item(item_id, prop, name) for item_id, prop, name in ITEMS}

    def __getitem__(self, item_id: str) -> Item:
        return self.items[item_id]

    def finish(self, header: dict[str, Any]) -> dict[str, Any]:
        for item in self.items.values():
            if item.result == PASSED and not item.evidence:
                item.evidence.append(f"已检查 {item.checked} 项，均符合要求")
        counts = Counter(item.result for item in self.items.values())
        groups = [{"property": prop, "label": label,
                   "items": [{"id": i.id, "name": i.name, "result": i.result, "result_label": RESULT_LABELS[i.result],
                              "checked": i.checked, "evidence": i.evidence}
                             for i in self.items.values() if i.property == prop]}
                  for prop, label in PROPERTIES]
        return {"title": "电子档案四性检测报告", "standard": "DA/T 70-2018", **header,
                "generated_at": utcnow().isoformat(), "archive": crosswalks.archive_name(),
                "software": packages.software_name(),
                "result": FAILED if counts[FAILED] else PASSED,
                "summary": {result: counts.get(result, 0) for result in (PASSED, FAILED, NOT_CHECKED)},
                "groups": groups}


# --- checks shared by both kinds of report ------------------------------------------------------------------------

def _archival_codes(report: Report, content: ScopeContent) -> None:
    """Every approved profile and interview of the scope has its 档号, and each series it belongs to is numbered
    1, 2, 3 … up to its counter with no number missing or used twice (across the whole archive, not only the
    scope: a gap anywhere in the series is a gap)."""
    item = report["integrity.archival_codes"]
    series_seen: dict[str, tuple[str, str]] = {}
    for kind, records in (("person", content.persons), ("interview", content.interviews)):
        for record in records:
            if record.approved_at is None:
                continue
            item.checked += 1
            if not record.archival_code:
                item.fail(f"{'人物' if kind == 'person' else '访谈'} {record.id}：已审核，但没有档号")
                continue
            series = archival_codes.series_of(kind, getattr(record, "category", None), record.approved_at)
            prefix, _, suffix = series.partition("{seq}")
            if not (record.archival_code.startswith(prefix) and record.archival_code.endswith(suffix)):
                item.note(f"{record.archival_code}：与现行档号规则的系列 {series} 不符（规则可能已调整），未核对其序号")
                continue
            series_seen[series] = (prefix, suffix)
    if not item.checked:
        item.skip("检测对象中没有已审核、应有档号的人物或访谈")
        return
    for series, (prefix, suffix) in sorted(series_seen.items()):
        numbers: list[int] = []
        for model in (Person, Interview):
            for code in db.session.scalars(select(model.archival_code).where(
                    archival_codes.matches(model.archival_code, prefix))):
                middle = code[len(prefix):len(code) - len(suffix)] if code.endswith(suffix) else ""
                if middle.isdigit():
                    numbers.append(int(middle))
        counter = db.session.scalar(select(ArchivalCounter.last_seq).where(ArchivalCounter.series == series)) or 0
        top = max([counter, *numbers])
        gaps = sorted(set(range(1, top + 1)) - set(numbers))
        twice = sorted(n for n, times in Counter(numbers).items() if times > 1)
        if gaps:
            item.fail(f"系列 {series}：缺号 {'、'.join(str(n) for n in gaps[:50])}（已用到 {top}）")
        if twice:
            item.fail(f"系列 {series}：重号 {'、'.join(str(n) for n in twice[:50])}")
        if not gaps and not twice:
            item.note(f"系列 {series}：1–{top} 连续，无缺号、无重号")


def _usability_and_security(report: Report, targets: list[Target], scan_root: Path | None) -> None:
    opens, formats = report["usability.opens"], report["usability.archival_formats"]
    encryption = report["security.no_encryption"]
    by_material: dict[str, list[Target]] = {}
    for target in targets:
        if target.local is None:
            continue
        opens.checked += 1
        reason = usability.cannot_open(target.local, target.mime)
        if reason is not None:
            opens.fail(f"{target.path}：无法打开（{target.mime}）：{reason}")
        encryption.checked += 1
        encrypted = usability.encryption(target.local, target.mime)
        if encrypted is not None:
            encryption.fail(f"{target.path}：{encrypted}")
        if target.use in ("original", "derivative"):
            group_key = target.path.rsplit("/", 2)[0]   # the material's folder
        else:
            group_key = target.path.rsplit(".", 1)[0]   # one transcript revision in several formats, or one file
        by_material.setdefault(group_key, []).append(target)
    for group_key, group in by_material.items():
        originals = [t for t in group if t.use == "original"]
        if not originals:  # transcripts and metadata: fine when one of the formats it is kept in is archival
            formats.checked += 1
            if not any(usability.is_archival(t.mime) for t in group):
                formats.fail(f"{group_key}：没有归档格式的版本（{'、'.join(sorted({t.mime for t in group}))}）")
            continue
        for target in originals:
            formats.checked += 1
            if usability.is_archival(target.mime):
                continue
            copies = [t.path.rsplit("/", 1)[-1] for t in group if t.use == "derivative" and usability.is_archival(t.mime)]
            formats.fail(f"{target.path}：{target.mime} 不是归档格式" +
                         (f"（包内另有归档格式的派生件：{'、'.join(copies)}，但不是原件的无损保存副本）" if copies else ""))
    virus = report["security.virus_scan"]
    if scan_root is None:
        virus.skip("没有可检测的文件")
        return
    result = antivirus.scan(scan_root)
    if not result.checked:
        virus.skip(result.reason)
        return
    virus.checked = len([t for t in targets if t.local is not None])
    virus.note(f"引擎：{result.engine}")
    for name, signature in result.infected:
        virus.fail(f"{name}：发现病毒 {signature}")


# --- a package ----------------------------------------------------------------------------------------------------

def package_report(actor: User, export_id: int) -> dict[str, Any]:
    """The report of a finished package, checked as it is stored now."""
    export = packages.finished_export(actor, export_id)
    content = resolve(export.scope, export.ids)
    report = Report()
    storage = get_storage()
    unaltered = report["security.unaltered"]
    tmp_root = Path(current_app.instance_path) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    header = {"scope": export.scope, "ids": export.ids, "export_id": export.id,
              "package": {"uuid": export.uuid, "sha256": export.sha256, "size": export.size,
                          "made_at": export.finished_at.isoformat() if export.finished_at else None}}
    try:
        with storage.local_path(export.storage_key or "") as package_path, \
                tempfile.TemporaryDirectory(dir=tmp_root, prefix="report-") as work:
            unaltered.checked += 1
            actual = sha256_file(package_path)
            if actual != export.sha256:
                unaltered.fail(f"封装包的 SHA-256 为 {actual}，与制作时登记的 {export.sha256} 不一致")
            with BagReader(package_path) as bag:
                _check_package(report, export, content, bag, Path(work))
    except ObjectNotFound:
        for item in report.items.values():
            item.skip("存储中找不到封装包")
        report["security.unaltered"].fail("存储中找不到封装包")
        report["integrity.counts"].fail("存储中找不到封装包")
    return report.finish(header)


def _extract_payload(bag: BagReader, work: Path) -> dict[str, tuple[Path, dict[str, str], int]]:
    """Every payload file copied out once (the checks open them by path) with its digests."""
    extracted = {}
    for number, entry in enumerate(bag.iter_payload()):
        suffix = Path(entry.path).suffix
        target = work / "data" / f"{number:06d}{suffix}"
        target.parent.mkdir(parents=True, exist_ok=True)
        digests = {algorithm: hashlib.new(algorithm) for algorithm in ALGORITHMS}
        size = 0
        with bag.open(entry.path) as stream, open(target, "wb") as out:
            while chunk := stream.read(CHUNK_SIZE):
                for digest in digests.values():
                    digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        extracted[entry.path] = (target, {a: d.hexdigest() for a, d in digests.items()}, size)
    return extracted


def _check_bag(report: Report, export: Export, bag: BagReader,
               extracted: dict[str, tuple[Path, dict[str, str], int]]) -> None:
    """security.unaltered: the bag's manifests, tag manifests and tag files as they were written."""
    unaltered = report["security.unaltered"]
    for name, recorded in sorted(export.tag_digests.items()):
        unaltered.checked += 1
        if name not in bag.entries:
            unaltered.fail(f"标签文件 {name} 缺失")
        elif bag.digests(name)["sha256"] != recorded.get("sha256"):
            unaltered.fail(f"标签文件 {name} 与制作时不一致")
    for algorithm in ALGORITHMS:
        text = bag.read_text(f"manifest-{algorithm}.txt")
        if text is None:
            unaltered.fail(f"缺少 manifest-{algorithm}.txt")
            continue
        manifest = parse_manifest(text)
        for path, digest in sorted(manifest.items()):
            unaltered.checked += 1
            if path not in extracted:
                unaltered.fail(f"{path}：清单（manifest-{algorithm}）中有，包内缺失")
            elif extracted[path][1][algorithm] != digest:
                unaltered.fail(f"{path}：{algorithm} 与清单（manifest-{algorithm}.txt）不一致")
        for path in sorted(set(extracted) - set(manifest)):
            unaltered.fail(f"{path}：包内有，清单（manifest-{algorithm}）中没有")
    for algorithm in ALGORITHMS:
        text = bag.read_text(f"tagmanifest-{algorithm}.txt")
        if text is None:
            unaltered.fail(f"缺少 tagmanifest-{algorithm}.txt")
            continue
        for path, digest in sorted(parse_manifest(text).items()):
            unaltered.checked += 1
            if path not in bag.entries or bag.digests(path)[algorithm] != digest:
                unaltered.fail(f"{path}：与标签清单（tagmanifest-{algorithm}.txt）不一致")


def _check_package(report: Report, export: Export, content: ScopeContent, bag: BagReader, work: Path) -> None:
    extracted = _extract_payload(bag, work)
    _check_bag(report, export, bag, extracted)
    required, counts = report["integrity.required_metadata"], report["integrity.counts"]
    encryption = report["security.no_encryption"]
    for entry in bag.entries.values():
        if entry.encrypted:
            encryption.fail(f"{entry.path}：封装包中的条目被加密")

    info = dict(parse_bag_info(bag.read_text("bag-info.txt") or ""))
    for label in _BAG_INFO_REQUIRED:
        required.checked += 1
        if not info.get(label):
            required.fail(f"bag-info.txt 缺少 {label}")
    payload_bytes = sum(size for _, _, size in extracted.values())
    counts.checked += 1
    oxum = f"{payload_bytes}.{len(extracted)}"
    if info.get("Payload-Oxum") and info["Payload-Oxum"] != oxum:
        counts.fail(f"Payload-Oxum 记为 {info['Payload-Oxum']}，包内实际为 {oxum}（字节数.文件数）")
    if export.file_count is not None and export.file_count != len(extracted):
        counts.fail(f"制作时登记 {export.file_count} 个文件，包内现有 {len(extracted)} 个")
    if export.payload_bytes is not None and export.payload_bytes != payload_bytes:
        counts.fail(f"制作时登记 {export.payload_bytes} 字节，包内现有 {payload_bytes} 字节")

    mets_path = f"data/METS.{export.uuid}.xml"
    if mets_path not in extracted:
        required.fail(f"缺少 METS 文档 {mets_path}")
        for item_id in ("authenticity.fixity", "authenticity.metadata_agreement", "integrity.process_records"):
            report[item_id].fail("缺少 METS 文档，无法核对")
        return
    try:
        _tree, described, dublin_core = mets.parse_mets(extracted[mets_path][0].read_bytes())
    except etree.XMLSyntaxError as exc:
        required.fail(f"METS 文档无法解析：{exc}")
        return

    recorded = {f"data/{item.path}": item for item in stored_files(content)}
    described_paths = {f.path for f in described}
    counts.checked += 1
    for path in sorted(described_paths - set(extracted)):
        counts.fail(f"{path}：METS 中登记，包内缺失")
    for path in sorted(set(extracted) - described_paths - {mets_path}):
        counts.fail(f"{path}：包内有，METS 中没有登记")
    counts.note(f"METS 登记 {len(described)} 个文件，包内 {len(extracted)} 个（含 METS），共 {payload_bytes} 字节")

    _check_described(report, described, extracted, recorded)
    _check_dublin_core(report, content, dublin_core)
    persons_described = {f.path for f in described if "/eac-cpf/" in f.path}
    for person in content.persons:
        required.checked += 1
        if f"data/objects/metadata/eac-cpf/person-{person.id}.xml" not in persons_described:
            required.fail(f"人物 {person.id}（{person.name}）缺少 EAC-CPF 记录")
    _archival_codes(report, content)
    targets = [Target(f.path, f.use, f.mime, extracted[f.path][0]) for f in described if f.path in extracted]
    _usability_and_security(report, targets, work / "data")


def _check_described(report: Report, described: list[mets.MetsFile],
                     extracted: dict[str, tuple[Path, dict[str, str], int]], recorded: dict[str, PackageFile]) -> None:
    fixity, agreement = report["authenticity.fixity"], report["authenticity.metadata_agreement"]
    required, process = report["integrity.required_metadata"], report["integrity.process_records"]
    for item in described:
        required.checked += 1
        missing = [label for label, value in (("sha256", item.sha256), ("size", item.size), ("format",
                   item.format_name), ("originalName", item.original_name)) if value in (None, "")]
        if missing:
            required.fail(f"{item.path}：PREMIS 缺少 {'、'.join(missing)}")
        process.checked += 1
        kind = item.use if item.use != "transcript" else \
            f"transcript-{'approved' if item.path.rsplit('-', 1)[-1].startswith('approved') else 'machine'}"
        present = {event_type for event_type, _ in item.events}
        lacking = [event for event in REQUIRED_EVENTS.get(kind, ()) if event not in present]
        if lacking:
            process.fail(f"{item.path}：缺少过程记录 {'、'.join(lacking)}")
        if item.path not in extracted:
            continue  # reported once, under integrity.counts
        local, digests, size = extracted[item.path]
        record = recorded.get(item.path)
        fixity.checked += 1
        if digests["sha256"] != item.sha256:
            fixity.fail(f"{item.path}：SHA-256 为 {digests['sha256']}，METS 登记为 {item.sha256}")
        elif record is not None and record.sha256 != digests["sha256"]:
            fixity.fail(f"{item.path}：SHA-256 为 {digests['sha256']}，档案系统登记为 {record.sha256}")
        agreement.checked += 1
        if item.size != size:
            agreement.fail(f"{item.path}：大小为 {size} 字节，METS（premis:size）登记为 {item.size}")
        if item.format_name and item.format_name != item.mime:
            agreement.fail(f"{item.path}：METS 的格式 {item.format_name} 与 MIMETYPE {item.mime} 不一致")
        if record is None:
            continue
        if record.size != item.size:
            agreement.fail(f"{item.path}：METS 登记大小 {item.size}，档案系统登记 {record.size}")
        if record.mime != item.mime:
            agreement.fail(f"{item.path}：METS 登记格式 {item.mime}，档案系统登记 {record.mime}")
        if record.use == "original":
            expected_name = record.original_name or item.path.rsplit("/", 1)[-1]
            if item.original_name != expected_name:
                agreement.fail(f"{item.path}：METS 的原始文件名（premis:originalName）为「{item.original_name}」，"
                               f"档案系统登记为「{expected_name}」")
            ingested = [date for event_type, date in item.events if event_type == mets.INGESTION]
            if ingested and ingested[0] != mets.iso_utc(record.created_at):
                agreement.fail(f"{item.path}：METS 的接收日期 {ingested[0]} 与档案系统 {mets.iso_utc(record.created_at)} "
                               "不一致")
            sniffed = _sniffed_mime(local)
            if sniffed is not None and sniffed != record.mime:
                agreement.fail(f"{item.path}：按内容识别为 {sniffed}，登记格式为 {record.mime}")


def _sniffed_mime(path: Path) -> str | None:
    try:
        return sniff(path).mime
    except MediaError:
        return None  # usability.opens reports files that do not open


def _dc_values(element: etree._Element) -> list[tuple[str, str]]:
    return sorted((etree.QName(child).localname, (child.text or "").strip()) for child in element
                  if isinstance(child.tag, str))


def _check_dublin_core(report: Report, content: ScopeContent, packaged: dict[str, etree._Element]) -> None:
    """Each material's and interview's Dublin Core in the METS against the archive's description now."""
    agreement, required = report["authenticity.metadata_agreement"], report["integrity.required_metadata"]
    for kind, records in (("interview", content.interviews), ("material", content.materials)):
        for record in records:
            dmd_id = f"dmd-{kind}-{record.id}"
            required.checked += 1
            element = packaged.get(dmd_id)
            if element is None:
                required.fail(f"{'访谈' if kind == 'interview' else '资料'} {record.id}：METS 中缺少都柏林核心元数据")
                continue
            values = _dc_values(element)
            for name in ("title", "identifier", "type"):
                if not any(n == name and v for n, v in values):
                    required.fail(f"{dmd_id}：缺少 dc:{name}")
            agreement.checked += 1
            now = _dc_values(crosswalks.dublin_core_element(record, audience=packages.STAFF))
            if values != now:
                changed = sorted({n for n, v in set(values) ^ set(now)})
                agreement.fail(f"{dmd_id}：包内 dc:{'、dc:'.join(changed)} 与档案系统当前记录不一致")


# --- a scope on demand ----------------------------------------------------------------------------------------------

def scope_report(actor: User, scope: str, ids: list[int]) -> dict[str, Any]:
    """The report of a scope as the storage and the database hold it now (no package: nothing to be unaltered)."""
    packages.require_archivist(actor)
    content = resolve(scope, ids)
    report = Report()
    storage = get_storage()
    fixity, agreement = report["authenticity.fixity"], report["authenticity.metadata_agreement"]
    counts, required = report["integrity.counts"], report["integrity.required_metadata"]
    process = report["integrity.process_records"]
    tmp_root = Path(current_app.instance_path) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    files = stored_files(content)
    targets: list[Target] = []
    total = 0
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="report-") as work:
        scan_root = Path(work) / "files"
        scan_root.mkdir()
        for number, item in enumerate(files):
            assert item.storage_key is not None
            counts.checked += 1
            local = scan_root / f"{number:06d}{Path(item.path).suffix}"
            try:
                with storage.open_range(item.storage_key) as stream, open(local, "wb") as out:
                    digest, size = hashlib.sha256(), 0
                    while chunk := stream.read(CHUNK_SIZE):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            except ObjectNotFound:
                counts.fail(f"{item.path}：存储中缺失（{item.storage_key}）")
                continue
            total += size
            fixity.checked += 1
            if digest.hexdigest() != item.sha256:
                fixity.fail(f"{item.path}：SHA-256 为 {digest.hexdigest()}，登记为 {item.sha256}")
            agreement.checked += 1
            if size != item.size:
                agreement.fail(f"{item.path}：大小为 {size} 字节，登记为 {item.size}")
            sniffed = _sniffed_mime(local)
            if item.use == "original" and sniffed is not None and sniffed != item.mime:
                agreement.fail(f"{item.path}：按内容识别为 {sniffed}，登记格式为 {item.mime}")
            targets.append(Target(item.path, item.use, item.mime, local))
        counts.note(f"档案系统登记 {len(files)} 个文件，存储中找到 {len(targets)} 个，共 {total} 字节")
        _required_in_database(report, content)
        for item in files:
            if item.use == "original" and item.material_id is not None:
                process.checked += 1
                if not db.session.scalar(select(AuditEvent.id).where(
                        AuditEvent.entity_type == "material", AuditEvent.entity_id == str(item.material_id),
                        AuditEvent.action == "create").limit(1)):
                    process.fail(f"资料 {item.material_id}：缺少接收（ingestion）记录")
        for transcript in content.transcripts:
            process.checked += 1
            if transcript.status == "approved" and transcript.approved_at is None:
                process.fail(f"转写稿 {transcript.id}：已审核，但没有审核记录")
        _archival_codes(report, content)
        _usability_and_security(report, targets, scan_root if targets else None)
    report["security.unaltered"].skip("按需检测：没有封装包，请对封装包（/exports/{id}/report）检测此项")
    return report.finish({"scope": scope, "ids": content.ids, "export_id": None, "package": None})


def _required_in_database(report: Report, content: ScopeContent) -> None:
    required = report["integrity.required_metadata"]
    for person in content.persons:
        required.checked += 1
        if not person.name or not person.category:
            required.fail(f"人物 {person.id}：缺少姓名或类别")
    for interview in content.interviews:
        required.checked += 1
        lacking = [label for label, value in (("日期", interview.date), ("地点", interview.place),
                                              ("采访者", interview.interviewers),
                                              ("受访者", interview.interviewee_ids)) if not value]
        if lacking:
            required.fail(f"访谈 {interview.id}：缺少{'、'.join(lacking)}")
    for material in content.materials:
        required.checked += 1
        lacking = [label for label, value in (("题名", material.title), ("格式", material.mime),
                                              ("SHA-256", material.sha256), ("大小", material.size))
                   if value in (None, "")]
        if lacking:
            required.fail(f"资料 {material.id}：缺少{'、'.join(lacking)}")


# --- rendering --------------------------------------------------------------------------------------------------

def render(report: dict[str, Any], fmt: str) -> tuple[bytes, str]:
    """The report as (body, content type): json, or the printable Chinese html / pdf."""
    if fmt == "json":
        return json.dumps(report, ensure_ascii=False, indent=2).encode("utf-8"), "application/json"
    html = printable.render_html("dat70_report.html", report=report, labels=RESULT_LABELS,
                                 scope_labels={"person": "人物", "interview": "访谈", "project": "采集项目"})
    if fmt == "html":
        return html.encode("utf-8"), "text/html; charset=utf-8"
    return printable.html_to_pdf(html), "application/pdf"

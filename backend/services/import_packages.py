"""A Liufang preservation package (BagIt bag with METS, EAC-CPF per person, Dublin Core per interview and material)
read back as import rows: the same check and run as a manifest, so a package made by one archive can be imported by
another (or by the same one after a loss) with its persons, interviews, files, links and fixity."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from backend.services.import_manifest import COLUMNS_BY_KEY, ManifestRow, Report
from backend.services.import_sources import DirectorySource, ZipSource

EAC_NS = "urn:isbn:1-931666-33-4"
DC_NS = "http://purl.org/dc/elements/1.1/"
_EAC = {"e": EAC_NS}
_DC = {"dc": DC_NS}
_RECORD = re.compile(r"(?:/(persons|interviews|materials)/|(person|interview|material):)(\d+)$")
_METADATA = re.compile(r"^data/objects/metadata/(eac-cpf|dc)/(person|interview|material)-(\d+)\.xml$")
_ORIGINAL = re.compile(r"^data/objects/(?:materials|consents)/material-(\d+)/original/[^/]+$")
_INTERVIEWER = re.compile(r"（采访者）$")
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


def is_package(source: DirectorySource | ZipSource) -> bool:
    names = set(source.names())
    return "bagit.txt" in names and any(_METADATA.match(name) for name in names)


@dataclass
class _Record:
    kind: str
    number: int
    path: str
    root: etree._Element


def _read(source: DirectorySource | ZipSource, name: str) -> bytes:
    entry = source.locate(name)
    with source.open(entry) as stream:
        return stream.read(32 * 1024 * 1024)  # a metadata document, small


def _ref(value: str) -> str | None:
    match = _RECORD.search(value.strip())
    if match is None:
        return None
    kind = (match.group(1) or "")[:-1] or match.group(2)
    return f"{kind}:{match.group(3)}"


def _texts(root: etree._Element, path: str, namespaces: dict[str, str]) -> list[str]:
    return ["".join(node.itertext()).strip() for node in root.xpath(path, namespaces=namespaces)]


def _local_terms(root: etree._Element, local_type: str) -> list[str]:
    """The terms of the localDescriptions whose localType ends in ``/local_type``."""
    return ["".join(term.itertext()).strip()
            for node in root.xpath("//e:localDescription", namespaces=_EAC)
            if (node.get("localType") or "").rsplit("/", 1)[-1] == local_type
            for term in node.xpath("e:term", namespaces=_EAC)]


def _first(root: etree._Element, path: str, namespaces: dict[str, str]) -> str | None:
    values = [value for value in _texts(root, path, namespaces) if value]
    return values[0] if values else None


def _bag_manifest(source: DirectorySource | ZipSource) -> dict[str, str]:
    """payload path → sha256, as the bag's manifest-sha256.txt records it."""
    try:
        text = _read(source, "manifest-sha256.txt").decode("utf-8")
    except Exception:  # noqa: BLE001 - a bag without one is reported by the check of each file
        return {}
    sums = {}
    for line in text.splitlines():
        digest, _, path = line.strip().partition(" ")
        if digest and path:
            sums[path.strip().replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")] = digest.lower()
    return sums


def _person(record: _Record) -> dict[str, Any]:
    root = record.root
    cells: dict[str, Any] = {"type": "person", "ref": f"person:{record.number}"}
    name = _first(root, "//e:identity/e:nameEntryParallel/e:nameEntry[@scriptCode='Hans']/e:part", _EAC) or \
        _first(root, "//e:identity//e:nameEntry/e:part", _EAC)
    if name:
        cells["name"] = name
    aliases = _texts(root, "//e:identity/e:nameEntry/e:part", _EAC)
    if aliases:
        cells["aliases"] = "；".join(aliases)
    for local_type in ("category", "gender", "ethnicity"):
        values = [value for value in _local_terms(root, local_type) if value]
        if values:
            cells[local_type] = values[0]
    tags = [value for value in _local_terms(root, "tag") if value]
    if tags:
        cells["tags"] = "；".join(tags)
    for tag, key in (("fromDate", "birth_date"), ("toDate", "death_date")):
        nodes = root.xpath(f"//e:existDates//e:{tag}", namespaces=_EAC)
        if nodes and nodes[0].get("standardDate"):
            cells[key] = nodes[0].get("standardDate")
    for place in root.xpath("//e:places/e:place", namespaces=_EAC):
        entry = _first(place, "e:placeEntry", _EAC)
        if not entry:
            continue
        if (place.get("localType") or "").endswith("native_place"):
            cells["native_place"] = entry
        elif (place.get("localType") or "").endswith("area"):
            for key, part in zip(("district", "town", "village"), entry.split(" ")):
                cells[key] = part
    occupation = _first(root, "//e:occupations/e:occupation/e:term", _EAC)
    if occupation:
        cells["occupation"] = occupation
    paragraphs = [p for p in _texts(root, "//e:biogHist/e:p", _EAC) if p]
    if paragraphs:
        cells["biography"] = "\n\n".join(paragraphs)
    honours = [f"{item.xpath('e:date/@standardDate', namespaces=_EAC)[0]} {_first(item, 'e:event', _EAC)}"
               for item in root.xpath("//e:biogHist/e:chronList/e:chronItem", namespaces=_EAC)
               if item.xpath("e:date/@standardDate", namespaces=_EAC) and _first(item, "e:event", _EAC)]
    honours += [item for item in _texts(root, "//e:biogHist/e:list/e:item", _EAC) if item]
    if honours:
        cells["honours"] = "；".join(honours)
    return cells


def _interview(record: _Record, persons: set[str]) -> dict[str, Any]:
    root = record.root
    cells: dict[str, Any] = {"type": "interview", "ref": f"interview:{record.number}"}
    for key, element in (("title", "title"), ("date", "date"), ("place", "coverage")):
        value = _first(root, f"dc:{element}", _DC)
        if value:
            cells[key] = value
    interviewers = [_INTERVIEWER.sub("", value) for value in _texts(root, "dc:contributor", _DC)
                    if _INTERVIEWER.search(value)]
    if interviewers:
        cells["interviewers"] = "；".join(interviewers)
    interviewees = [ref for ref in (_ref(value) for value in _texts(root, "dc:relation", _DC)) if ref in persons]
    if interviewees:
        cells["interviewees"] = "；".join(interviewees)
    return cells


def _access(rights: str | None) -> dict[str, str]:
    if not rights:
        return {}
    cells = {"access_level": "open" if rights.startswith("开放") else "closed" if rights.startswith("不开放")
             else "restricted"}
    embargo = re.search(r"保密期至 (\d{4}-\d{2}-\d{2})", rights)
    if embargo:
        cells["embargo_until"] = embargo.group(1)
    return cells


def _material(record: _Record, original: str | None, persons: dict[str, str], interviews: set[str]
              ) -> dict[str, Any]:
    root = record.root
    cells: dict[str, Any] = {"type": "file", "ref": f"material:{record.number}", "path": original or ""}
    for key, element in (("title", "title"), ("description", "description"), ("captured_at", "date"),
                         ("place", "coverage")):
        value = _first(root, f"dc:{element}", _DC)
        if value:
            cells[key] = value
    identifiers = _texts(root, "dc:identifier", _DC)
    digest = next((value.removeprefix("urn:sha256:") for value in identifiers if value.startswith("urn:sha256:")),
                  None)
    if digest:
        cells["sha256"] = digest
    refs = [_ref(value) for value in _texts(root, "dc:relation", _DC)]
    linked = [ref for ref in refs if ref in persons]
    if linked:
        cells["persons"] = "；".join(linked)
        creators = set(_texts(root, "dc:creator", _DC))
        cells["role"] = "interviewee" if any(persons[ref] in creators for ref in linked) else "subject"
    interview = next((ref for ref in refs if ref in interviews), None)
    if interview:
        cells["interview"] = interview
    cells.update(_access(_first(root, "dc:rights", _DC)))
    return cells


def package_rows(source: DirectorySource | ZipSource, report: Report) -> list[ManifestRow]:
    """The rows a package stands for: its persons (EAC-CPF), interviews and materials (Dublin Core, each with its
    original file; the bag's recorded SHA-256 must agree with the archive's). Derivatives and transcripts are
    made again by processing; consents, transcripts' edits and personal data are not in an interop package."""
    records: dict[str, list[_Record]] = {"person": [], "interview": [], "material": []}
    originals: dict[int, str] = {}
    for name in source.names():
        match = _METADATA.match(name)
        if match:
            try:
                root = etree.fromstring(_read(source, name), _SAFE_PARSER)
            except etree.XMLSyntaxError as exc:
                report.error(None, name, "bad_package_metadata", f"元数据文件无法解析：{exc}")
                continue
            records[match.group(2)].append(_Record(match.group(2), int(match.group(3)), name, root))
        original = _ORIGINAL.match(name)
        if original:
            originals[int(original.group(1))] = name
    for kind in records:
        records[kind].sort(key=lambda record: record.number)
    persons = {f"person:{r.number}": _first(r.root, "//e:nameEntryParallel/e:nameEntry[@scriptCode='Hans']/e:part",
                                            _EAC) or "" for r in records["person"]}
    interviews = {f"interview:{r.number}" for r in records["interview"]}
    bag_sums = _bag_manifest(source)
    rows: list[ManifestRow] = []
    for record in records["person"]:
        rows.append(_row(len(rows) + 2, record, _person(record)))
    for record in records["interview"]:
        rows.append(_row(len(rows) + 2, record, _interview(record, set(persons))))
    for record in records["material"]:
        original = originals.get(record.number)
        cells = _material(record, original, persons, interviews)
        row = _row(len(rows) + 2, record, cells)
        if original is None:
            report.error(row.number, record.path, "missing_file", "包中没有该资料的原件")
        elif cells.get("sha256") and bag_sums.get(original, cells["sha256"]) != cells["sha256"]:
            report.error(row.number, record.path, "sha256_mismatch",
                         "包的 manifest-sha256.txt 与档案记录的固定性校验值不一致", original)
        rows.append(row)
    return rows


def _row(number: int, record: _Record, cells: dict[str, Any]) -> ManifestRow:
    headers = {key: f"{record.path.rsplit('/', 1)[-1]}: {COLUMNS_BY_KEY[key].header}" for key in cells}
    return ManifestRow(number, cells, headers)

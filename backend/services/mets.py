"""The package's METS document, shaped like an Archivematica AIP: a dmdSec (Dublin Core) per material and
interview, an amdSec per file with its PREMIS 3 object (SHA-256 fixity, size, format with its PRONOM key, original
name) and the PREMIS events and agents of its history (from the audit trail, fixity checks, processing and
transcript revisions); and the parser the four-property report reads it back with."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from lxml import etree
from sqlalchemy import select

from backend.extensions import db
from backend.models import AuditEvent, FixityEvent, TranscriptRevision, User
from backend.services.package_contents import PackageFile, ScopeContent
from media.bag import Written

METS = "http://www.loc.gov/METS/"
PREMIS = "http://www.loc.gov/premis/v3"
XLINK = "http://www.w3.org/1999/xlink"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
DC = "http://purl.org/dc/elements/1.1/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
NSMAP = {"mets": METS, "premis": PREMIS, "xlink": XLINK, "xsi": XSI, "dc": DC, "oai_dc": OAI_DC}
SCHEMA_LOCATION = ("http://www.loc.gov/METS/ http://www.loc.gov/standards/mets/version1121/mets.xsd "
                   "http://www.loc.gov/premis/v3 http://www.loc.gov/standards/premis/v3/premis-v3-0.xsd")
# Namespace for the files' UUIDs: the same package file always gets the same identifier.
FILE_UUID_NAMESPACE = uuid.UUID("8a1f6f2e-4c1b-5e0a-9d3c-6b7f1e2a9c40")

#: MIME type → (format name, PRONOM key); the key is looked up from the type the content was identified as.
FORMATS: dict[str, tuple[str, str | None]] = {
    "audio/mpeg": ("MPEG 1/2 Audio Layer 3", "fmt/134"),
    "audio/wav": ("Waveform Audio File Format (WAVE)", "fmt/141"),
    "audio/x-wav": ("Waveform Audio File Format (WAVE)", "fmt/141"),
    "audio/flac": ("Free Lossless Audio Codec", "fmt/279"),
    "audio/mp4": ("MPEG-4 Media File", "fmt/199"),
    "audio/aac": ("Advanced Audio Coding (ADTS)", None),
    "audio/amr": ("Adaptive Multi-Rate Audio", "fmt/356"),
    "audio/ogg": ("Ogg", None),
    "video/mp4": ("MPEG-4 Media File", "fmt/199"),
    "video/quicktime": ("Quicktime", "x-fmt/384"),
    "video/3gpp": ("3GPP Audio/Video File", None),
    "video/webm": ("WebM", None),
    "video/x-matroska": ("Matroska", None),
    "image/jpeg": ("JPEG File Interchange Format", "fmt/43"),
    "image/png": ("Portable Network Graphics", "fmt/13"),
    "image/webp": ("WebP", "fmt/567"),
    "image/heic": ("High Efficiency Image File Format (HEIC)", None),
    "image/tiff": ("Tagged Image File Format", "fmt/353"),
    "application/pdf": ("Portable Document Format", "fmt/276"),
    "application/json": ("JSON Data Interchange Format", "fmt/817"),
    "application/xml": ("Extensible Markup Language", "fmt/101"),
    "text/vtt": ("WebVTT", None),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document":
        ("Microsoft Word for Windows (OOXML)", "fmt/412"),
}

# PREMIS event types (Library of Congress event-type vocabulary where one fits).
INGESTION, DIGEST, FORMAT_ID, FIXITY = "ingestion", "message digest calculation", "format identification", \
    "fixity check"
CREATION, TRANSCRIPTION, MODIFICATION, APPROVAL = "creation", "transcription", "modification", "approval"
_AUDIT_EVENT_TYPES = {"create": CREATION, "update": MODIFICATION, "approve": APPROVAL, "publish": "publication",
                      "withdraw": "withdrawal", "submit": "submission", "return": "return", "link": MODIFICATION,
                      "unlink": MODIFICATION, "review": "review", "revert": MODIFICATION}


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


def iso_utc(value: datetime) -> str:
    return value.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@dataclass
class Agent:
    kind: str            # software, organization, person
    value: str           # identifier value
    name: str
    identifier_type: str = "preservation system"


@dataclass
class Event:
    type: str
    at: datetime
    detail: str = ""
    outcome: str = "pass"
    outcome_note: str = ""
    agents: list[str] = field(default_factory=list)   # agent identifier values

    @property
    def identifier(self) -> str:
        return str(uuid.uuid5(FILE_UUID_NAMESPACE, f"{self.type}|{self.at.isoformat()}|{self.detail}"))


class Agents:
    """The agents a document names: the software, the archive, and each user who took part."""

    def __init__(self, software: str, archive: str) -> None:
        self.software = Agent("software", software, software, "preservation system")
        self.archive = Agent("organization", archive, archive, "repository name")
        self.by_value: dict[str, Agent] = {a.value: a for a in (self.software, self.archive)}
        self._users: dict[int, str] = {}

    def user(self, user_id: int | None) -> list[str]:
        if user_id is None:
            return [self.software.value, self.archive.value]
        if user_id not in self._users:
            user = db.session.get(User, user_id)
            value = f"liufang-user-{user_id}"
            self.by_value[value] = Agent("person", value, (user.display_name or user.username) if user else value,
                                         "Liufang user")
            self._users[user_id] = value
        return [self._users[user_id], self.archive.value]

    def tool(self, name: str) -> list[str]:
        if name not in self.by_value:
            self.by_value[name] = Agent("software", name, name, "software")
        return [name, self.archive.value]


def file_uuid(package_uuid: str, path: str) -> str:
    return str(uuid.uuid5(FILE_UUID_NAMESPACE, f"{package_uuid}/{path}"))


def _audit(entity_type: str, entity_id: int) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.entity_type == entity_type, AuditEvent.entity_id == str(entity_id)).order_by(AuditEvent.id)))


def events_for(item: PackageFile, agents: Agents, *, build_fixity: dict[str, Any] | None) -> list[Event]:
    """The PREMIS events of one package file, oldest first."""
    events: list[Event] = []
    if item.use == "original" and item.material_id is not None:
        audits = _audit("material", item.material_id)
        creator = next((a.actor_id for a in audits if a.action == "create"), None)
        events += [Event(INGESTION, item.created_at, "上传接收，原件按内容寻址保存", agents=agents.user(creator)),
                   Event(DIGEST, item.created_at, f"program=\"Liufang\"; algorithm=\"sha256\"",
                         outcome_note=item.sha256 or "", agents=agents.tool("hashlib sha256")),
                   Event(FORMAT_ID, item.created_at, "program=\"Liufang media.sniff (magic numbers, ffprobe)\"",
                         outcome_note=item.mime, agents=agents.tool("Liufang media.sniff"))]
        for fixity in db.session.scalars(select(FixityEvent).where(FixityEvent.material_id == item.material_id)
                                         .order_by(FixityEvent.id)):
            events.append(Event(FIXITY, fixity.checked_at, "program=\"liufang fixity check\"; algorithm=\"sha256\"",
                                "pass" if fixity.outcome == "ok" else "fail",
                                fixity.actual_sha256 or fixity.detail or fixity.outcome, agents=agents.tool(
                                    "liufang fixity check")))
        for audit in audits:
            if audit.action != "create":
                events.append(Event(_AUDIT_EVENT_TYPES.get(audit.action, audit.action), audit.created_at,
                                    f"元数据变更：{', '.join(sorted(audit.changes)) or audit.action}",
                                    agents=agents.user(audit.actor_id)))
    elif item.use == "derivative":
        events.append(Event(CREATION, item.created_at, f"由原件生成 {item.variant}（ffmpeg / Pillow / pdfium）",
                            outcome_note=item.sha256 or "", agents=agents.tool("FFmpeg")))
        events.append(Event(DIGEST, item.created_at, "algorithm=\"sha256\"", outcome_note=item.sha256 or "",
                            agents=agents.tool("hashlib sha256")))
    elif item.use == "transcript" and item.transcript_id is not None:
        events += _transcript_events(item, agents)
    elif item.use == "metadata" and item.person_id is not None:
        for audit in _audit("person", item.person_id):
            events.append(Event(_AUDIT_EVENT_TYPES.get(audit.action, audit.action), audit.created_at,
                                f"人物档案 {audit.action}", agents=agents.user(audit.actor_id)))
    if build_fixity is not None:
        events.append(Event(FIXITY, build_fixity["at"], "封装时重新计算 sha256 并与登记值比对",
                            "pass" if build_fixity["ok"] else "fail", build_fixity["sha256"],
                            agents=agents.tool(agents.software.value)))
    events.sort(key=lambda e: e.at)
    return events


def _transcript_events(item: PackageFile, agents: Agents) -> list[Event]:
    from_db = db.session.scalars(select(TranscriptRevision).where(
        TranscriptRevision.transcript_id == item.transcript_id).order_by(TranscriptRevision.number)).all()
    events = []
    for revision in from_db:
        if revision.number == 1:
            events.append(Event(TRANSCRIPTION, revision.created_at, "机器转写（语音识别）",
                                agents=agents.tool("faster-whisper")))
        elif item.revision == "approved":
            events.append(Event(MODIFICATION, revision.created_at,
                                f"校对修订 {revision.number}：{revision.summary}", agents=agents.user(
                                    revision.created_by_id)))
    if item.revision == "approved":
        for audit in _audit("transcript", item.transcript_id or 0):
            if audit.action == "approve":
                events.append(Event(APPROVAL, audit.created_at, "档案员审核通过", agents=agents.user(audit.actor_id)))
        if not any(e.type == APPROVAL for e in events):
            events.append(Event(APPROVAL, item.created_at, "审核通过", agents=agents.user(None)))
    return events


# --- writing --------------------------------------------------------------------------------------------------

def _sub(parent: etree._Element, ns: str, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    element = etree.SubElement(parent, _q(ns, tag), {k: v for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _premis_object(parent: etree._Element, item: PackageFile, written: Written, identifier: str) -> None:
    obj = _sub(parent, PREMIS, "object", version="3.0")
    obj.set(_q(XSI, "type"), "premis:file")
    ident = _sub(obj, PREMIS, "objectIdentifier")
    _sub(ident, PREMIS, "objectIdentifierType", "UUID")
    _sub(ident, PREMIS, "objectIdentifierValue", identifier)
    characteristics = _sub(obj, PREMIS, "objectCharacteristics")
    _sub(characteristics, PREMIS, "compositionLevel", "0")
    fixity = _sub(characteristics, PREMIS, "fixity")
    _sub(fixity, PREMIS, "messageDigestAlgorithm", "sha256")
    _sub(fixity, PREMIS, "messageDigest", written.sha256)
    _sub(fixity, PREMIS, "messageDigestOriginator", "Liufang")
    _sub(characteristics, PREMIS, "size", str(written.size))
    fmt = _sub(characteristics, PREMIS, "format")
    name, key = FORMATS.get(item.mime, (item.mime, None))
    designation = _sub(fmt, PREMIS, "formatDesignation")
    _sub(designation, PREMIS, "formatName", item.mime)
    if key is not None:
        registry = _sub(fmt, PREMIS, "formatRegistry")
        _sub(registry, PREMIS, "formatRegistryName", "PRONOM")
        _sub(registry, PREMIS, "formatRegistryKey", key)
        _sub(registry, PREMIS, "formatRegistryRole", "identification")
    _sub(fmt, PREMIS, "formatNote", name)
    _sub(obj, PREMIS, "originalName", item.original_name or item.path.rsplit("/", 1)[-1])


def _premis_event(parent: etree._Element, event: Event, object_id: str) -> None:
    element = _sub(parent, PREMIS, "event")
    ident = _sub(element, PREMIS, "eventIdentifier")
    _sub(ident, PREMIS, "eventIdentifierType", "UUID")
    _sub(ident, PREMIS, "eventIdentifierValue", event.identifier)
    _sub(element, PREMIS, "eventType", event.type)
    _sub(element, PREMIS, "eventDateTime", iso_utc(event.at))
    if event.detail:
        _sub(_sub(element, PREMIS, "eventDetailInformation"), PREMIS, "eventDetail", event.detail)
    outcome = _sub(element, PREMIS, "eventOutcomeInformation")
    _sub(outcome, PREMIS, "eventOutcome", event.outcome)
    if event.outcome_note:
        _sub(_sub(outcome, PREMIS, "eventOutcomeDetail"), PREMIS, "eventOutcomeDetailNote", event.outcome_note)
    for value in event.agents:
        link = _sub(element, PREMIS, "linkingAgentIdentifier")
        _sub(link, PREMIS, "linkingAgentIdentifierType", "Liufang agent")
        _sub(link, PREMIS, "linkingAgentIdentifierValue", value)
    link = _sub(element, PREMIS, "linkingObjectIdentifier")
    _sub(link, PREMIS, "linkingObjectIdentifierType", "UUID")
    _sub(link, PREMIS, "linkingObjectIdentifierValue", object_id)


def _premis_agent(parent: etree._Element, agent: Agent) -> None:
    element = _sub(parent, PREMIS, "agent")
    ident = _sub(element, PREMIS, "agentIdentifier")
    _sub(ident, PREMIS, "agentIdentifierType", "Liufang agent")
    _sub(ident, PREMIS, "agentIdentifierValue", agent.value)
    _sub(element, PREMIS, "agentName", agent.name)
    _sub(element, PREMIS, "agentType", {"software": "software", "organization": "organization",
                                        "person": "person"}[agent.kind])


def _wrap(parent: etree._Element, tag: str, element_id: str, mdtype: str) -> etree._Element:
    section = _sub(parent, METS, tag, ID=element_id)
    return _sub(_sub(section, METS, "mdWrap", MDTYPE=mdtype), METS, "xmlData")


_GROUPS = (("original", "original"), ("derivative", "derivative"), ("transcript", "transcript"),
           ("metadata", "metadata"))


def build_mets(*, package_uuid: str, content: ScopeContent, entries: list[tuple[PackageFile, Written, list[Event]]],
               agents: Agents, dublin_core: dict[str, etree._Element], created_at: datetime) -> bytes:
    """The METS document; ``dublin_core`` maps dmdSec ids (``dmd-material-3``, ``dmd-interview-2``) to oai_dc
    elements."""
    root = etree.Element(_q(METS, "mets"), nsmap=NSMAP, OBJID=package_uuid, LABEL=content.label,
                         TYPE="Archival Information Package", PROFILE="Liufang AIP (Archivematica-shaped)")
    root.set(_q(XSI, "schemaLocation"), SCHEMA_LOCATION)
    header = _sub(root, METS, "metsHdr", CREATEDATE=iso_utc(created_at))
    org = _sub(header, METS, "agent", ROLE="CREATOR", TYPE="ORGANIZATION")
    _sub(org, METS, "name", agents.archive.name)
    software = _sub(header, METS, "agent", ROLE="CREATOR", TYPE="OTHER", OTHERTYPE="SOFTWARE")
    _sub(software, METS, "name", agents.software.name)
    for record in [*content.persons, *content.interviews]:
        code = getattr(record, "archival_code", None)
        if code:  # the 档号 of each profile and interview in the package
            _sub(header, METS, "altRecordID", code, TYPE="archival_code")
    for dmd_id, element in dublin_core.items():
        _wrap(root, "dmdSec", dmd_id, "DC").append(element)
    file_ids: dict[str, str] = {}
    for number, (item, written, events) in enumerate(entries, start=1):
        identifier = file_uuid(package_uuid, written.path)
        amd = _sub(root, METS, "amdSec", ID=f"amdSec_{number}")
        _premis_object(_wrap(amd, "techMD", f"techMD_{number}", "PREMIS:OBJECT"), item, written, identifier)
        named: list[str] = []
        for index, event in enumerate(events, start=1):
            _premis_event(_wrap(amd, "digiprovMD", f"digiprovMD_{number}_{index}", "PREMIS:EVENT"), event,
                          identifier)
            named += [a for a in event.agents if a not in named]
        for index, value in enumerate(named, start=1):
            _premis_agent(_wrap(amd, "digiprovMD", f"digiprovMD_{number}_agent_{index}", "PREMIS:AGENT"),
                          agents.by_value[value])
        file_ids[written.path] = f"file-{identifier}"
    file_sec = _sub(root, METS, "fileSec")
    for use, label in _GROUPS:
        group_entries = [(n, e) for n, e in enumerate(entries, start=1) if e[0].use == use]
        if not group_entries:
            continue
        group = _sub(file_sec, METS, "fileGrp", USE=label)
        for number, (item, written, _events) in group_entries:
            attrs = {"ID": file_ids[written.path], "MIMETYPE": item.mime, "SIZE": str(written.size),
                     "CHECKSUM": written.sha256, "CHECKSUMTYPE": "SHA-256", "ADMID": f"amdSec_{number}",
                     "CREATED": iso_utc(item.created_at)}
            if item.material_id is not None and f"dmd-material-{item.material_id}" in dublin_core:
                attrs["DMDID"] = f"dmd-material-{item.material_id}"
                attrs["GROUPID"] = f"Group-material-{item.material_id}"
            element = _sub(group, METS, "file", **attrs)
            flocat = _sub(element, METS, "FLocat", LOCTYPE="OTHER", OTHERLOCTYPE="SYSTEM")
            flocat.set(_q(XLINK, "href"), written.path.removeprefix("data/"))
    struct = _sub(root, METS, "structMap", TYPE="physical", LABEL="Archivematica default")
    top = _sub(struct, METS, "div", TYPE="Directory", LABEL=f"liufang-{package_uuid}")
    interview_dmds = " ".join(k for k in dublin_core if k.startswith("dmd-interview-"))
    objects = _sub(top, METS, "div", TYPE="Directory", LABEL="objects", **({"DMDID": interview_dmds}
                                                                           if interview_dmds else {}))
    for item, written, _events in entries:
        _sub(_sub(objects, METS, "div", TYPE="Item", LABEL=written.path.rsplit("/", 1)[-1]), METS, "fptr",
             FILEID=file_ids[written.path])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


# --- reading --------------------------------------------------------------------------------------------------

@dataclass
class MetsFile:
    path: str            # data/...
    use: str
    mime: str
    size: int | None
    sha256: str | None
    original_name: str | None
    format_name: str | None
    events: list[tuple[str, str]]       # (type, date)


def parse_mets(data: bytes) -> tuple[etree._ElementTree, list[MetsFile], dict[str, etree._Element]]:
    """The files the METS document describes (with their PREMIS object and events) and its DC records by dmdSec."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False, load_dtd=False)
    tree = etree.ElementTree(etree.fromstring(data, parser))
    ns = {"mets": METS, "premis": PREMIS, "xlink": XLINK, "oai_dc": OAI_DC}
    amd = {element.get("ID"): element for element in tree.iterfind(".//mets:amdSec", ns)}
    text: Callable[[etree._Element, str], str | None] = lambda el, path: el.findtext(path, namespaces=ns)
    files = []
    for group in tree.iterfind(".//mets:fileSec/mets:fileGrp", ns):
        for element in group.iterfind("mets:file", ns):
            flocat = element.find("mets:FLocat", ns)
            href = flocat.get(_q(XLINK, "href")) if flocat is not None else None
            section = amd.get(element.get("ADMID"))
            obj = section.find(".//premis:object", ns) if section is not None else None
            size = text(obj, "premis:objectCharacteristics/premis:size") if obj is not None else None
            files.append(MetsFile(
                path=f"data/{href}" if href else "", use=group.get("USE") or "", mime=element.get("MIMETYPE") or "",
                size=int(size) if size and size.isdigit() else None,
                sha256=text(obj, "premis:objectCharacteristics/premis:fixity/premis:messageDigest") if obj is not None
                else None,
                original_name=text(obj, "premis:originalName") if obj is not None else None,
                format_name=text(obj, "premis:objectCharacteristics/premis:format/premis:formatDesignation/"
                                      "premis:formatName") if obj is not None else None,
                events=[(text(e, "premis:eventType") or "", text(e, "premis:eventDateTime") or "")
                        for e in (section.iterfind(".//premis:event", ns) if section is not None else [])]))
    dublin_core = {section.get("ID"): section.find(".//oai_dc:dc", ns)
                   for section in tree.iterfind(".//mets:dmdSec", ns)}
    return tree, files, {k: v for k, v in dublin_core.items() if v is not None}

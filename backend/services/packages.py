"""Preservation packages: an archivist asks for a scope (persons, interviews, projects), a job builds one BagIt 1.0
bag (zip or tar, SHA-256 and SHA-512 manifests) of its originals, derivatives, transcripts, consent forms and
metadata (METS with PREMIS and Dublin Core, EAC-CPF per person), streamed from the media storage, and keeps it in
the storage for download."""

from __future__ import annotations

import logging
import tempfile
import uuid
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

from flask import current_app
from lxml import etree
from sqlalchemy import select

from backend.errors import Conflict, Forbidden, NotFound
from backend.extensions import db
from backend.models import Export, FixityEvent, Job, User
from backend.models.types import utcnow
from backend.services import audit, crosswalks, jobs, mets, policy
from backend.services.package_contents import PackageFile, ScopeContent, resolve, stored_files, transcript_files
from backend.services.pagination import Page, paginate
from backend.services.policy import Permission
from backend.services.storage import get_storage
from media.bag import BagWriter, Written
from media.errors import ObjectNotFound
from media.hashing import sha256_file

log = logging.getLogger(__name__)
BUILD_KIND = "build_package"
PACKAGE_TYPES = {"zip": "application/zip", "tar": "application/x-tar"}
STAFF: crosswalks.Audience = "staff"


def software_name() -> str:
    try:
        return f"Liufang {version('liufang')}"
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "Liufang"


def require_archivist(actor: User) -> None:
    if not policy.can(actor, Permission.EXPORT_CREATE):
        raise Forbidden("只有档案员可以制作封装包和四性检测报告", code="export_forbidden")


# --- requests ----------------------------------------------------------------------------------------------------

def request_export(actor: User, scope: str, ids: list[int], fmt: str = "zip") -> Export:
    """Record an export of ``scope`` and queue the job that builds it (every record must exist now)."""
    require_archivist(actor)
    content = resolve(scope, ids)
    export = Export(uuid=str(uuid.uuid4()), scope=scope, ids=content.ids, format=fmt, status="queued",
                    created_by_id=actor.id, tag_digests={})
    db.session.add(export)
    db.session.flush()
    job = jobs.submit(BUILD_KIND, params={"export_id": export.id}, actor=actor, max_attempts=2)
    export.job_id = job.id
    audit.record("export", export.id, "create", actor, changes={
        "scope": {"before": None, "after": scope}, "ids": {"before": None, "after": content.ids}})
    db.session.flush()
    return export


def get_export(actor: User, export_id: int) -> Export:
    require_archivist(actor)
    export = db.session.get(Export, export_id)
    if export is None:
        raise NotFound("封装包不存在", code="export_not_found")
    return export


def list_exports(actor: User, *, page: int, per_page: int) -> Page[Export]:
    require_archivist(actor)
    return paginate(select(Export).order_by(Export.id.desc()), page, per_page)


def status_of(export: Export) -> str:
    """queued, running, succeeded or failed (a cancelled build counts as failed)."""
    if export.status in ("queued", "running") and export.job_id:
        job = db.session.get(Job, export.job_id)
        if job is not None and job.status in ("failed", "cancelled"):
            return "failed"
    return export.status


def progress_of(export: Export) -> float:
    if export.status == "succeeded":
        return 100.0
    job = db.session.get(Job, export.job_id) if export.job_id else None
    return float(job.progress) if job is not None else 0.0


def finished_export(actor: User, export_id: int) -> Export:
    """An export whose package exists (409 while it is queued or running, or after it failed)."""
    export = get_export(actor, export_id)
    if export.status != "succeeded" or export.storage_key is None:
        raise Conflict("封装包尚未制作完成", code="export_not_ready",
                       details={"status": status_of(export), "error": export.error})
    return export


def download_name(export: Export) -> str:
    return f"liufang-{export.uuid}.{'zip' if export.format == 'zip' else 'tar'}"


def bag_name(export: Export) -> str:
    return f"liufang-{export.uuid}"


# --- building (the job) ------------------------------------------------------------------------------------------

def metadata_files(content: ScopeContent) -> tuple[list[PackageFile], dict[str, etree._Element]]:
    """EAC-CPF per person and Dublin Core per material and interview (files in the bag), and the DC records for
    the METS dmdSecs. The staff audience: the archive's description, never ID numbers, phones or addresses."""
    now = utcnow()
    files: list[PackageFile] = []
    dublin_core: dict[str, etree._Element] = {}
    for person in content.persons:
        files.append(PackageFile(
            path=f"objects/metadata/eac-cpf/person-{person.id}.xml", use="metadata", mime="application/xml",
            created_at=now, content=crosswalks.eac_cpf_document(person, audience=STAFF), person_id=person.id))
    for kind, records in (("interview", content.interviews), ("material", content.materials)):
        for record in records:
            element = crosswalks.dublin_core_element(record, audience=STAFF)
            dublin_core[f"dmd-{kind}-{record.id}"] = element
            files.append(PackageFile(
                path=f"objects/metadata/dc/{kind}-{record.id}.xml", use="metadata", mime="application/xml",
                created_at=now, content=etree.tostring(element, xml_declaration=True, encoding="UTF-8",
                                                       pretty_print=True),
                material_id=record.id if kind == "material" else None,
                interview_id=record.id if kind == "interview" else None))
    return files, dublin_core


def bag_info(export: Export, content: ScopeContent) -> list[tuple[str, str]]:
    organisation = crosswalks.archive_name()
    info = [("Source-Organization", organisation)]
    if crosswalks.archive_code():
        info.append(("Organization-Identifier", crosswalks.archive_code() or ""))
    return info + [
        ("Bagging-Date", utcnow().date().isoformat()),
        ("External-Identifier", export.uuid),
        ("External-Description", f"{organisation} 长期保存封装包：{content.label}"),
        ("Internal-Sender-Identifier", f"liufang-export-{export.id}"),
        ("Bag-Software-Agent", f"{software_name()} (backend/services/packages.py)"),
        ("Liufang-Scope", f"{export.scope} {' '.join(str(i) for i in export.ids)}"),
    ]


def _build(job: Job, progress: Callable[[float], None]) -> dict[str, Any]:
    export = db.session.get(Export, job.params["export_id"])
    if export is None:
        raise jobs.PermanentFailure("封装包记录已不存在")
    content = resolve(export.scope, export.ids)
    stored = stored_files(content)
    generated = transcript_files(content)
    meta_files, dublin_core = metadata_files(content)
    total = sum(item.size or 0 for item in stored) or 1
    storage = get_storage()
    agents = mets.Agents(software_name(), crosswalks.archive_name())
    tmp_root = Path(current_app.instance_path) / "tmp"
    tmp_root.mkdir(parents=True, exist_ok=True)
    entries: list[tuple[PackageFile, Written, list[mets.Event]]] = []
    fixity_events: list[FixityEvent] = []
    with tempfile.TemporaryDirectory(dir=tmp_root, prefix="export-") as work:
        target = Path(work) / download_name(export)
        writer = BagWriter(target, bag_name(export), "zip" if export.format == "zip" else "tar")
        try:
            done = 0
            for item in stored:
                assert item.storage_key is not None and item.size is not None
                try:
                    with storage.open_range(item.storage_key) as stream:
                        written = writer.add_stream(f"data/{item.path}", stream, item.size)
                except ObjectNotFound:
                    raise jobs.PermanentFailure(f"存储中缺少文件：{item.path}") from None
                ok = written.sha256 == item.sha256 and written.size == item.size
                if not ok:
                    raise jobs.PermanentFailure(
                        f"固定性校验失败，未封装：{item.path}（登记 sha256 {item.sha256}，实际 {written.sha256}）")
                checked_at = utcnow()
                if item.use == "original" and item.material_id is not None:
                    fixity_events.append(FixityEvent(material_id=item.material_id, checked_at=checked_at,
                                                     outcome="ok", expected_sha256=item.sha256 or "",
                                                     actual_sha256=written.sha256,
                                                     detail=f"packaged in export {export.id}"))
                entries.append((item, written, mets.events_for(
                    item, agents, build_fixity={"at": checked_at, "ok": ok, "sha256": written.sha256})))
                done += item.size
                progress(90.0 * done / total)
            for item in [*generated, *meta_files]:
                assert item.content is not None
                written = writer.add_bytes(f"data/{item.path}", item.content)
                entries.append((item, written, mets.events_for(item, agents, build_fixity=None)))
            document = mets.build_mets(package_uuid=export.uuid, content=content, entries=entries, agents=agents,
                                       dublin_core=dublin_core, created_at=utcnow())
            writer.add_bytes(f"data/METS.{export.uuid}.xml", document)
            tag_digests = writer.finish(bag_info(export, content))
        finally:
            writer.close()
        progress(95.0)
        digest = sha256_file(target)
        size = target.stat().st_size
        stored_package = storage.adopt_file(f"exports/{export.uuid}.{export.format}", target, sha256=digest,
                                            content_type=PACKAGE_TYPES[export.format])
    db.session.add_all(fixity_events)
    export.status, export.finished_at, export.error = "succeeded", utcnow(), None
    export.storage_key, export.size, export.sha256 = stored_package.key, size, digest
    export.tag_digests = tag_digests
    export.file_count = len(writer.payload)
    export.payload_bytes = sum(item.size for item in writer.payload)
    db.session.flush()
    return {"export_id": export.id, "files": export.file_count, "bytes": export.payload_bytes, "size": size}


def _mark_running(job: Job) -> None:
    export = db.session.get(Export, job.params.get("export_id"))
    if export is not None:
        export.status = "running"


def _mark_failed(job: Job, reason: str) -> None:
    export = db.session.get(Export, job.params.get("export_id"))
    if export is not None:
        export.status, export.error, export.finished_at = "failed", reason, utcnow()


BUILD_PACKAGE = jobs.JobHandler(run=_build, on_start=_mark_running, on_failure=_mark_failed)

"""Materials: upload metadata checks, ingesting an uploaded file (type sniffing, de-duplication, content-addressed
storage), who may see and edit what, links to persons and interviews, and fixity checks of stored originals."""

from __future__ import annotations

import logging
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import filetype
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.errors import Forbidden, NotFound, UnsupportedMediaType, ValidationFailed
from backend.extensions import db
from backend.models import (ACCESS_LEVELS, LINK_ROLES, FixityEvent, Interview, Material, Person, PersonMaterial,
                            Project, User)
from backend.services import audit, jobs, policy
from backend.services import projects as project_service
from backend.services import persons as person_service
from backend.services.pagination import Page, paginate
from backend.services.policy import Permission
from backend.services.storage import get_storage, original_key
from backend.services.text import INVALID_CHARACTER_MESSAGE, invalid_text_fields, parse_int64
from backend.services.versioning import check_version, record_edit
from media.background import run_blocking
from media.errors import CorruptMedia, ObjectNotFound, StorageError, UnsupportedMedia
from media.hashing import HashingReader
from media.sniff import sniff

log = logging.getLogger(__name__)
METADATA_KEYS = ("filename", "filetype", "sha256", "person_id", "interview_id", "project_id", "captured_at",
                 "latitude", "longitude", "device", "title", "description", "place", "role")
EDITABLE_FIELDS = ("title", "description", "captured_at", "place", "latitude", "longitude", "device",
                   "access_level", "embargo_until", "interview_id", "project_id")
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


# --- reading ---------------------------------------------------------------------------------------------------

def get_material(actor: User, material_id: int) -> Material:
    return policy.visible_material(actor, material_id)


# --- upload metadata ---------------------------------------------------------------------------------------------

def _field_error(field: str, message: str, code: str = "invalid_metadata") -> ValidationFailed:
    return ValidationFailed(message, code=code, details={"fields": {field: [message]}})


def _parse_datetime(value: str, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise _field_error(field, "时间格式应为 ISO 8601，如 2026-05-01T09:30:00+08:00") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _parse_coordinate(value: str, field: str, limit: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _field_error(field, "坐标应为数字") from None
    if not -limit <= number <= limit:
        raise _field_error(field, f"坐标超出范围 ±{limit:g}")
    return number


def _visible_person(actor: User, person_id: Any) -> Person:
    number = parse_int64(str(person_id))
    try:
        if number is None:
            raise NotFound()
        return person_service.get_person(actor, number)
    except NotFound:
        raise _field_error("person_id", "人物档案不存在", code="unknown_person") from None


def _visible_interview(actor: User, interview_id: Any) -> Interview:
    number = parse_int64(str(interview_id))
    try:
        if number is None:
            raise NotFound()
        return policy.visible_interview(actor, number)
    except NotFound:
        raise _field_error("interview_id", "访谈不存在", code="unknown_interview") from None


def check_upload_metadata(actor: User, meta: dict[str, str]) -> dict[str, Any]:
    """Validate what a phone sends with an upload (before any byte): returns the normalised metadata."""
    clean: dict[str, Any] = {}
    unstorable = invalid_text_fields(meta)
    if unstorable:
        raise ValidationFailed(INVALID_CHARACTER_MESSAGE, code="invalid_metadata", details={"fields": unstorable})
    for key, value in meta.items():
        if key not in METADATA_KEYS or value is None or value == "":
            continue
        clean[key] = value.strip() if isinstance(value, str) else value
    if "filename" in clean:
        # Only the last path component is kept, and only as a label.
        clean["filename"] = os.path.basename(str(clean["filename"]).replace("\\", "/"))[:255] or None
    if "sha256" in clean:
        clean["sha256"] = str(clean["sha256"]).lower()
        if not _SHA256_RE.match(clean["sha256"]):
            raise _field_error("sha256", "sha256 应为64位十六进制")
    if "person_id" in clean:
        clean["person_id"] = _visible_person(actor, clean["person_id"]).id
    interview = _visible_interview(actor, clean["interview_id"]) if "interview_id" in clean else None
    if interview is not None:
        clean["interview_id"] = interview.id
    if "project_id" in clean:
        number = parse_int64(str(clean["project_id"]))
        if number is None:
            raise _field_error("project_id", "采集项目不存在", code="unknown_project")
        clean["project_id"] = project_service.project_for_filing(actor, number).id
    elif interview is not None and interview.project_id is not None:
        # a recording of an interview belongs to the interview's project, where the uploader may file into it
        project = policy.visible_project(actor, interview.project_id) \
            if policy.shown_project_id(actor, interview.project_id) else None
        if project is not None and policy.can_file_into_project(actor, project):
            clean["project_id"] = project.id
    if "role" in clean and clean["role"] not in LINK_ROLES:
        raise _field_error("role", f"关联角色应为 {', '.join(LINK_ROLES)}")
    if "captured_at" in clean:
        clean["captured_at"] = _parse_datetime(str(clean["captured_at"]), "captured_at").isoformat()
    for field, limit in (("latitude", 90.0), ("longitude", 180.0)):
        if field in clean:
            clean[field] = _parse_coordinate(str(clean[field]), field, limit)
    for field, limit in (("title", 255), ("device", 128), ("place", 255), ("filetype", 128)):
        if field in clean:
            clean[field] = str(clean[field])[:limit]
    return clean


# --- ingest ----------------------------------------------------------------------------------------------------

def find_visible_by_sha256(actor: User, sha256: str) -> Material | None:
    """The first material with these bytes that ``actor`` may see (their own first), or None."""
    return db.session.scalar(select(Material).where(Material.sha256 == sha256.lower(), policy.visible_materials(actor))
                             .order_by((Material.collector_id == actor.id).desc(), Material.id).limit(1))


def _stored_original(sha256: str, size: int) -> str | None:
    """The key of a stored original with these bytes that some material already uses, if its object is there
    with the right size (a missing or truncated one is written again from the new upload)."""
    key = db.session.scalar(select(Material.storage_key).where(Material.sha256 == sha256).limit(1))
    if key is None:
        return None
    try:
        return key if get_storage().stat(key).size == size else None
    except ObjectNotFound:
        return None


def _guess_kind_of_damaged(path: Path) -> tuple[str, str]:
    """Kind and MIME of a file that sniffing found damaged, from its magic bytes alone (for the record only)."""
    guess = filetype.guess(str(path))
    mime = guess.mime if guess else "application/octet-stream"
    for prefix, kind in (("audio/", "audio"), ("video/", "video"), ("image/", "image")):
        if mime.startswith(prefix):
            return kind, mime
    return "document", mime


def _link(material: Material, person_id: int | None, role: str, actor: User | None) -> None:
    if person_id is None:
        return
    if any(link.person_id == person_id and link.role == role for link in material.links):
        return
    material.links.append(PersonMaterial(person_id=person_id, role=role,
                                         created_by_id=actor.id if actor else None))


def _default_role(metadata: dict[str, Any]) -> str:
    return metadata.get("role") or ("interviewee" if metadata.get("interview_id") else "subject")


def ingest(actor: User, path: Path, *, size: int, sha256: str, metadata: dict[str, Any],
           upload_id: str | None = None) -> tuple[Material, bool]:
    """Turn a received file into a material, or find the one with the same bytes. Returns (material, duplicate).

    A duplicate is answered only with a material ``actor`` may see (persons are linked to it only if they may edit
    it). Bytes already archived in a material they may not see become a material of their own, as if new (their
    metadata, restricted), sharing the stored original: the answer tells them nothing about the other.

    The file at ``path`` is consumed: stored under a content-addressed key, or removed when that key already holds
    these bytes. Content that is not an accepted media type raises UnsupportedMediaType (415) and nothing is stored.
    A damaged file of an accepted type is kept byte-for-byte and becomes a ``failed`` material with the reason.
    """
    sha256 = sha256.lower()
    existing = find_visible_by_sha256(actor, sha256)
    if existing is not None:
        return _as_duplicate(actor, existing, metadata, path), True

    failure: str | None = None
    try:
        sniffed = sniff(path)
        kind, mime = sniffed.kind, sniffed.mime
    except UnsupportedMedia as exc:
        path.unlink(missing_ok=True)
        raise UnsupportedMediaType(exc.message, code="unsupported_media",
                                   details={"filename": metadata.get("filename")}) from None
    except CorruptMedia as exc:
        kind, mime = _guess_kind_of_damaged(path)
        failure = exc.message

    storage_key = _stored_original(sha256, size)
    if storage_key is not None:
        path.unlink(missing_ok=True)  # another material's original already holds these bytes: one copy is kept
    else:
        try:
            # Moved into place on local disk (no copy of a big upload); uploaded and re-hashed on S3.
            stored = get_storage().adopt_file(original_key(sha256), path, sha256=sha256, content_type=mime)
        except StorageError as exc:
            log.error("storing the original of %s failed: %s", sha256, exc)
            raise ValidationFailed("文件在保存过程中发生变化，请重新上传", code="fixity_failed_on_write") from exc
        if stored.size != size:
            if not _key_in_use(stored.key):
                get_storage().delete(stored.key)
            raise ValidationFailed("文件在保存过程中发生变化，请重新上传", code="fixity_failed_on_write")
        storage_key = stored.key

    captured_at = metadata.get("captured_at")
    material_id = _insert_unless_known(
        kind=kind, mime=mime, size=size, sha256=sha256, storage_key=storage_key,
        status="failed" if failure else "uploaded", failure_reason=failure,
        title=metadata.get("title") or metadata.get("filename") or "",
        description=metadata.get("description") or "",
        captured_at=datetime.fromisoformat(captured_at) if captured_at else None,
        place=metadata.get("place"), latitude=metadata.get("latitude"), longitude=metadata.get("longitude"),
        device=metadata.get("device"), collector_id=actor.id, original_filename=metadata.get("filename"),
        interview_id=metadata.get("interview_id"), project_id=metadata.get("project_id"), media_info={},
        access_level="restricted",
    )
    if material_id is None:
        # The same user's same bytes finished uploading in another request a moment ago: that material stands.
        existing = find_visible_by_sha256(actor, sha256)
        assert existing is not None
        return _as_duplicate(actor, existing, metadata, None), True
    material = db.session.get(Material, material_id)
    assert material is not None
    _link(material, metadata.get("person_id"), _default_role(metadata), actor)
    audit.record("material", material.id, "create", actor, changes={
        "sha256": {"before": None, "after": sha256}, "kind": {"before": None, "after": kind},
        "upload_id": {"before": None, "after": upload_id}})
    db.session.flush()
    if failure is None:
        jobs.submit("process_material", material_id=material.id, actor=actor)
    return material, False


def _insert_unless_known(**values: Any) -> int | None:
    """Insert a material row unless the same uploader has one with the same sha256 (or a concurrent request of
    theirs is inserting it, which this waits for): the new id, or None. No exception, so the unit of work goes on
    either way."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (insert(Material).values(**values)
                 .on_conflict_do_nothing(index_elements=[Material.collector_id, Material.sha256])
                 .returning(Material.id))
    return db.session.scalar(statement)


def _key_in_use(key: str) -> bool:
    """Whether a material's original is stored under ``key`` (several may share one: never delete it then)."""
    return db.session.scalar(select(Material.id).where(Material.storage_key == key).limit(1)) is not None


def _as_duplicate(actor: User, existing: Material, metadata: dict[str, Any], path: Path | None) -> Material:
    """The answer for bytes already archived in a material ``actor`` may see; the person named in the upload is
    linked only if they may edit that material."""
    if path is not None:
        path.unlink(missing_ok=True)
    if metadata.get("person_id") is not None and policy.can_edit_material(actor, existing):
        _link(existing, metadata["person_id"], _default_role(metadata), actor)
        audit.record("material", existing.id, "link", actor,
                     changes={"person_id": {"before": None, "after": metadata["person_id"]}},
                     comment="duplicate upload linked to another person")
        db.session.flush()
    return existing


def _copy_hashing(stream: Any, out: Any, max_size: int) -> HashingReader:
    """Copy a received file to ``out`` while hashing it, stopping once it is past ``max_size`` bytes."""
    reader = HashingReader(stream)
    while chunk := reader.read(1024 * 1024):
        if reader.bytes_read > max_size:
            break
        out.write(chunk)
    return reader


def ingest_stream(actor: User, stream: Any, *, metadata: dict[str, Any], max_size: int, tmp_dir: Path
                  ) -> tuple[Material, bool]:
    """Receive a small file sent in one request (multipart form): stream to a temp file, then ``ingest``."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="form-", suffix=".part")
    path = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            reader = run_blocking(_copy_hashing, stream, out, max_size)  # up to 64 MiB: off the event loop
        if reader.bytes_read > max_size:
            raise ValidationFailed(f"文件超过 {max_size} 字节，请用断点续传上传", code="file_too_large",
                                   details={"max_size": max_size})
        if reader.bytes_read == 0:
            raise ValidationFailed("文件为空（0字节）", code="empty_file")
        expected = metadata.get("sha256")
        if expected and expected != reader.sha256:
            raise ValidationFailed("文件的 SHA-256 与手机上计算的不一致，请重新上传", code="sha256_mismatch",
                                   details={"expected": expected, "received": reader.sha256})
        return ingest(actor, path, size=reader.bytes_read, sha256=reader.sha256, metadata=metadata)
    finally:
        path.unlink(missing_ok=True)


# --- reading and editing ---------------------------------------------------------------------------------------

def list_materials(actor: User, *, kind: str | None = None, status: str | None = None, sha256: str | None = None,
                   person_id: int | None = None, interview_id: int | None = None, collector: int | None = None,
                   access_level: str | None = None, project_id: int | None = None, page: int = 1,
                   per_page: int = 20) -> Page[Material]:
    query = select(Material).where(policy.visible_materials(actor))
    if kind:
        query = query.where(Material.kind == kind)
    if status:
        query = query.where(Material.status == status)
    if sha256:
        query = query.where(Material.sha256 == sha256.lower())
    if person_id:
        # a profile the actor cannot see filters like a missing one (no totals about hidden persons)
        query = query.where(Material.id.in_(
            select(PersonMaterial.material_id).join(Person, Person.id == PersonMaterial.person_id)
            .where(PersonMaterial.person_id == person_id, policy.visible_persons(actor))))
    if interview_id:
        query = query.where(Material.interview_id == interview_id)
    if collector:
        query = query.where(Material.collector_id == collector)
    if access_level:
        query = query.where(Material.access_level == access_level)
    if project_id:
        # a project the actor cannot see filters like a missing one
        query = query.where(Material.project_id == (policy.shown_project_id(actor, project_id) or -1))
    return paginate(query.order_by(Material.created_at.desc(), Material.id.desc()), page, per_page, cache_total=True)


def update_material(actor: User, material_id: int, data: dict[str, Any], *, expected_version: int | None) -> Material:
    material = get_material(actor, material_id)
    if not policy.can_edit_material(actor, material):
        raise Forbidden("您无权修改此资料", code="material_not_editable")
    if ({"access_level", "embargo_until"} & set(data)) and not policy.can(actor, Permission.MATERIAL_SET_ACCESS):
        raise Forbidden("只有档案员可以设置开放级别和限制期", code="access_level_forbidden")
    version = check_version(material, expected_version)
    if data.get("interview_id") is not None:
        _visible_interview(actor, data["interview_id"])
    if data.get("project_id") is not None and data["project_id"] != material.project_id:
        project_service.project_for_filing(actor, data["project_id"])
    elif "project_id" in data and data["project_id"] is None and material.project_id is not None:
        old = db.session.get(Project, material.project_id)
        if old is not None and not policy.can_file_into_project(actor, old):
            raise Forbidden("该采集项目已结项，只有档案员可以移出资料", code="project_closed",
                            details={"project_id": old.id, "status": old.status})
    if ("interview_id" in data and material.interview_id is not None
            and data["interview_id"] != material.interview_id and policy.guards_publication(material)):
        policy.require_publication_decision(
            actor, "已开放的资料离开其访谈可能使资料未经受访人授权即公开，须由档案员操作", "interview_of_open_material",
            interview_id=policy.shown_interview_id(actor, material.interview_id))
    if "access_level" in data and data["access_level"] not in ACCESS_LEVELS:
        raise _field_error("access_level", f"应为 {', '.join(ACCESS_LEVELS)}")
    before = {field: getattr(material, field) for field in EDITABLE_FIELDS}
    for field, value in data.items():
        setattr(material, field, value)
    record_edit("material", material, actor, before, {field: getattr(material, field) for field in EDITABLE_FIELDS},
                version)
    db.session.flush()
    return material


def link_person(actor: User, material_id: int, person_id: int, role: str) -> Material:
    material = get_material(actor, material_id)
    if not policy.can_edit_material(actor, material):
        raise Forbidden("您无权修改此资料", code="material_not_editable")
    person = _visible_person(actor, person_id)
    _link(material, person.id, role, actor)
    audit.record("material", material.id, "link", actor, changes={"person_id": {"before": None, "after": person.id},
                                                                  "role": {"before": None, "after": role}})
    db.session.flush()
    return material


def unlink_person(actor: User, material_id: int, person_id: int, role: str | None) -> Material:
    material = get_material(actor, material_id)
    if not policy.can_edit_material(actor, material):
        raise Forbidden("您无权修改此资料", code="material_not_editable")
    removed = [link for link in material.links if link.person_id == person_id and (role is None or link.role == role)]
    if not removed or not policy.visible_person_ids(actor, [person_id]):
        raise NotFound("该人物与资料之间没有这种关联", code="link_not_found")
    if policy.guards_publication(material) and any(link.role in policy.CONSENT_LINK_ROLES for link in removed):
        policy.require_publication_decision(
            actor, "已开放的资料需要此人的授权：解除关联可能使资料未经其授权即公开，须由档案员操作",
            "consent_link_of_open_material", person_id=person_id)
    for link in removed:
        material.links.remove(link)
    audit.record("material", material.id, "unlink", actor,
                 changes={"person_id": {"before": person_id, "after": None}})
    db.session.flush()
    return material


def persons_of(actor: User, material: Material) -> list[dict[str, Any]]:
    """The persons linked to a material that ``actor`` may see, with the role of each link."""
    rows = []
    for link in sorted(material.links, key=lambda link: (link.person_id, link.role)):
        person = db.session.get(Person, link.person_id)
        if person is not None and policy.can_view_person(actor, person):
            rows.append({"person_id": person.id, "name": person.name, "category": person.category,
                         "role": link.role})
    return rows


# --- fixity ----------------------------------------------------------------------------------------------------

def check_fixity(material_ids: list[int] | None = None) -> list[FixityEvent]:
    """Re-hash stored originals; record one event per material (ok, mismatch or missing)."""
    storage = get_storage()
    query = select(Material).order_by(Material.id)
    if material_ids:
        query = query.where(Material.id.in_(material_ids))
    events = []
    hashed: dict[str, tuple[str, int] | None] = {}  # materials sharing one stored original: it is read once
    for material in db.session.scalars(query):
        if material.storage_key not in hashed:
            hashed[material.storage_key] = _hash_object(storage, material.storage_key)
        found = hashed[material.storage_key]
        if found is None:
            event = FixityEvent(material_id=material.id, outcome="missing", expected_sha256=material.sha256,
                                detail=f"no object at {material.storage_key}")
        else:
            sha256, size = found
            outcome = "ok" if sha256 == material.sha256 and size == material.size else "mismatch"
            event = FixityEvent(material_id=material.id, outcome=outcome, expected_sha256=material.sha256,
                                actual_sha256=sha256,
                                detail=None if outcome == "ok" else f"size {size}, expected {material.size}")
        if event.outcome != "ok":
            log.error("fixity %s for material %s: %s", event.outcome, material.id, event.detail)
        events.append(event)
    # Added at the end: hashing many originals holds no write lock (SQLite has one writer).
    db.session.add_all(events)
    db.session.flush()
    return events


def _hash_object(storage: Any, key: str) -> tuple[str, int] | None:
    """SHA-256 and size of a stored object, or None when it is missing."""
    try:
        with storage.open_range(key) as stream:
            reader = HashingReader(stream)
            while reader.read(1024 * 1024):
                pass
    except ObjectNotFound:
        return None
    return reader.sha256, reader.bytes_read


# --- content ---------------------------------------------------------------------------------------------------

class ContentTarget:
    """Where the bytes of one variant of a material are, and how to label them for the client."""

    def __init__(self, key: str, mime: str, size: int, sha256: str, download_name: str) -> None:
        self.key, self.mime, self.size, self.sha256, self.download_name = key, mime, size, sha256, download_name


_UNSAFE_NAME_CHARS = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def content_target(actor: User, material_id: int, variant: str) -> ContentTarget:
    material = get_material(actor, material_id)
    base = _UNSAFE_NAME_CHARS.sub("_", material.title or "").strip(" .") or f"material-{material.id}"
    if variant == "original":
        if not policy.can(actor, Permission.MATERIAL_READ_ORIGINAL):
            raise Forbidden("您的角色不能下载原件，请使用浏览版本", code="original_forbidden",
                            details={"available": sorted(d.variant for d in material.derivatives)})
        extension = os.path.splitext(material.original_filename or "")[1] or ""
        return ContentTarget(material.storage_key, material.mime, material.size, material.sha256,
                             f"{base}{extension}" if not base.endswith(extension) else base)
    derivative = material.derivative(variant)
    if derivative is None:
        raise NotFound("该资料没有这种版本（可能仍在处理中）", code="variant_not_available",
                       details={"variant": variant, "status": material.status,
                                "available": ["original", *sorted(d.variant for d in material.derivatives)]})
    extension = os.path.splitext(derivative.storage_key)[1]
    return ContentTarget(derivative.storage_key, derivative.mime, derivative.size, derivative.sha256,
                         f"{base}-{variant}{extension}")


def fixity_events(actor: User, material_id: int) -> list[FixityEvent]:
    material = get_material(actor, material_id)
    return list(db.session.scalars(select(FixityEvent).where(FixityEvent.material_id == material.id)
                                   .order_by(FixityEvent.id.desc())))

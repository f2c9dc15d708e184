"""Bulk import of legacy collections: check a manifest and its files (the dry run reports every problem and writes
nothing), then create persons, interviews and materials through the same services as the API, one resumable step
at a time, each row recorded under a stable import key so that a rerun after a crash creates nothing twice."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import unicodedata
import uuid
import zipfile
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from flask import current_app
from sqlalchemy import select

from backend import transaction
from backend.errors import Conflict, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed
from backend.extensions import db
from backend.models import Import, ImportKey, Interview, Job, Material, Person, Project, User
from backend.models.types import utcnow
from backend.services import audit, jobs, materials, policy
from backend.services import interviews as interview_service
from backend.services import projects as project_service
from backend.services import persons as person_service
from backend.services.import_manifest import (ACCESS_NAMES, CATEGORY_NAMES, COLUMNS_BY_KEY, GENDER_NAMES,
                                              ROLE_NAMES, TYPE_NAMES, CellError, ManifestRow, ManifestUnreadable,
                                              Report, choice, full_date, honours, id_number, moment, partial_date,
                                              phone, read_manifest, sha256, shown_value, text, text_list)
from backend.services.import_packages import is_package, package_rows
from backend.services.import_sources import DirectorySource, Entry, Source, ZipSource, open_source
from backend.services.pagination import Page, paginate
from backend.services.policy import Permission
from backend.services.text import parse_int64
from media.errors import CorruptMedia, UnsupportedMedia
from media.hashing import HashingReader
from media.sniff import sniff

log = logging.getLogger(__name__)
RECORDS_PER_STEP = 50  # persons or interviews committed together; every file is a step of its own
COPY_CHUNK = 1024 * 1024
MANIFEST_MAX_BYTES = 32 * 1024 * 1024


class ImportFailed(ValidationFailed):
    """The import cannot go on (the manifest has errors, a file changed after it was checked)."""

    code, message = "import_failed", "导入未能完成"


# --- the plan: what the manifest says, checked -----------------------------------------------------------------

@dataclass
class PlannedRow:
    row: int
    ref: str
    key: str
    data: dict[str, Any]
    done_id: int | None = None  # the record an earlier run made for this key


@dataclass
class PlannedInterview(PlannedRow):
    interviewee_refs: list[str] = field(default_factory=list)


@dataclass
class PlannedFile(PlannedRow):
    path: str = ""
    entry: Entry | None = None
    person_refs: list[str] = field(default_factory=list)
    interview_ref: str | None = None
    role: str = "subject"
    access: dict[str, Any] = field(default_factory=dict)
    expected_sha256: str | None = None
    sha256: str = ""
    size: int = 0
    archived_id: int | None = None  # a material that already holds these bytes (not from this batch)


@dataclass
class Plan:
    batch: str
    report: Report
    persons: list[PlannedRow] = field(default_factory=list)
    interviews: list[PlannedInterview] = field(default_factory=list)
    files: list[PlannedFile] = field(default_factory=list)
    bytes_total: int = 0

    @property
    def rows(self) -> int:
        return len(self.persons) + len(self.interviews) + len(self.files)

    @property
    def already_done(self) -> int:
        return sum(1 for row in (*self.persons, *self.interviews, *self.files) if row.done_id is not None)


def import_key(batch: str, row_type: str, ref: str, sha256_hex: str | None = None) -> str:
    """The stable key of a manifest row: its batch, type and ref (and, for a file, the SHA-256 of its bytes)."""
    return hashlib.sha256("\x1f".join((batch, row_type, ref, sha256_hex or "")).encode("utf-8")).hexdigest()


# cell parsers: column key → (record field, parse)
_PERSON_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "name": ("name", lambda c: text(c, 128)),
    "category": ("category", lambda c: choice(c, CATEGORY_NAMES, "category")),
    "aliases": ("aliases", lambda c: text_list(c, person_service.MAX_ALIAS_LENGTH, person_service.MAX_ALIASES)),
    "gender": ("gender", lambda c: choice(c, GENDER_NAMES, "gender")),
    "ethnicity": ("ethnicity", lambda c: text(c, 32)),
    "birth_date": ("birth_date", partial_date),
    "death_date": ("death_date", partial_date),
    "native_place": ("native_place", lambda c: text(c, 255)),
    "district": ("district", lambda c: text(c, 64)),
    "town": ("town", lambda c: text(c, 64)),
    "village": ("village", lambda c: text(c, 64)),
    "occupation": ("occupation", lambda c: text(c, 255)),
    "biography": ("biography", lambda c: text(c, 200_000)),
    "honours": ("honours", honours),
    "tags": ("tags", lambda c: text_list(c, 64, 50)),
    "phone": ("phone", lambda c: phone(text(c, 32))),
    "address": ("address", lambda c: text(c, 255)),
}
_INTERVIEW_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "title": ("title", lambda c: text(c, 255)),
    "date": ("date", partial_date),
    "place": ("place", lambda c: text(c, 255)),
    "interviewers": ("interviewers", lambda c: text_list(c, 128, 20)),
    "language": ("language", lambda c: text(c, 64)),
    "notes": ("notes", lambda c: text(c, 20_000)),
    "interviewees": ("interviewees", lambda c: text_list(c, 128, 50)),
    "project": ("project", lambda c: text(c, 255)),
}
_FILE_FIELDS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "path": ("path", lambda c: text(c, 1024)),
    "title": ("title", lambda c: text(c, 255)),
    "description": ("description", lambda c: text(c, 20_000)),
    "captured_at": ("captured_at", moment),
    "place": ("place", lambda c: text(c, 255)),
    "device": ("device", lambda c: text(c, 128)),
    "persons": ("persons", lambda c: text_list(c, 128, 50)),
    "role": ("role", lambda c: choice(c, ROLE_NAMES, "role")),
    "interview": ("interview", lambda c: text(c, 128)),
    "access_level": ("access_level", lambda c: choice(c, ACCESS_NAMES, "access_level")),
    "embargo_until": ("embargo_until", full_date),
    "sha256": ("sha256", sha256),
    "project": ("project", lambda c: text(c, 255)),
}
_FIELDS_BY_TYPE = {"person": _PERSON_FIELDS, "interview": _INTERVIEW_FIELDS, "file": _FILE_FIELDS}


def _parse(row: ManifestRow, row_type: str, report: Report) -> dict[str, Any]:
    """The row's cells as record fields; each bad cell is reported (and left out)."""
    fields_of = _FIELDS_BY_TYPE[row_type]
    values: dict[str, Any] = {}
    for key, cell in row.cells.items():
        if key in ("type", "ref"):
            continue
        if key == "id_number" and row_type == "person":
            try:
                values["id_number"], converted = id_number(cell)
            except CellError as exc:
                report.error(row.number, row.header(key), exc.code, str(exc), shown_value(key, cell))
                continue
            if converted:
                report.warning(row.number, row.header(key), "id_number_converted",
                               "15位身份证号已按 GB 11643 转换为18位", shown_value(key, cell))
            continue
        if key not in fields_of:
            report.warning(row.number, row.header(key), "column_not_applicable",
                           f"该列不适用于“{row_type}”行，已忽略", shown_value(key, cell))
            continue
        name, parse = fields_of[key]
        try:
            values[name] = parse(cell)
        except CellError as exc:
            report.error(row.number, row.header(key), exc.code, str(exc), shown_value(key, cell))
    return values


def _known_key(key: str, entity: type[Any]) -> int | None:
    """The id of the record an earlier run made for ``key``, if that record still exists."""
    found = db.session.scalar(select(ImportKey.entity_id).where(ImportKey.key == key))
    if found is not None and db.session.get(entity, found) is not None:
        return found
    return None


def _required(row: ManifestRow, values: dict[str, Any], key: str, report: Report) -> None:
    if key not in values and key not in row.cells:
        report.error(row.number, row.header(key), "missing_value", f"缺少必填项“{COLUMNS_BY_KEY[key].header}”")


def _person(row: ManifestRow, ref: str, batch: str, report: Report) -> PlannedRow:
    values = _parse(row, "person", report)
    _required(row, values, "name", report)
    _required(row, values, "category", report)
    birth, death = values.get("birth_date"), values.get("death_date")
    if birth and death and death < birth:
        report.error(row.number, row.header("death_date"), "death_before_birth", "去世日期早于出生日期", death)
    area = {part: values.pop(part) for part in ("district", "town", "village") if part in values}
    if area:
        values["area"] = area
    key = import_key(batch, "person", ref)
    return PlannedRow(row.number, ref, key, values, _known_key(key, Person))


def _project(actor: User, row: ManifestRow, values: dict[str, Any], report: Report) -> None:
    """The project named by id or title becomes ``project_id``: one the actor may see and file into."""
    named = values.pop("project", None)
    if not named:
        return
    number = parse_int64(named.removeprefix("#")) if named.removeprefix("#").isascii() else None
    found = [number] if number is not None and db.session.get(Project, number) is not None else \
        list(db.session.scalars(select(Project.id).where(Project.title == named).limit(2)))
    if len(found) != 1:
        report.error(row.number, row.header("project"), "unknown_project" if not found else "ambiguous_project",
                     "没有这个采集项目（填项目编号或完整的主题）" if not found else "有多个同名的采集项目：请填项目编号",
                     named)
        return
    try:
        values["project_id"] = project_service.project_for_filing(actor, found[0]).id
    except (ValidationFailed, Forbidden) as exc:
        report.error(row.number, row.header("project"), exc.code, exc.message, named)


def _interview(row: ManifestRow, ref: str, batch: str, report: Report, actor: User) -> PlannedInterview:
    values = _parse(row, "interview", report)
    _project(actor, row, values, report)
    refs = values.pop("interviewees", [])
    key = import_key(batch, "interview", ref)
    from_key = _known_key(key, Interview)
    return PlannedInterview(row.number, ref, key, values, from_key, interviewee_refs=refs)


def _file(row: ManifestRow, ref: str, source: Source, report: Report, actor: User) -> PlannedFile:
    values = _parse(row, "file", report)
    _project(actor, row, values, report)
    planned = PlannedFile(row.number, ref, "", {}, path=values.pop("path", ""),
                          person_refs=values.pop("persons", []), interview_ref=values.pop("interview", None),
                          role=values.pop("role", "subject"), expected_sha256=values.pop("sha256", None))
    planned.access = {name: values.pop(name) for name in ("access_level", "embargo_until") if name in values}
    planned.data = values
    if not planned.path:
        if "path" not in row.cells:
            _required(row, values, "path", report)
        return planned
    try:
        planned.entry = source.locate(planned.path)
    except CellError as exc:
        report.error(row.number, row.header("path"), exc.code, str(exc), planned.path)
    return planned


def _check_references(plan: Plan, headers: dict[str, str], report: Report, types: dict[str, tuple[str, int]]
                      ) -> None:
    def check(row: int, column: str, refs: list[str], wanted: str) -> None:
        for ref in refs:
            found = types.get(ref)
            if found is None:
                report.error(row, headers.get(column) or COLUMNS_BY_KEY[column].header, "bad_reference",
                             f"清单中没有编号为“{ref}”的行", ref)
            elif found[0] != wanted:
                report.error(row, headers.get(column) or COLUMNS_BY_KEY[column].header, "bad_reference",
                             f"编号“{ref}”（第 {found[1]} 行）是“{found[0]}”行，此处须为“{wanted}”行", ref)

    for interview in plan.interviews:
        check(interview.row, "interviewees", interview.interviewee_refs, "person")
    for planned in plan.files:
        check(planned.row, "persons", planned.person_refs, "person")
        if planned.interview_ref:
            check(planned.row, "interview", [planned.interview_ref], "interview")


def _hash_and_sniff(source: Source, planned: PlannedFile, scratch: Path, report: Report, header: str) -> None:
    """Read the file once: its SHA-256 and size; then its real type (what upload ingest will find)."""
    assert planned.entry is not None
    with source.open(planned.entry) as stream:
        reader = HashingReader(stream)
        while reader.read(COPY_CHUNK):
            pass
    planned.sha256, planned.size = reader.sha256, reader.bytes_read
    if planned.size == 0:
        report.error(planned.row, header, "empty_file", "文件为空（0字节）", planned.path)
        return
    if planned.expected_sha256 and planned.expected_sha256 != planned.sha256:
        report.error(planned.row, header, "sha256_mismatch",
                     f"文件的 SHA-256 与清单不符：清单 {planned.expected_sha256}，实际 {planned.sha256}", planned.path)
    try:
        with source.local_path(planned.entry, scratch) as local:
            sniff(local)
    except UnsupportedMedia as exc:
        report.error(planned.row, header, "unsupported_type", f"不支持的文件类型：{exc.message}", planned.path)
    except CorruptMedia as exc:
        report.warning(planned.row, header, "damaged_file",
                       f"文件已损坏，将原样保存并标记为处理失败：{exc.message}", planned.path)


def check(actor: User, source: Source, manifest: Path | None, batch: str, scratch: Path
          ) -> Generator[float, None, Plan]:
    """Check the manifest and every file it names (read once each, as streams). Yields the fraction of bytes read
    so far (a caller may commit its progress there; nothing else is written); returns the plan with its report.

    Every problem is reported with its row and column: unknown columns, missing values, bad dates, ID numbers
    failing the GB 11643 check digit, unknown categories and other choices, refs that are repeated or name no row
    (or a row of the wrong type), missing, empty, unsupported or altered files, and duplicate files: the same
    bytes twice in the manifest (error) or bytes already archived (warning: the row's persons are linked to that
    material). Rows an earlier run of the same batch imported are counted, not reported. Without a manifest the
    source is a Liufang package, whose metadata stands for the rows."""
    report = Report()
    plan = Plan(batch=batch, report=report)
    try:
        rows = read_manifest(manifest, report) if manifest is not None else package_rows(source, report)
    except ManifestUnreadable as exc:
        report.error(None, None, "unreadable_manifest", str(exc))
        return plan
    headers = rows[0].headers if rows else {}
    types: dict[str, tuple[str, int]] = {}
    for row in rows:
        raw_type, raw_ref = row.cells.get("type"), row.cells.get("ref")
        row_type = TYPE_NAMES.get(str(raw_type or "").strip().lower()) if raw_type is not None else None
        if raw_type is None:
            report.error(row.number, row.header("type"), "missing_value", "缺少行类型（人物/访谈/文件）")
        elif row_type is None:
            report.error(row.number, row.header("type"), "unknown_type",
                         "未知的行类型；可用：人物/person、访谈/interview、文件/file", raw_type)
        try:
            ref = text(raw_ref, 128) if raw_ref is not None else ""
        except CellError as exc:
            report.error(row.number, row.header("ref"), exc.code, str(exc))
            ref = ""
        if not ref:
            if raw_ref is None:
                report.error(row.number, row.header("ref"), "missing_value", "缺少编号：每行须有清单内唯一的编号")
            continue
        if ref in types:
            report.error(row.number, row.header("ref"), "duplicate_ref",
                         f"编号“{ref}”与第 {types[ref][1]} 行重复", ref)
            continue
        if row_type is None:
            continue
        types[ref] = (row_type, row.number)
        if row_type == "person":
            plan.persons.append(_person(row, ref, batch, report))
        elif row_type == "interview":
            plan.interviews.append(_interview(row, ref, batch, report, actor))
        else:
            plan.files.append(_file(row, ref, source, report, actor))
    _check_references(plan, headers, report, types)
    _check_id_numbers(plan, headers, report)

    path_header = headers.get("path") or COLUMNS_BY_KEY["path"].header
    located = [planned for planned in plan.files if planned.entry is not None]
    plan.bytes_total = sum(planned.entry.size for planned in located if planned.entry is not None)
    read = 0
    first_of: dict[str, PlannedFile] = {}
    for planned in located:
        _hash_and_sniff(source, planned, scratch, report, path_header)
        read += planned.size
        yield read / plan.bytes_total if plan.bytes_total else 1.0
        if not planned.sha256 or planned.size == 0:
            continue
        planned.key = import_key(batch, "file", planned.ref, planned.sha256)
        planned.done_id = _known_key(planned.key, Material)
        first = first_of.setdefault(planned.sha256, planned)
        if first is not planned:
            report.error(planned.row, path_header, "duplicate_file",
                         f"与第 {first.row} 行（{first.path}）的文件内容相同（SHA-256 {planned.sha256[:12]}…）；"
                         "同一文件关联多个人物请在一行的“人物”列列出", planned.path)
            continue
        if planned.done_id is None:
            archived = materials.find_visible_by_sha256(actor, planned.sha256)
            if archived is not None:
                planned.archived_id = archived.id
                report.warning(planned.row, path_header, "already_archived",
                               f"相同内容已存档为资料 #{archived.id}（{archived.title or archived.original_filename}）："
                               "不再重复保存，本行的人物将关联到该资料", planned.path)
    return plan


def _check_id_numbers(plan: Plan, headers: dict[str, str], report: Report) -> None:
    """The same ID number on two rows is one person twice (error); one already in the archive is worth a look."""
    header = headers.get("id_number") or COLUMNS_BY_KEY["id_number"].header
    first: dict[str, PlannedRow] = {}
    for person in plan.persons:
        number = person.data.get("id_number")
        if not number:
            continue
        if number in first:
            report.error(person.row, header, "duplicate_person",
                         f"身份证号与第 {first[number].row} 行相同：同一人只应有一行", shown_value("id_number", number))
            continue
        first[number] = person
        if person.done_id is None:
            existing = db.session.scalar(select(Person.id).where(Person.id_number == number).limit(1))
            if existing is not None:
                report.warning(person.row, header, "person_exists",
                               f"档案中已有此身份证号的人物档案 #{existing}：仍将新建一份，请确认不是同一人",
                               shown_value("id_number", number))


# --- running ------------------------------------------------------------------------------------------------------

def _remember(key: str, entity_type: str, entity_id: int, planned: PlannedRow, batch: str, import_id: int | None,
              sha256_hex: str | None = None) -> None:
    existing = db.session.get(ImportKey, key)
    if existing is None:
        db.session.add(ImportKey(key=key, entity_type=entity_type, entity_id=entity_id, batch=batch,
                                 ref=planned.ref, sha256=sha256_hex, import_id=import_id))
    else:  # the record an earlier run made was deleted since: the key now names the new one
        existing.entity_id, existing.import_id = entity_id, import_id


def _imported(entity_type: str, entity_id: int, actor: User, planned: PlannedRow, batch: str,
              import_id: int | None, **extra: Any) -> None:
    audit.record(entity_type, entity_id, "import", actor, comment=f"批量导入：批次“{batch}”第 {planned.row} 行",
                 changes={"import_id": {"before": None, "after": import_id}, "batch": {"before": None, "after": batch},
                          "row": {"before": None, "after": planned.row}, "ref": {"before": None, "after": planned.ref},
                          **{name: {"before": None, "after": value} for name, value in extra.items()}})


def _copy_to_scratch(source: Source, entry: Entry, scratch: Path) -> tuple[Path, str, int]:
    """Stream a file into a temporary file of ours, hashing it on the way: (path, sha256, size)."""
    scratch.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=scratch, prefix="import-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, source.open(entry) as stream:
            reader = HashingReader(stream)
            while chunk := reader.read(COPY_CHUNK):
                out.write(chunk)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name), reader.sha256, reader.bytes_read


@dataclass
class Tally:
    """What a run did, for the import's counts."""

    created: dict[str, int] = field(default_factory=lambda: {"person": 0, "interview": 0, "material": 0})
    skipped: int = 0
    linked_existing: int = 0
    rows_done: int = 0
    bytes_done: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"created": dict(self.created), "skipped": self.skipped, "linked_existing": self.linked_existing}


def _ingest_file(actor: User, source: Source, planned: PlannedFile, plan: Plan, ids: dict[str, int],
                 scratch: Path, import_id: int | None, tally: Tally) -> None:
    assert planned.entry is not None
    path, digest, size = _copy_to_scratch(source, planned.entry, scratch)
    try:
        if digest != planned.sha256 or size != planned.size:
            raise ImportFailed(f"第 {planned.row} 行的文件在检查之后被修改（{planned.path}），请重新检查后再导入",
                               code="file_changed", details={"row": planned.row, "path": planned.path})
        person_ids = [ids[ref] for ref in planned.person_refs]
        metadata: dict[str, Any] = {"filename": planned.entry.name, "sha256": digest, "role": planned.role,
                                    **{k: v for k, v in planned.data.items() if v not in (None, "")}}
        if person_ids:
            metadata["person_id"] = str(person_ids[0])
        if planned.interview_ref:
            metadata["interview_id"] = str(ids[planned.interview_ref])
        clean = materials.check_upload_metadata(actor, {k: str(v) for k, v in metadata.items()})
        material, duplicate = materials.ingest(actor, path, size=size, sha256=digest, metadata=clean)
    finally:
        path.unlink(missing_ok=True)
    for person_id in person_ids[1:]:
        materials.link_person(actor, material.id, person_id, planned.role)
    if duplicate:
        for person_id in person_ids[:1]:
            if not any(link.person_id == person_id for link in material.links):
                materials.link_person(actor, material.id, person_id, planned.role)
        tally.linked_existing += 1
    else:
        if planned.access:
            materials.update_material(actor, material.id, dict(planned.access), expected_version=material.version)
        tally.created["material"] += 1
    _remember(planned.key, "material", material.id, planned, plan.batch, import_id, digest)
    _imported("material", material.id, actor, planned, plan.batch, import_id, sha256=digest,
              path=planned.path, duplicate=duplicate)


def execute(actor: User, source: Source, plan: Plan, scratch: Path, import_id: int | None, tally: Tally
            ) -> Generator[None, None, None]:
    """Create what the plan holds, yielding at every commit point: after each batch of persons or interviews and
    after each file. Rows whose key is known are skipped (an earlier run made them)."""
    ids: dict[str, int] = {}
    pending = 0
    for person in plan.persons:
        if person.done_id is not None:
            ids[person.ref] = person.done_id
            tally.skipped += 1
        else:
            created, _ = person_service.create_person(actor, dict(person.data))
            _remember(person.key, "person", created.id, person, plan.batch, import_id)
            _imported("person", created.id, actor, person, plan.batch, import_id)
            ids[person.ref] = created.id
            tally.created["person"] += 1
            pending += 1
        tally.rows_done += 1
        if pending >= RECORDS_PER_STEP:
            pending = 0
            yield
    for interview in plan.interviews:
        if interview.done_id is not None:
            ids[interview.ref] = interview.done_id
            tally.skipped += 1
        else:
            data = {**interview.data, "interviewee_ids": [ids[ref] for ref in interview.interviewee_refs]}
            created_interview = interview_service.create_interview(actor, data)
            _remember(interview.key, "interview", created_interview.id, interview, plan.batch, import_id)
            _imported("interview", created_interview.id, actor, interview, plan.batch, import_id)
            ids[interview.ref] = created_interview.id
            tally.created["interview"] += 1
            pending += 1
        tally.rows_done += 1
        if pending >= RECORDS_PER_STEP:
            pending = 0
            yield
    if pending:
        yield
    for planned in plan.files:
        tally.rows_done += 1
        tally.bytes_done += planned.size
        if planned.done_id is not None:
            tally.skipped += 1
            continue
        _ingest_file(actor, source, planned, plan, ids, scratch, import_id, tally)
        yield


# --- import records ---------------------------------------------------------------------------------------------

def import_root() -> Path:
    return Path(current_app.config.get("IMPORT_ROOT") or Path(current_app.instance_path) / "import")


def _work_dir(import_id: int) -> Path:
    """Where an API import keeps its manifest and archive, under names of our own."""
    return Path(current_app.instance_path) / "imports" / str(import_id)


def scratch_dir() -> Path:
    """Temporary copies (on the upload volume, so ingest moves them into local storage without copying again)."""
    return Path(current_app.config.get("UPLOAD_DIR") or Path(current_app.instance_path) / "uploads") / "imports"


def resolve_directory(relative: str) -> Path:
    """A directory named by an archivist: inside LIUFANG_IMPORT_ROOT, or 422."""
    root = import_root().resolve()
    try:
        parts = [part for part in relative.replace("\\", "/").split("/") if part not in ("", ".")]
        if relative.strip().startswith("/") or any(part == ".." for part in parts):
            raise ValueError
        target = root.joinpath(*parts).resolve()
    except (ValueError, OSError):
        target = None
    if target is None or not target.is_relative_to(root) or not target.is_dir():
        raise ValidationFailed("导入目录不存在：须为服务器导入目录（LIUFANG_IMPORT_ROOT）中的子目录",
                               code="unknown_directory", details={"fields": {"directory": ["not found"]}})
    return target


def _manifest_path(record: Import) -> Path | None:
    if record.package:
        return None
    return _work_dir(record.id) / ("manifest.xlsx" if record.manifest_name.lower().endswith((".xlsx", ".xlsm"))
                                   else "manifest.csv")


def _open_record_source(record: Import) -> Source:
    try:
        if record.source_kind == "archive":
            return ZipSource(_work_dir(record.id) / "archive.zip")
        if record.source_kind == "path":
            return open_source(Path(record.source_label))
    except (OSError, zipfile.BadZipFile) as exc:
        raise ImportFailed("导入来源已不存在或无法读取", code="source_unavailable",
                           details={"source": record.source_label}) from exc
    try:
        return DirectorySource(resolve_directory(record.source_label))
    except ValidationFailed as exc:  # the folder went away after the import was queued
        raise ImportFailed(exc.message, code="source_unavailable", details={"source": record.source_label}) from exc


def _report_dict(report: Report) -> list[dict[str, Any]]:
    return [problem.to_dict() for problem in report.problems]


def summary_counts(plan: Plan, tally: Tally | None) -> dict[str, Any]:
    report = plan.report
    counts: dict[str, Any] = {"rows": plan.rows, "persons": len(plan.persons), "interviews": len(plan.interviews),
                              "files": len(plan.files), "already_imported": plan.already_done,
                              "errors": report.errors, "warnings": report.warnings,
                              "problems_truncated": report.truncated}
    if tally is not None:
        counts.update(tally.to_dict())
    return counts


def run_record(import_id: int) -> Generator[float, None, dict[str, Any]]:
    """An import record's work as steps (the job runner or the command line commits at every yield): the check,
    then, unless it is a dry run or found errors, the import itself. Returns the counts."""
    record = db.session.get(Import, import_id)
    if record is None:
        raise NotFound("导入任务不存在", code="import_not_found")
    actor = db.session.get(User, record.created_by_id)
    assert actor is not None
    batch, dry_run = record.batch, record.dry_run
    record.status, record.phase, record.started_at, record.error = "running", "checking", utcnow(), None
    record.progress, record.rows_done, record.bytes_done = 0.0, 0, 0
    scratch = scratch_dir() / str(import_id)
    shutil.rmtree(scratch, ignore_errors=True)  # copies an interrupted attempt left behind
    source = _open_record_source(record)
    try:
        checking = check(actor, source, _manifest_path(record), batch, scratch)
        share = 100.0 if dry_run else 50.0
        try:
            while True:
                fraction = next(checking)
                record = db.session.get(Import, import_id)
                record.progress = round(fraction * share, 1)
                yield record.progress
        except StopIteration as done:
            plan: Plan = done.value
        record = db.session.get(Import, import_id)
        record.problems, record.counts = _report_dict(plan.report), summary_counts(plan, None)
        record.rows_total, record.bytes_total = plan.rows, plan.bytes_total
        if dry_run or plan.report.errors:
            record.status = "succeeded" if dry_run else "failed"
            record.phase, record.progress, record.finished_at = "checked", 100.0 if dry_run else 50.0, utcnow()
            if not dry_run:
                record.error = f"清单有 {plan.report.errors} 处错误，未导入任何内容"
            audit.record("import", record.id, "check", actor, changes={"counts": {"before": None,
                                                                                   "after": record.counts}})
            return record.counts
        record.phase = "importing"
        yield 50.0
        tally = Tally()
        total = max(plan.rows, 1)
        for _ in execute(actor, source, plan, scratch, import_id, tally):
            record = db.session.get(Import, import_id)
            record.rows_done, record.bytes_done = tally.rows_done, tally.bytes_done
            record.counts = summary_counts(plan, tally)
            record.progress = round(50.0 + 50.0 * tally.rows_done / total, 1)
            yield record.progress
        record = db.session.get(Import, import_id)
        record.status, record.phase, record.progress, record.finished_at = "succeeded", "done", 100.0, utcnow()
        record.rows_done, record.bytes_done, record.counts = tally.rows_done, tally.bytes_done, summary_counts(plan, tally)
        audit.record("import", record.id, "finish", actor, changes={"counts": {"before": None, "after": record.counts}})
        if record.source_kind == "archive":
            archive = _work_dir(record.id) / "archive.zip"
            transaction.on_commit(lambda: archive.unlink(missing_ok=True))
        return record.counts
    finally:
        source.close()
        shutil.rmtree(scratch, ignore_errors=True)


# --- import records: created by the API or the command line, run as a job or in the command ---------------------

def _store_stream(stream: Any, target: Path, limit: int, what: str) -> tuple[int, str]:
    """Copy an uploaded file to ``target`` in chunks, hashing it; 413 past ``limit`` bytes."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        reader = HashingReader(stream)
        while chunk := reader.read(COPY_CHUNK):
            if reader.bytes_read > limit:
                raise PayloadTooLarge(f"{what}超过 {limit} 字节", code="file_too_large",
                                      details={"max_size": limit, "field": what})
            out.write(chunk)
    return reader.bytes_read, reader.sha256


def _label(name: str | None, fallback: str) -> str:
    """A client's file name as a label only: its last component, NFC, at most 255 characters."""
    base = os.path.basename(str(name or "").replace("\\", "/")).strip()
    return unicodedata.normalize("NFC", base)[:255] or fallback


def default_batch(manifest_name: str) -> str:
    stem = manifest_name.rsplit(".", 1)[0] if "." in manifest_name else manifest_name
    return stem.strip()[:128] or "import"


def _new_record(actor: User, *, dry_run: bool, batch: str | None, source_kind: str, source_label: str,
                manifest_name: str) -> Import:
    if not policy.can(actor, Permission.IMPORT_RUN):
        raise Forbidden("只有档案员可以批量导入", code="role_required")
    batch = (batch or "").strip() or default_batch(manifest_name)
    if len(batch) > 128:
        raise ValidationFailed("批次名称最多 128 个字符", code="invalid_import",
                               details={"fields": {"batch": ["at most 128 characters"]}})
    record = Import(status="queued", phase="queued", dry_run=dry_run, batch=unicodedata.normalize("NFC", batch),
                    source_kind=source_kind, source_label=source_label, manifest_name=manifest_name,
                    created_by_id=actor.id, counts={}, problems=[], progress=0.0)
    db.session.add(record)
    db.session.flush()
    return record


def _install_files(record: Import, staged: Path) -> None:
    """Move the staged manifest (and archive) to the import's folder once the record is committed."""
    target = _work_dir(record.id)

    def install() -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            shutil.rmtree(target)  # left by a record of this id that was rolled back
        os.replace(staged, target)

    transaction.on_commit(install)


def create_import(actor: User, *, manifest: Any, manifest_name: str | None, directory: str | None = None,
                  archive: Any = None, archive_name: str | None = None, batch: str | None = None,
                  dry_run: bool = True) -> Import:
    """An import from the API: the manifest and a zip (streamed to the server under our own names) or a directory
    under LIUFANG_IMPORT_ROOT; queued as a job. A dry run only checks."""
    if not policy.can(actor, Permission.IMPORT_RUN):
        raise Forbidden("只有档案员可以批量导入", code="role_required")
    if (directory is None) == (archive is None):
        raise ValidationFailed("请提供压缩包 archive 或服务器目录 directory（二选一）", code="invalid_import",
                               details={"fields": {"archive": ["archive or directory, not both"]}})
    name = _label(manifest_name, "manifest.csv") if manifest is not None else ""
    staged = Path(current_app.instance_path) / "imports" / f"staged-{uuid.uuid4().hex}"
    manifest_sha256, package = "", manifest is None
    try:
        if manifest is not None:
            manifest_file = staged / ("manifest.xlsx" if name.lower().endswith((".xlsx", ".xlsm"))
                                      else "manifest.csv")
            size, manifest_sha256 = _store_stream(manifest, manifest_file, MANIFEST_MAX_BYTES, "清单")
            if size == 0:
                raise ValidationFailed("清单文件为空", code="empty_file", details={"fields": {"manifest": ["empty"]}})
        if directory is not None:
            kind, label = "directory", directory.strip()
            folder = resolve_directory(directory)
            if package and not is_package(DirectorySource(folder)):
                raise _manifest_required()
        else:
            limit = int(current_app.config.get("IMPORT_MAX_ARCHIVE") or 2 * 1024**3)
            _store_stream(archive, staged / "archive.zip", limit, "压缩包")
            if not zipfile.is_zipfile(staged / "archive.zip"):
                raise UnsupportedMediaType("压缩包须为 zip 文件", code="unsupported_archive")
            if package:
                opened = ZipSource(staged / "archive.zip")
                try:
                    if not is_package(opened):
                        raise _manifest_required()
                finally:
                    opened.close()
            kind, label = "archive", _label(archive_name, "archive.zip")
        record = _new_record(actor, dry_run=dry_run, batch=batch or (_package_batch(label) if package else None),
                             source_kind=kind, source_label=label, manifest_name=name)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    record.manifest_sha256, record.package = manifest_sha256, package
    _install_files(record, staged)
    audit.record("import", record.id, "create", actor, changes={
        "dry_run": {"before": None, "after": dry_run}, "batch": {"before": None, "after": record.batch},
        "source": {"before": None, "after": f"{kind}:{label}"}, "manifest": {"before": None, "after": name}})
    _queue(actor, record)
    return record


def _manifest_required() -> ValidationFailed:
    return ValidationFailed("缺少清单 manifest（只有留芳的保存包可以不带清单导入）", code="validation_error",
                            details={"fields": {"manifest": ["required unless the archive is a Liufang package"]}})


def _package_batch(label: str) -> str:
    """A package's batch: its bag's name (liufang-<uuid>), so the same package is never imported twice."""
    return default_batch(label)


def _queue(actor: User, record: Import) -> None:
    job = jobs.submit("import", params={"import_id": record.id}, actor=actor, max_attempts=3)
    record.job_id = job.id
    db.session.flush()


def create_local_import(actor: User, *, source: Path, manifest: Path | None, batch: str | None) -> Import:
    """An import from the command line: any directory or zip the operator names; the manifest is copied (none for
    a Liufang package)."""
    if manifest is None:
        batch = batch or _package_batch(source.name)
    record = _new_record(actor, dry_run=False, batch=batch, source_kind="path", source_label=str(source.resolve()),
                         manifest_name=_label(manifest.name, "manifest.csv") if manifest is not None else "")
    # A command-line run of this batch still marked running was interrupted (killed, power cut): this one resumes it.
    for stale in db.session.scalars(select(Import).where(Import.batch == record.batch, Import.id != record.id,
                                                         Import.source_kind == "path", Import.job_id.is_(None),
                                                         Import.status == "running")):
        mark_ended(stale, "failed", f"中断：导入 #{record.id} 从中断处继续")
        shutil.rmtree(scratch_dir() / str(stale.id), ignore_errors=True)
    record.package = manifest is None
    staged = Path(current_app.instance_path) / "imports" / f"staged-{uuid.uuid4().hex}"
    staged.mkdir(parents=True, exist_ok=True)
    target = _manifest_path(record)
    if manifest is not None and target is not None:
        with open(manifest, "rb") as stream:
            _, record.manifest_sha256 = _store_stream(stream, staged / target.name, MANIFEST_MAX_BYTES, "清单")
    _install_files(record, staged)
    audit.record("import", record.id, "create", actor, changes={
        "dry_run": {"before": None, "after": False}, "batch": {"before": None, "after": record.batch},
        "source": {"before": None, "after": f"path:{record.source_label}"},
        "manifest": {"before": None, "after": record.manifest_name}})
    return record


def check_local(actor: User, *, source: Path, manifest: Path | None, batch: str | None, scratch: Path
                ) -> Generator[float, None, Plan]:
    """The command line's dry run: the check alone, nothing recorded."""
    opened = open_source(source)
    try:
        chosen = (batch or "").strip() or (default_batch(manifest.name) if manifest is not None
                                           else _package_batch(source.name))
        return (yield from check(actor, opened, manifest, chosen, scratch))
    finally:
        opened.close()


def is_liufang_package(path: Path) -> bool:
    try:
        opened = open_source(path)
    except (OSError, zipfile.BadZipFile):
        return False
    try:
        return is_package(opened)
    finally:
        opened.close()


def visible_import(actor: User, import_id: int) -> Import:
    record = db.session.get(Import, import_id)
    if record is None or not policy.can(actor, Permission.IMPORT_RUN):
        raise NotFound("导入任务不存在", code="import_not_found")
    return record


def list_imports(actor: User, *, status: str | None = None, page: int = 1, per_page: int = 20) -> Page[Import]:
    if not policy.can(actor, Permission.IMPORT_RUN):
        raise Forbidden("只有档案员可以批量导入", code="role_required")
    query = select(Import)
    if status:
        query = query.where(Import.status == status)
    return paginate(query.order_by(Import.id.desc()), page, per_page)


def start_run(actor: User, import_id: int) -> Import:
    """Run for real what a dry run checked (same manifest and files), or resume a failed or cancelled run."""
    record = visible_import(actor, import_id)
    if record.status in ("queued", "running"):
        raise Conflict("导入正在进行", code="import_busy", details={"status": record.status})
    if record.status == "succeeded" and not record.dry_run:
        raise Conflict("导入已完成", code="import_finished", details={"status": record.status})
    if record.dry_run and int((record.counts or {}).get("errors") or 0):
        raise Conflict("检查发现错误：请修正清单后重新提交", code="import_has_errors",
                       details={"errors": record.counts.get("errors")})
    was = "dry_run" if record.dry_run else record.status
    record.dry_run, record.status, record.phase, record.error, record.finished_at = False, "queued", "queued", None, None
    audit.record("import", record.id, "run", actor, changes={"status": {"before": was, "after": "queued"}})
    _queue(actor, record)
    return record


def cancel(actor: User, import_id: int) -> Import:
    record = visible_import(actor, import_id)
    if record.status not in ("queued", "running") or record.job_id is None:
        raise Conflict("导入已结束，不能取消", code="import_finished", details={"status": record.status})
    job = jobs.cancel(jobs.get_job(record.job_id))
    if job.status == "cancelled":
        mark_ended(record, "cancelled", "已取消")
    audit.record("import", record.id, "cancel", actor)
    db.session.flush()
    return record


def mark_ended(record: Import, status: str, reason: str) -> None:
    record.status, record.error, record.finished_at = status, reason, utcnow()


def _job_steps(job: Job) -> Generator[float, None, dict[str, Any]]:
    try:
        return (yield from run_record(int(job.params["import_id"])))
    except ImportFailed as exc:
        raise jobs.PermanentFailure(exc.message) from exc


def _job_failed(job: Job, reason: str) -> None:
    record = db.session.get(Import, int(job.params.get("import_id") or 0))
    if record is not None:
        mark_ended(record, "failed", reason)


def _job_cancelled(job: Job) -> None:
    record = db.session.get(Import, int(job.params.get("import_id") or 0))
    if record is not None and record.status in ("queued", "running"):
        mark_ended(record, "cancelled", "已取消")


RUN_IMPORT = jobs.JobHandler(steps=_job_steps, on_failure=_job_failed, on_cancel=_job_cancelled)

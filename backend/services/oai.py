"""The OAI-PMH provider's ledger and queries: what the public archive has ever shown harvesters, with datestamps,
sets and persistent deletions, kept up to date from the sync change log; and the stateless resumption tokens.

Harvesters get exactly what the public API shows (backend.services.policy's public rules): published, consented
profiles (oai_dc and EAC-CPF), public materials and public interviews (oai_dc). A record's datestamp moves when what
a harvester would receive changes — its metadata, its sets, or its entering or leaving the public archive — and a
record that was public once and is no longer (withdrawn, consent withdrawn, restricted, deleted) stays in the
ledger as deleted, for good (``deletedRecord=persistent``), until it becomes public again.

``refresh`` brings the ledger up to date before each request is answered: it reads the sync change log
(backend.services.change_log: every commit that changes a profile, material or interview, or what shapes it, logs
it in commit order) from where it stopped, plus the embargoes that ended since it last looked (the one change that
comes with time alone), and compares the public metadata of each record named there with what it last published.
The datestamp it gives is the time of that refresh, after the change was committed, so a harvester that asks
``from`` its last ``responseDate`` never misses a change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Iterable

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from lxml import etree
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from backend.clock import clock
from backend.extensions import db
from backend.models import (Interview, InterviewPerson, Material, OaiRecord, OaiRecordSet, OaiState, Person,
                            PersonMaterial, Project, SyncChange, SyncState)
from backend.models.person import CATEGORIES, CATEGORY_LABELS
from backend.services import crosswalks, policy

STATE_ID = 1
FINGERPRINT_BASE_URL = "https://fingerprint.invalid"  # documents are compared as if made at one address
_CHUNK = 500

# metadataPrefix → (schema, namespace, the record types disseminated in it)
METADATA_FORMATS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "oai_dc": ("http://www.openarchives.org/OAI/2.0/oai_dc.xsd", crosswalks.OAI_DC_NS,
               ("person", "material", "interview")),
    "eac_cpf": ("http://eac.staatsbibliothek-berlin.de/schema/cpf.xsd", crosswalks.EAC_NS, ("person",)),
}
FORMATS_OF: dict[str, list[str]] = {kind: [prefix for prefix, (_s, _n, kinds) in METADATA_FORMATS.items()
                                           if kind in kinds] for kind in ("person", "material", "interview")}

# Sets: the programme's three categories (ASCII setSpecs under "category"), named in Chinese, and the public
# collection projects (themed memory collections) under "project".
CATEGORY_SET = "category"
PROJECT_SET = "project"
CATEGORY_SETS: dict[str, str] = {CATEGORY_SET: "人物类别（三为三让）",
                                 **{f"{CATEGORY_SET}:{category}": CATEGORY_LABELS[category]
                                    for category in CATEGORIES}}


def public_projects() -> list[list[Any]]:
    """[id, title] of each public project: what the records' sets and Dublin Core take from projects."""
    return [[project_id, title] for project_id, title in db.session.execute(
        select(Project.id, Project.title).where(policy.project_is_public()).order_by(Project.id))]


def sets() -> list[tuple[str, str]]:
    """(setSpec, setName) of every set, parents first: the categories, then each public project."""
    projects = db.session.execute(select(Project.id, Project.title).where(policy.project_is_public())
                                  .order_by(Project.id)).all()
    project_sets = [(PROJECT_SET, "采集项目与专题记忆库")] if projects else []
    project_sets += [(f"{PROJECT_SET}:{project_id}", title or f"采集项目 {project_id}") for project_id, title in projects]
    return list(CATEGORY_SETS.items()) + project_sets


# --- identifiers --------------------------------------------------------------------------------------------------

def repository_identifier() -> str:
    return current_app.config["OAI_REPOSITORY_IDENTIFIER"]


def identifier(entity_type: str, entity_id: int) -> str:
    """``oai:archive.example.org:person/12`` (the oai-identifier scheme)."""
    return f"oai:{repository_identifier()}:{entity_type}/{entity_id}"


def parse_identifier(value: str) -> tuple[str, int] | None:
    prefix = f"oai:{repository_identifier()}:"
    if not value.startswith(prefix):
        return None
    kind, _, number = value[len(prefix):].partition("/")
    if kind not in FORMATS_OF or not (number.isascii() and number.isdigit()) or len(number) > 18:
        return None
    return kind, int(number)


# --- what is public now ---------------------------------------------------------------------------------------------

@dataclass
class Snapshot:
    fingerprint: str
    set_specs: list[str]


def _public_ids(kind: str, ids: list[int]) -> set[int]:
    model, condition = {"person": (Person, policy.person_is_public),
                        "material": (Material, policy.material_is_public),
                        "interview": (Interview, policy.interview_is_public)}[kind]
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        found |= set(db.session.scalars(select(model.id).where(model.id.in_(chunk), condition())))
    return found


def _category_sets(person_ids: Select[Any]) -> list[str]:
    categories = db.session.scalars(select(Person.category).where(Person.id.in_(person_ids),
                                                                  policy.person_is_public()).distinct())
    return sorted(f"{CATEGORY_SET}:{category}" for category in categories)


def _project_sets(project_ids: Select[Any]) -> list[str]:
    public = db.session.scalars(select(Project.id).where(Project.id.in_(project_ids), policy.project_is_public()))
    return [f"{PROJECT_SET}:{project_id}" for project_id in sorted(public)]


def set_specs_of(kind: str, entity: Any, any_public_project: bool = True) -> list[str]:
    """A profile is in its category's set and in the public projects of its public materials and interviews; a
    material or interview in the category sets of its public persons and in its project's set, if public.
    (``any_public_project=False`` skips looking for projects when the caller knows none is public.)"""
    if kind == "person" and not any_public_project:
        return [f"{CATEGORY_SET}:{entity.category}"]
    if kind == "person":
        linked = select(PersonMaterial.material_id).where(PersonMaterial.person_id == entity.id)
        interviewed = select(InterviewPerson.interview_id).where(InterviewPerson.person_id == entity.id)
        projects = select(Material.project_id).where(Material.id.in_(linked), policy.material_is_public()).union(
            select(Interview.project_id).where(Interview.id.in_(interviewed), policy.interview_is_public()))
        return [f"{CATEGORY_SET}:{entity.category}", *_project_sets(projects)]
    if kind == "material":
        persons = select(PersonMaterial.person_id).where(PersonMaterial.material_id == entity.id)
    else:
        persons = select(InterviewPerson.person_id).where(InterviewPerson.interview_id == entity.id)
    own = [] if entity.project_id is None else _project_sets(select(Project.id).where(Project.id == entity.project_id))
    return _category_sets(persons) + own


def load(kind: str, entity_id: int) -> Any:
    model = {"person": Person, "material": Material, "interview": Interview}[kind]
    return db.session.get(model, entity_id)


def metadata_element(kind: str, entity: Any, prefix: str) -> etree._Element:
    """The record's metadata in ``prefix``, exactly what the public may see."""
    if prefix == "eac_cpf":
        return crosswalks.eac_cpf_element(entity, audience="public")
    if kind == "person":
        return crosswalks.person_dublin_core_element(entity, audience="public")
    return crosswalks.dublin_core_element(entity, audience="public")


def snapshot(kind: str, entity: Any, any_public_project: bool = True) -> Snapshot:
    """What harvesters get of a public record, as a fingerprint (independent of the host it is asked on)."""
    specs = set_specs_of(kind, entity, any_public_project)
    digest = hashlib.sha256(json.dumps(specs).encode())
    with crosswalks.base_url_as(FINGERPRINT_BASE_URL):
        for prefix in FORMATS_OF[kind]:
            digest.update(etree.tostring(metadata_element(kind, entity, prefix), encoding="UTF-8"))
    return Snapshot(digest.hexdigest(), specs)


# --- the ledger -----------------------------------------------------------------------------------------------------

def now() -> datetime:
    """Now in whole seconds (the repository's granularity), UTC."""
    return clock.now().astimezone(timezone.utc).replace(microsecond=0)


def _sync_position() -> int:
    return int(db.session.scalar(select(SyncState.last_seq).where(SyncState.id == STATE_ID)) or 0)


def is_current() -> bool:
    """Whether the ledger has read the whole change log and looked for ended embargoes today (a cheap read)."""
    state = db.session.get(OaiState, STATE_ID)
    return state is not None and state.last_seq == _sync_position() and state.checked_day == policy.current_date() \
        and list(state.public_projects or []) == public_projects()


def _claim_state(today: date) -> OaiState:
    """The ledger's state row, created if missing and locked until this transaction ends, so refreshes take
    turns. The INSERT comes first: on SQLite a transaction that writes first holds the write lock before it reads
    anything (one that read first could find its snapshot stale when it writes)."""
    table = OaiState.__table__
    insert = postgresql_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(table).values(id=STATE_ID, last_seq=-1, checked_day=today, public_projects=[])
                       .on_conflict_do_nothing(index_elements=[table.c.id]))
    state = db.session.scalar(select(OaiState).where(OaiState.id == STATE_ID).with_for_update()
                              .execution_options(populate_existing=True))
    assert state is not None
    return state


def refresh() -> None:
    """Bring the ledger up to date with what the public archive shows now. Run it in a unit of work of its own,
    before the request reads the ledger (``is_current`` first tells whether there is anything to do)."""
    today = policy.current_date()
    state = _claim_state(today)
    position = _sync_position()
    projects = public_projects()
    before = list(state.public_projects or [])
    if state.last_seq == position and state.checked_day == today and before == projects:
        return  # another request refreshed while this one waited for the lock
    if state.last_seq < 0 or state.last_seq > position:
        # First run, or a change log that started again (a restored database): look at everything.
        candidates = _everything()
    else:
        candidates = _changed_since(state.last_seq, position, state.checked_day, today)
        changed = [entry for entry in before if entry not in projects] + \
            [entry for entry in projects if entry not in before]
        _add_project_records(candidates, {int(entry[0]) for entry in changed})
    _apply(_expand(candidates))
    state.last_seq, state.checked_day, state.public_projects = position, today, projects
    db.session.flush()


def _add_project_records(candidates: dict[str, set[int]], project_ids: set[int]) -> None:
    """The records of projects that became public or stopped being so (their sets changed)."""
    if not project_ids:
        return
    ids = sorted(project_ids)
    candidates["material"] |= set(db.session.scalars(select(Material.id).where(Material.project_id.in_(ids))))
    candidates["interview"] |= set(db.session.scalars(select(Interview.id).where(Interview.project_id.in_(ids))))


def _everything() -> dict[str, set[int]]:
    candidates: dict[str, set[int]] = {kind: set() for kind in FORMATS_OF}
    candidates["person"] |= set(db.session.scalars(select(Person.id).where(policy.person_is_public())))
    candidates["material"] |= set(db.session.scalars(select(Material.id).where(policy.material_is_public())))
    candidates["interview"] |= set(db.session.scalars(select(Interview.id).where(policy.interview_is_public())))
    for kind, entity_id in db.session.execute(select(OaiRecord.entity_type, OaiRecord.entity_id)
                                              .where(OaiRecord.deleted.is_(False))):
        candidates[kind].add(int(entity_id))
    return candidates


def _changed_since(last_seq: int, position: int, checked_day: date, today: date) -> dict[str, set[int]]:
    candidates: dict[str, set[int]] = {kind: set() for kind in FORMATS_OF}
    rows = db.session.execute(select(SyncChange.entity_type, SyncChange.entity_id)
                              .where(SyncChange.seq > last_seq, SyncChange.seq <= position,
                                     SyncChange.entity_type.in_(list(FORMATS_OF))))
    for kind, entity_id in rows:
        candidates[kind].add(int(entity_id))
    if today > checked_day:  # embargoes that ended since the last look
        candidates["material"] |= set(db.session.scalars(
            select(Material.id).where(Material.embargo_until > checked_day, Material.embargo_until <= today)))
    return candidates


def _expand(candidates: dict[str, set[int]]) -> dict[str, set[int]]:
    """Add the records whose public metadata or visibility derives from a changed one, two steps out: a profile
    names its materials, a material its persons and interview, an interview its interviewees and materials."""
    result = {kind: set(ids) for kind, ids in candidates.items()}
    frontier = candidates
    for _step in range(2):
        found: dict[str, set[int]] = {kind: set() for kind in FORMATS_OF}
        relations = (
            ("person", "material", PersonMaterial.person_id, PersonMaterial.material_id),
            ("material", "person", PersonMaterial.material_id, PersonMaterial.person_id),
            ("person", "interview", InterviewPerson.person_id, InterviewPerson.interview_id),
            ("interview", "person", InterviewPerson.interview_id, InterviewPerson.person_id),
            ("material", "interview", Material.id, Material.interview_id),
            ("interview", "material", Material.interview_id, Material.id),
        )
        for source, target, source_column, target_column in relations:
            ids = sorted(frontier.get(source, ()))
            for start in range(0, len(ids), _CHUNK):
                found[target] |= {int(value) for value in db.session.scalars(
                    select(target_column).where(source_column.in_(ids[start:start + _CHUNK]))) if value is not None}
        frontier = {kind: ids - result[kind] for kind, ids in found.items()}
        for kind, ids in frontier.items():
            result[kind] |= ids
    return result


def _apply(candidates: dict[str, set[int]]) -> None:
    stamp = now()
    any_public_project = bool(public_projects())
    for kind, ids in candidates.items():
        ordered = sorted(ids)
        public = _public_ids(kind, ordered)
        model = {"person": Person, "material": Material, "interview": Interview}[kind]
        for start in range(0, len(ordered), _CHUNK):
            chunk = ordered[start:start + _CHUNK]
            existing = {record.entity_id: record for record in db.session.scalars(
                select(OaiRecord).where(OaiRecord.entity_type == kind, OaiRecord.entity_id.in_(chunk)))}
            shown = [entity_id for entity_id in chunk if entity_id in public]
            loaded = {entity.id: entity for entity in db.session.scalars(select(model).where(model.id.in_(shown)))} \
                if shown else {}
            for entity_id in chunk:
                entity = loaded.get(entity_id)
                state = snapshot(kind, entity, any_public_project) if entity is not None else None
                _settle(kind, entity_id, existing.get(entity_id), state, stamp)


def _settle(kind: str, entity_id: int, record: OaiRecord | None, state: Snapshot | None, stamp: datetime) -> None:
    if state is None:
        if record is not None and not record.deleted:
            record.deleted, record.datestamp = True, stamp
        return
    if record is None:
        record = OaiRecord(entity_type=kind, entity_id=entity_id, deleted=False, fingerprint=state.fingerprint,
                           datestamp=stamp)
        record.set_rows = [OaiRecordSet(spec=spec) for spec in state.set_specs]
        db.session.add(record)
        return
    if record.deleted or record.fingerprint != state.fingerprint or record.set_specs != state.set_specs:
        record.deleted, record.fingerprint, record.datestamp = False, state.fingerprint, stamp
        if record.set_specs != state.set_specs:
            record.set_rows = [OaiRecordSet(spec=spec) for spec in state.set_specs]


# --- reading the ledger -------------------------------------------------------------------------------------------

def totals() -> tuple[int, int]:
    """(records harvesters get, deleted records)."""
    rows = dict(db.session.execute(select(OaiRecord.deleted, func.count()).group_by(OaiRecord.deleted)).all())
    return int(rows.get(False, 0)), int(rows.get(True, 0))


def earliest_datestamp() -> datetime:
    return db.session.scalar(select(func.min(OaiRecord.datestamp))) or now()


def find(kind: str, entity_id: int) -> OaiRecord | None:
    return db.session.scalar(select(OaiRecord).where(OaiRecord.entity_type == kind, OaiRecord.entity_id == entity_id))


@dataclass(frozen=True)
class Selection:
    """What a ListIdentifiers/ListRecords request asks for (datestamps inclusive, whole seconds)."""

    prefix: str
    set_spec: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def _selected(selection: Selection) -> Select[Any]:
    query = select(OaiRecord).where(OaiRecord.entity_type.in_(METADATA_FORMATS[selection.prefix][2]))
    if selection.set_spec:
        query = query.where(exists().where(OaiRecordSet.record_id == OaiRecord.id, or_(
            OaiRecordSet.spec == selection.set_spec,
            OaiRecordSet.spec.startswith(selection.set_spec + ":", autoescape=True))))
    if selection.start is not None:
        query = query.where(OaiRecord.datestamp >= selection.start)
    if selection.end is not None:
        query = query.where(OaiRecord.datestamp <= selection.end)
    return query


def count(selection: Selection) -> int:
    return int(db.session.scalar(select(func.count()).select_from(_selected(selection).subquery())) or 0)


def page(selection: Selection, after: tuple[datetime, int] | None, limit: int) -> list[OaiRecord]:
    """Up to ``limit`` records in (datestamp, id) order after the key ``after``: a record that changes while a
    harvest is under way moves behind the key and comes again later, so none is ever skipped."""
    query = _selected(selection)
    if after is not None:
        query = query.where(or_(OaiRecord.datestamp > after[0],
                                and_(OaiRecord.datestamp == after[0], OaiRecord.id > after[1])))
    return list(db.session.scalars(query.order_by(OaiRecord.datestamp, OaiRecord.id).limit(limit)))


def entities(records: Iterable[OaiRecord]) -> dict[tuple[str, int], Any]:
    """The profiles, materials and interviews behind live records, loaded a kind at a time."""
    wanted: dict[str, list[int]] = {}
    for record in records:
        if not record.deleted:
            wanted.setdefault(record.entity_type, []).append(record.entity_id)
    loaded: dict[tuple[str, int], Any] = {}
    for kind, ids in wanted.items():
        model = {"person": Person, "material": Material, "interview": Interview}[kind]
        for entity in db.session.scalars(select(model).where(model.id.in_(ids))):
            loaded[(kind, entity.id)] = entity
    return loaded


# --- resumption tokens --------------------------------------------------------------------------------------------

class BadToken(ValueError):
    """A resumption token that is not one of ours, was altered, or has expired."""


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="liufang-oai-pmh-resumption")


def token_lifetime() -> timedelta:
    return current_app.config["OAI_TOKEN_LIFETIME"]


def issue_token(state: dict[str, Any]) -> tuple[str, datetime]:
    """A signed token carrying where the list stands (its request, the last key, the cursor, the list size), and
    when it expires: the server keeps nothing."""
    expires = now() + token_lifetime()
    return _serializer().dumps({**state, "x": int(expires.timestamp())}), expires


def read_token(token: str) -> dict[str, Any]:
    try:
        state = _serializer().loads(token)
    except BadSignature as exc:
        raise BadToken("not a token of this repository") from exc
    if not isinstance(state, dict) or not isinstance(state.get("x"), int):
        raise BadToken("not a token of this repository")
    if state["x"] < now().timestamp():
        raise BadToken("expired")
    return state

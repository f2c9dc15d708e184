"""The search index follows every write in the same transaction: session hooks note which searchable records a
flush touched (segments, profiles and their tags, materials, interviews), and just before COMMIT their documents
are built again from what the database holds then and written through the engine — so a segment saved by one
request is found by the very next. ``rebuild`` (``liufang search reindex``) makes the whole index anew in bulk.
``refresh_statistics`` (after a reindex, nightly, ``liufang search statistics``) stores how common each term is,
which weighs a query's words in the ranking.

What is indexed is only what the archive shows: never ID numbers, phones, addresses or consent conditions. Who may
see a hit is decided when searching (backend.services.search), from the records as they are then."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import delete, event, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import ORMExecuteState, Session, selectinload

from backend.extensions import db
from backend.models import (DOCUMENT_KINDS, Interview, Material, Person, PersonTag, SearchDocument, SearchStatistics,
                            SearchTermStatistics, Transcript, TranscriptSegment)
from backend.models.types import utcnow
from backend.services.pinyin import search_terms
from backend.services.search_engines import SearchEngine, engine_for
from backend.services.search_text import spaced

log = logging.getLogger(__name__)

Key = tuple[str, int]
_PENDING = "liufang_search_pending"
_CHUNK = 500


# --- the documents: what of each record is searchable ----------------------------------------------------------

def person_fields(person: Person) -> tuple[list[str], list[str]]:
    """(title fields, other fields) of a profile: the name and aliases with their pinyin and initials (张三:
    zhangsan, zs, zhs), then biography, honours, occupation, native place, area and tags."""
    title: list[str] = []
    for value in [person.name, *(person.aliases or [])]:
        title += [value, *search_terms(value)[1:]]
    honours = [" ".join(str(part) for part in (honour.get("title"), honour.get("conferred_by")) if part)
               for honour in (person.honours or []) if isinstance(honour, dict)]
    body = [person.biography or "", *honours, person.occupation or "", person.native_place or "",
            person.area_district or "", person.area_town or "", person.area_village or "", *person.tags]
    return list(dict.fromkeys(title)), body


def material_text_fields(material: Material) -> list[str]:
    """The text of a material beyond its metadata: its OCR, PDF text layer or an editor's correction."""
    return [material.text_content] if material.text_content else []


def material_fields(material: Material) -> tuple[list[str], list[str]]:
    """What staff (and the uploader) can search in a material: title, description, place and its text."""
    return [material.title or ""], [material.description or "", material.place or "", *material_text_fields(material)]


def public_material_fields(material: Material) -> tuple[list[str], list[str]]:
    """A material as the public API shows it: the title unless it is only the uploaded file's name, and the
    description; never the place or the material's read text (OCR may hold what a certificate says of a person's
    papers), which the public archive does not show."""
    title = material.title or ""
    if title == (material.original_filename or ""):
        title = ""
    return [title], [material.description or ""]


def interview_fields(interview: Interview) -> tuple[list[str], list[str]]:
    """An interview's title, then its place and notes (its summary)."""
    return [interview.title or ""], [interview.place or "", interview.notes or ""]


def _document(kind: str, ref_id: int, fields: tuple[list[str], list[str]], **extra: Any) -> dict[str, Any]:
    title, body = fields
    return {"kind": kind, "ref_id": ref_id, "title": spaced(title), "body": spaced(body), "transcript_id": None,
            "material_id": None, "start": None, "end": None, "category": None, "area": None, **extra}


def segment_document(segment: TranscriptSegment, material_id: int) -> dict[str, Any]:
    return _document("segment", segment.id, ([], [segment.text or ""]), transcript_id=segment.transcript_id,
                     material_id=material_id, start=segment.start, end=segment.end)


def documents_for(kind: str, ids: list[int]) -> list[dict[str, Any]]:
    """The documents of the records ``ids`` of ``kind`` as the database holds them now (none for a missing one)."""
    documents: list[dict[str, Any]] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start:start + _CHUNK]
        if kind == "segment":
            rows = db.session.execute(select(TranscriptSegment, Transcript.material_id)
                                      .join(Transcript, Transcript.id == TranscriptSegment.transcript_id)
                                      .where(TranscriptSegment.id.in_(chunk))).all()
            documents += [segment_document(segment, material_id) for segment, material_id in rows]
        elif kind == "person":
            for person in db.session.scalars(select(Person).where(Person.id.in_(chunk))
                                             .options(selectinload(Person.tag_rows))):
                documents.append(_document("person", person.id, person_fields(person), category=person.category,
                                           area=person.area_district))
        elif kind == "material":
            for material in db.session.scalars(select(Material).where(Material.id.in_(chunk))):
                documents.append(_document("material", material.id, material_fields(material),
                                           material_id=material.id))
                documents.append(_document("public_material", material.id, public_material_fields(material),
                                           material_id=material.id))
        elif kind == "interview":
            for interview in db.session.scalars(select(Interview).where(Interview.id.in_(chunk))):
                documents.append(_document("interview", interview.id, interview_fields(interview)))
    return documents


def _keys_with_public(kind: str, ids: Iterable[int]) -> list[Key]:
    kinds = ("material", "public_material") if kind == "material" else (kind,)
    return [(k, ref_id) for k in kinds for ref_id in ids]


def engine(connection: Connection | None = None) -> SearchEngine:
    return engine_for((connection or db.session.connection()).dialect.name)


def refresh(keys: Iterable[Key]) -> None:
    """Bring the documents of these records up to date in this transaction (records that are gone lose theirs)."""
    by_kind: dict[str, set[int]] = {}
    for kind, ref_id in keys:
        by_kind.setdefault(kind, set()).add(ref_id)
    connection = db.session.connection()
    search_engine = engine(connection)
    for kind, ids in sorted(by_kind.items()):
        ordered = sorted(ids)
        search_engine.replace(connection, _keys_with_public(kind, ordered), documents_for(kind, ordered))


# --- following writes: session hooks ----------------------------------------------------------------------------

_OWN: dict[type, str] = {TranscriptSegment: "segment", Person: "person", Material: "material",
                         Interview: "interview"}


@dataclass
class _Pending:
    keys: set[Key] = field(default_factory=set)
    transcripts: set[int] = field(default_factory=set)  # deleted transcripts: their segments' documents go


def _pending(session: Session) -> _Pending:
    return session.info.setdefault(_PENDING, _Pending())


def _note(pending: _Pending, row: Any, *, deleted: bool = False) -> None:
    kind = _OWN.get(type(row))
    if kind is not None and row.id is not None:
        pending.keys.add((kind, row.id))
    elif isinstance(row, PersonTag) and row.person_id is not None:
        pending.keys.add(("person", row.person_id))
    elif deleted and isinstance(row, Transcript) and row.id is not None:
        pending.transcripts.add(row.id)


def _after_flush(session: Session, _context: Any) -> None:
    pending = _pending(session)
    for row in session.new:
        _note(pending, row)
    for row in session.deleted:
        _note(pending, row, deleted=True)
    for row in session.dirty:
        if type(row) in _OWN and session.is_modified(row) or isinstance(row, PersonTag):
            _note(pending, row)


def _do_orm_execute(state: ORMExecuteState) -> Any:
    """Bulk UPDATE/DELETE statements on searchable tables bypass the unit of work: note the rows they touch."""
    if not (state.is_update or state.is_delete) or state.bind_mapper is None:
        return None
    model = state.bind_mapper.class_
    if model not in _OWN and model is not PersonTag:
        return None
    where = state.statement.whereclause
    pending = _pending(state.session)
    if model is PersonTag:
        query = select(PersonTag.person_id) if where is None else select(PersonTag.person_id).where(where)
        pending.keys.update(("person", person_id) for person_id in state.session.scalars(query))
    else:
        query = select(model.id) if where is None else select(model.id).where(where)
        pending.keys.update((_OWN[model], row_id) for row_id in state.session.scalars(query))
    return None


def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    session.flush()
    pending: _Pending | None = session.info.pop(_PENDING, None)
    if pending is None or not (pending.keys or pending.transcripts):
        return
    connection = session.connection()
    if pending.transcripts:
        # Segments deleted with their transcript by the database (ON DELETE CASCADE) are not seen one by one.
        documents = SearchDocument.__table__
        orphans = connection.execute(select(documents.c.ref_id).where(
            documents.c.kind == "segment", documents.c.transcript_id.in_(sorted(pending.transcripts)))).scalars()
        pending.keys.update(("segment", ref_id) for ref_id in orphans)
    refresh(pending.keys)
    leftover: _Pending | None = session.info.pop(_PENDING, None)
    if leftover is not None and leftover.keys:
        refresh(leftover.keys)


def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def init_app(_app: Flask) -> None:
    """Install the hooks (once per process: they apply to every Flask-SQLAlchemy session)."""
    session_class = db.session.session_factory.class_
    for name, hook in (("after_flush", _after_flush), ("do_orm_execute", _do_orm_execute),
                       ("before_commit", _before_commit), ("after_transaction_end", _after_transaction_end)):
        if not event.contains(session_class, name, hook):
            event.listen(session_class, name, hook)


# --- rebuilding --------------------------------------------------------------------------------------------------

def _all_documents(batch: int) -> Iterator[list[dict[str, Any]]]:
    """Every record's documents, a batch of records at a time; segments read as plain rows (there are millions)."""
    for kind, model in (("person", Person), ("material", Material), ("interview", Interview)):
        last = 0
        while ids := list(db.session.scalars(select(model.id).where(model.id > last).order_by(model.id)
                                             .limit(batch))):
            last = ids[-1]
            with db.session.no_autoflush:
                yield documents_for(kind, ids)
            # let the records read go: a session holding 100,000 of them slows every later query down
            for key in [key for key in db.session.identity_map.keys() if key[0] in (model, PersonTag)]:
                record = db.session.identity_map.get(key)
                if record is not None and record in db.session and not db.session.is_modified(record):
                    db.session.expunge(record)
    yield from _segment_documents(batch, 0)


def _segment_documents(batch: int, last: int) -> Iterator[list[dict[str, Any]]]:
    segment = TranscriptSegment.__table__
    columns = (segment.c.id, segment.c.transcript_id, segment.c.start, segment.c.end, segment.c.text,
               Transcript.__table__.c.material_id)
    while rows := db.session.execute(select(*columns).join(Transcript.__table__,
                                                           Transcript.__table__.c.id == segment.c.transcript_id)
                                     .where(segment.c.id > last).order_by(segment.c.id).limit(batch)).all():
        last = rows[-1].id
        yield [_document("segment", row.id, ([], [row.text or ""]), transcript_id=row.transcript_id,
                         material_id=row.material_id, start=row.start, end=row.end) for row in rows]


def rebuild(batch: int = 5000) -> int:
    """Make the whole index anew from the records (in this transaction); returns the number of documents."""
    connection = db.session.connection()
    search_engine = engine(connection)
    connection.execute(delete(SearchDocument.__table__))
    count = 0
    for documents in _all_documents(batch):
        if documents:
            connection.execute(SearchDocument.__table__.insert(), documents)
        count += len(documents)
    search_engine.rebuild(connection)
    refresh_statistics()
    return count


def append_segments(after_segment_id: int, batch: int = 5000) -> int:
    """Index, in bulk, the segments with ids above ``after_segment_id`` that were loaded in bulk (no session saw
    them): what a migration of an existing archive or the benchmark needs; returns their number."""
    connection = db.session.connection()
    search_engine = engine(connection)
    before = db.session.scalar(select(func.max(SearchDocument.id))) or 0
    count = 0
    for documents in _segment_documents(batch, after_segment_id):
        connection.execute(SearchDocument.__table__.insert(), documents)
        count += len(documents)
    search_engine.index_after(connection, "segment", before)
    refresh_statistics()
    return count


# --- statistics: how common each term is -------------------------------------------------------------------------

# Terms in fewer documents than one in this many (and at least two) are not stored: they are all rare, and weigh
# as a term in half that many documents. Keeps the tables to tens of thousands of rows on a million segments.
STATISTICS_SHARE = 10_000
_STATISTICS_BATCH = 4000  # term rows per INSERT


def statistics_minimum(documents: int) -> int:
    """The fewest documents a term's statistics are stored for, among ``documents`` of a kind."""
    return max(2, documents // STATISTICS_SHARE)


@dataclass
class TermStatistics:
    """What is known of some terms among the documents of one kind: ``documents`` in all, each stored term's
    number (the others occur in fewer than ``statistics_minimum(documents)``)."""

    documents: int
    frequencies: dict[str, int]

    def frequency(self, term: str) -> float:
        return self.frequencies.get(term, statistics_minimum(self.documents) / 2)


def refresh_statistics() -> dict[str, int]:
    """Work out anew, from the index, the number of documents of each kind and in how many each character and pair
    of characters occurs (in this transaction; flushes only); returns the documents per kind."""
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":  # a second refresh at once waits, then replaces this one's rows
        connection.execute(text("LOCK TABLE search_term_statistics IN SHARE ROW EXCLUSIVE MODE"))
    search_engine = engine(connection)
    connection.execute(delete(SearchTermStatistics.__table__))
    connection.execute(delete(SearchStatistics.__table__))
    counted = dict(connection.execute(select(SearchDocument.kind, func.count()).group_by(SearchDocument.kind)).all())
    totals = {kind: counted.get(kind, 0) for kind in DOCUMENT_KINDS}
    refreshed_at = utcnow()
    connection.execute(SearchStatistics.__table__.insert(),
                       [{"kind": kind, "documents": documents, "refreshed_at": refreshed_at}
                        for kind, documents in totals.items()])
    for kind, documents in totals.items():
        if not documents:
            continue
        frequencies = search_engine.document_frequencies(connection, kind, statistics_minimum(documents))
        rows = [{"kind": kind, "term": term, "documents": number} for term, number in sorted(frequencies.items())]
        for start in range(0, len(rows), _STATISTICS_BATCH):
            connection.execute(SearchTermStatistics.__table__.insert(), rows[start:start + _STATISTICS_BATCH])
    return totals


def term_statistics(kinds: Collection[str], terms: Collection[str]) -> dict[str, TermStatistics]:
    """The stored statistics of ``terms`` among the documents of each of ``kinds`` (two statements for all of
    them: a search asks for every type it looks in); a kind never worked out, or without documents, is left out."""
    totals = dict(db.session.execute(select(SearchStatistics.kind, SearchStatistics.documents)
                                     .where(SearchStatistics.kind.in_(sorted(set(kinds))),
                                            SearchStatistics.documents > 0)).all())
    if not totals:
        return {}
    statistics = {kind: TermStatistics(documents, {}) for kind, documents in totals.items()}
    for kind, term, documents in db.session.execute(
            select(SearchTermStatistics.kind, SearchTermStatistics.term, SearchTermStatistics.documents)
            .where(SearchTermStatistics.kind.in_(sorted(totals)), SearchTermStatistics.term.in_(sorted(set(terms))))):
        statistics[kind].frequencies[term] = documents
    return statistics

"""Full-text search over transcripts, profiles, materials and interviews, for signed-in users and for the public.

A query is parsed and folded like the index (backend.services.search_text); the engine finds the candidate
documents of each requested type under the caller's visibility and the filters (conditions built here from
backend.services.policy, evaluated on the records as they are now: a withdrawn consent or a new embargo hides a
hit at once); the candidates are ranked here, the same on every engine: BM25 over the phrases (a title hit weighs
three times a body hit), a document holding the query's words as one exact phrase above those where they are
scattered. At most ``SEARCH_CANDIDATES`` of each type are ranked, the newest first: a query matching more is
answered from those, and its total says "at least" (``total_relation: gte``). Totals and facets count only what
the caller may see."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, and_, exists, false, literal, or_, select, union, union_all
from sqlalchemy.orm import aliased, lazyload, load_only

from backend.errors import ValidationFailed
from backend.extensions import db
from backend.models import (STATUSES, TRANSCRIPT_STATUSES, Interview, InterviewPerson, Material, Person,
                            PersonMaterial, Redaction, SearchDocument, Transcript, TranscriptSegment, User)
from backend.models.material import MATERIAL_STATUSES
from backend.models.person import tags_in_statement
from backend.services import change_log, policy
from backend.services import public as public_service
from backend.services.policy import Permission
from backend.services.search_engines import grams, statistics_terms
from backend.services.search_index import (TermStatistics, engine, interview_fields, material_fields,
                                          public_material_fields, term_statistics)
from backend.services.search_text import Query, highlight, match_spans, parse

TYPES = ("segment", "person", "material", "interview")
PUBLIC_TYPES = ("segment", "person", "material")
TITLE_WEIGHT = 3.0
K1, B = 1.2, 0.75


@dataclass
class Hit:
    type: str
    document: Any
    score: float = 0.0
    exact: bool = False


@dataclass
class Result:
    hits: list[Hit]
    total: int
    exact_total: bool
    page: int
    per_page: int
    facets: dict[str, dict[str, int]]
    query: Query


# --- visibility and filters, per type ------------------------------------------------------------------------------

def _person_visible(actor: User | None, person: Any = Person) -> ColumnElement[bool]:
    if actor is None:
        return policy.person_is_public(person)
    if policy.can(actor, Permission.PERSON_READ_ALL):
        return person.id.isnot(None)
    return or_(person.created_by_id == actor.id, person.status == "published")


@lru_cache(maxsize=4)
def _public_material_ids(today: date) -> Any:
    """The public materials' ids as a subquery, built once a day: the public rules make a large expression, and
    building it costs more than running it (the statement is the same for every request of that day)."""
    return select(Material.id).where(policy.material_is_public(today))


def _material_ids_of_persons(person_condition: ColumnElement[bool], person: Any) -> Any:
    """Ids of materials linked to a person matching the condition, directly or as an interviewee."""
    linked = select(PersonMaterial.material_id).join(person, person.id == PersonMaterial.person_id) \
        .where(person_condition)
    interviewed = select(Material.id).join(InterviewPerson, InterviewPerson.interview_id == Material.interview_id) \
        .join(person, person.id == InterviewPerson.person_id).where(person_condition)
    return union(linked, interviewed)


def _persons_condition(actor: User | None, category: str | None, area: str | None, person_id: int | None,
                       person: Any) -> ColumnElement[bool] | None:
    parts: list[ColumnElement[bool]] = []
    if category:
        parts.append(person.category == category)
    if area:
        parts.append(or_(person.area_district == area, person.area_town == area, person.area_village == area))
    if person_id is not None:
        parts.append(person.id == person_id)
    if not parts:
        return None
    return and_(_person_visible(actor, person), *parts)


def conditions_for(kind: str, actor: User | None, *, category: str | None = None, area: str | None = None,
                   person: int | None = None, collector: int | None = None, status: str | None = None,
                   public: frozenset[int] | None = None) -> list[ColumnElement[bool]]:
    """What a document of ``kind`` must satisfy to be answered to ``actor`` (None: the public), filters included;
    ``public``: the public recordings' ids (``public_material_ids``), if known."""
    who = None if actor is None else (actor.id, tuple(actor.roles))
    conditions = list(_conditions(kind, who, category, area, person, collector, status, policy.current_date()))
    if actor is None and kind in ("segment", "public_material"):
        ids = public_material_ids() if public is None else public
        conditions.append(engine(db.session.connection()).among(SearchDocument.material_id, ids))
    return conditions


@lru_cache(maxsize=512)
def _conditions(kind: str, who: tuple[int, tuple[str, ...]] | None, category: str | None, area: str | None,
                person: int | None, collector: int | None, status: str | None, today: date
                ) -> tuple[ColumnElement[bool], ...]:
    # Built once per caller, filters and day: building these expressions (aliases, subqueries) costs more than
    # running the statement, and they are immutable, so sharing them between requests is safe. ``who`` stands for
    # the caller by what the conditions read of it (its id and roles); ``today`` for the embargo date.
    actor = None if who is None else _Caller(id=who[0], roles=list(who[1]))
    return tuple(_build_conditions(kind, actor, category=category, area=area, person=person, collector=collector,
                                   status=status))


def public_material_ids() -> frozenset[int]:
    """The ids of the recordings the public may see now, reused while the change log stands still (every commit
    that changes a material, a profile, a consent or a link between them moves it) and the day is the same (an
    embargo ends with the day). The public rule costs a few microseconds per recording of the archive; evaluated
    in every public search statement it grew with the archive."""
    today = policy.current_date()
    return change_log.cached("public_materials", 4, today,
                             lambda: frozenset(db.session.scalars(_public_material_ids(today))))


@dataclass(frozen=True)
class _Caller:
    """What the visibility rules read of a user."""

    id: int
    roles: list[str]


def _build_conditions(kind: str, actor: Any, *, category: str | None, area: str | None, person: int | None,
                      collector: int | None, status: str | None) -> list[ColumnElement[bool]]:
    """The conditions, but for the public rule on recordings (``conditions_for`` adds their ids)."""
    doc = SearchDocument
    linked = aliased(Person)
    person_filter = _persons_condition(actor, category, area, person, linked)
    conditions: list[ColumnElement[bool]] = []
    if kind == "segment":
        if actor is None:
            other = aliased(Transcript)
            conditions.append(doc.transcript_id.in_(select(Transcript.id).where(Transcript.status == "approved")))
            # a segment touching a redacted range of any transcript of its recording is left out whole; the
            # recordings with any redaction are few, so the ranges are only looked at for theirs
            redacted = select(other.material_id).join(Redaction, Redaction.transcript_id == other.id)
            conditions.append(~and_(doc.material_id.in_(redacted),
                                    exists().where(Redaction.transcript_id == other.id,
                                                   other.material_id == doc.material_id,
                                                   Redaction.start < doc.end, Redaction.end > doc.start)))
        elif not policy.can(actor, Permission.MATERIAL_READ_ALL):
            conditions.append(doc.material_id.in_(select(Material.id).where(policy.visible_materials(actor))))
        if status is not None:
            if status not in TRANSCRIPT_STATUSES:
                return [false()]
            conditions.append(doc.transcript_id.in_(select(Transcript.id).where(Transcript.status == status)))
    elif kind == "person":
        conditions.append(exists().where(Person.id == doc.ref_id, _person_visible(actor)))
        if person_filter is not None:
            conditions.append(exists().where(linked.id == doc.ref_id, person_filter))
            person_filter = None
        if collector is not None:
            conditions.append(exists().where(Person.id == doc.ref_id, Person.created_by_id == collector))
        if status is not None:
            if status not in STATUSES:
                return [false()]
            conditions.append(exists().where(Person.id == doc.ref_id, Person.status == status))
    elif kind in ("material", "public_material"):
        if actor is not None and not policy.can(actor, Permission.MATERIAL_READ_ALL):
            conditions.append(doc.material_id.in_(select(Material.id).where(policy.visible_materials(actor))))
        if status is not None:
            if status not in MATERIAL_STATUSES or actor is None:
                return [false()]
            conditions.append(exists().where(Material.id == doc.ref_id, Material.status == status))
    elif kind == "interview":
        if actor is None:
            return [false()]
        if not policy.can(actor, Permission.INTERVIEW_READ_ALL):
            conditions.append(exists().where(Interview.id == doc.ref_id, Interview.created_by_id == actor.id))
        if person_filter is not None:
            conditions.append(doc.ref_id.in_(select(InterviewPerson.interview_id)
                                             .join(linked, linked.id == InterviewPerson.person_id)
                                             .where(person_filter)))
            person_filter = None
        if collector is not None:
            conditions.append(exists().where(Interview.id == doc.ref_id, Interview.created_by_id == collector))
        if status is not None:
            return [false()]
    if kind in ("segment", "material", "public_material"):
        if person_filter is not None:
            conditions.append(doc.material_id.in_(_material_ids_of_persons(person_filter, linked)))
        if collector is not None:
            conditions.append(doc.material_id.in_(select(Material.id).where(Material.collector_id == collector)))
    return conditions


# --- ranking ------------------------------------------------------------------------------------------------------

def _rank(hits: list[Hit], query: Query, weights: dict[str, float]) -> None:
    """BM25 over the query's phrases with title hits weighed up; ``exact`` when all words occur as one phrase.
    Works on the stored spaced text (one token per character), where a phrase is a plain substring."""
    needles = [(" ".join(phrase), weights.get(phrase, 1.0)) for phrase in query.required]
    whole = " ".join(query.whole) if len(query.required) > 1 else None
    lengths = [(len(hit.document.title) + len(hit.document.body) + 2) // 2 for hit in hits]
    average = max(1.0, sum(lengths) / len(lengths)) if lengths else 1.0
    for hit, length in zip(hits, lengths):
        title, body = hit.document.title, hit.document.body
        norm = K1 * (1 - B + B * length / average)
        score = 0.0
        for needle, weight in needles:
            tf = TITLE_WEIGHT * title.count(needle) + body.count(needle)
            score += weight * tf * (K1 + 1) / (tf + norm)
        hit.score = score
        hit.exact = whole is not None and (whole in title or whole in body)


def _idf_weights(query: Query, statistics: TermStatistics | None) -> dict[str, float]:
    """IDF of each phrase among all documents of a kind (a word of several characters is as rare as its rarest
    pair); only needed when a query has several phrases, and all weigh alike until the statistics are first worked
    out."""
    if len(query.required) < 2 or statistics is None:
        return {}
    total = statistics.documents
    weights = {}
    for phrase in query.required:
        df = min(min(statistics.frequency(term) for term in grams(phrase)), total)
        weights[phrase] = math.log(1 + (total - df + 0.5) / (df + 0.5))
    return weights


# --- facets ------------------------------------------------------------------------------------------------------

def _source(hit: Hit) -> tuple[str, Any]:
    """What a hit's facet labels come from: a profile's own category and district (kept in its document, so
    profiles alike share one), an interview, or the recording of a segment or material."""
    document = hit.document
    if hit.type == "person":
        return "person", (document.category, document.area)
    if hit.type == "interview":
        return "interview", document.ref_id
    return "material", document.material_id


def _linked_pairs(material_ids: Any, interview_ids: Collection[int], actor: User | None
                  ) -> dict[tuple[str, Any], set[tuple[str, str | None]]]:
    """The (category, district) of the profiles the caller may see linked to each material (directly or through
    its interview) and interview: one statement. ``material_ids`` is a list or a subquery."""
    queries = []
    if material_ids is not None:
        queries.append(select(literal("material"), PersonMaterial.material_id, Person.category, Person.area_district)
                       .join(Person, Person.id == PersonMaterial.person_id)
                       .where(PersonMaterial.material_id.in_(material_ids), _person_visible(actor)))
        queries.append(select(literal("material"), Material.id, Person.category, Person.area_district)
                       .join(InterviewPerson, InterviewPerson.interview_id == Material.interview_id)
                       .join(Person, Person.id == InterviewPerson.person_id)
                       .where(Material.id.in_(material_ids), _person_visible(actor)))
    if interview_ids:
        queries.append(select(literal("interview"), InterviewPerson.interview_id, Person.category,
                              Person.area_district)
                       .join(Person, Person.id == InterviewPerson.person_id)
                       .where(InterviewPerson.interview_id.in_(interview_ids), _person_visible(actor)))
    linked: dict[tuple[str, Any], set[tuple[str, str | None]]] = {}
    if queries:
        for owner, owner_id, category, district in db.session.execute(union_all(*queries)):
            linked.setdefault((owner, owner_id), set()).add((category, district))
    return linked


def public_material_pairs() -> dict[tuple[str, Any], frozenset[tuple[str, str | None]]]:
    """``_linked_pairs`` of every recording the public may see, reused like ``public_material_ids``: a public
    search's facets would otherwise look up the profiles of the recordings of its 1,000 candidates each time."""
    today = policy.current_date()
    return change_log.cached("public_material_pairs", 4, today, lambda: {
        key: frozenset(pairs) for key, pairs in _linked_pairs(_public_material_ids(today), (), None).items()})


def _source_labels(sources: Collection[tuple[str, Any]], actor: User | None
                   ) -> dict[tuple[str, Any], tuple[frozenset[str], frozenset[str]]]:
    """The categories and districts of each source: a profile's own; a material's or an interview's, those of the
    profiles linked to it that the caller may see."""
    material_ids = sorted(source_id for kind, source_id in sources if kind == "material")
    interview_ids = sorted(source_id for kind, source_id in sources if kind == "interview")
    if actor is None and not interview_ids:
        every = public_material_pairs()
        linked: dict[tuple[str, Any], Collection[tuple[str, str | None]]] = {
            key: every[key] for key in (("material", material_id) for material_id in material_ids) if key in every}
    else:
        linked = _linked_pairs(material_ids or None, interview_ids, actor)
    for kind, source_id in sources:
        if kind == "person":
            linked[(kind, source_id)] = {source_id}
    return {key: (frozenset(category for category, _ in pairs if category),
                  frozenset(district for _, district in pairs if district)) for key, pairs in linked.items()}


def _facets(hits: list[Hit], actor: User | None) -> dict[str, dict[str, int]]:
    """Hits counted by type, category and district; each source's labels are worked out once and count for all
    its hits (a recording has hundreds of segments)."""
    types = Counter(hit.type for hit in hits)
    sources = Counter(map(_source, hits))
    labels = _source_labels(sources.keys(), actor)
    categories: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    for source, count in sources.items():
        source_categories, source_areas = labels.get(source, (frozenset(), frozenset()))
        for category in source_categories:
            categories[category] += count
        for area in source_areas:
            areas[area] += count
    return {"type": dict(sorted(types.items())), "category": dict(sorted(categories.items())),
            "area": dict(sorted(areas.items(), key=lambda item: (-item[1], item[0])))}


# --- the search ---------------------------------------------------------------------------------------------------

def search(actor: User | None, *, q: str, types: list[str] | None = None, category: str | None = None,
           area: str | None = None, person: int | None = None, collector: int | None = None,
           status: str | None = None, page: int = 1, per_page: int = 20) -> Result:
    """Search as ``actor`` (None: the public archive)."""
    query = parse(q)
    if query.empty:
        raise ValidationFailed("请输入要查找的字词（排除词之外至少一个）", code="invalid_query",
                               details={"fields": {"q": ["needs at least one word that is not excluded"]}})
    allowed = PUBLIC_TYPES if actor is None else TYPES
    wanted = [t for t in allowed if not types or t in types]
    limit = int(current_app.config.get("SEARCH_CANDIDATES") or 500)
    connection = db.session.connection()
    search_engine = engine(connection)
    hits: list[Hit] = []
    capped = False
    public = public_material_ids() if actor is None else None
    document_kinds = {kind: "public_material" if kind == "material" and actor is None else kind for kind in wanted}
    # how common the query's characters and pairs are in each type: they weigh several phrases, and the
    # PostgreSQL engine plans by them (none until first worked out)
    statistics_of = term_statistics(document_kinds.values(), statistics_terms(query))
    with search_engine.planning(connection):
        for kind, document_kind in document_kinds.items():
            conditions = conditions_for(document_kind, actor, category=category, area=area, person=person,
                                        collector=collector, status=status, public=public)
            statistics = statistics_of.get(document_kind)
            rows = search_engine.candidates(connection, document_kind, query, conditions, limit, statistics,
                                            narrow=actor is None)
            capped = capped or len(rows) >= limit
            found = [Hit(kind, row) for row in rows]
            if found:
                _rank(found, query, _idf_weights(query, statistics))
            hits += found
    hits.sort(key=lambda hit: (not hit.exact, -hit.score, -hit.document.id))
    per_page = max(1, min(per_page, 100))
    page = max(1, page)
    return Result(hits=hits[(page - 1) * per_page: page * per_page], total=len(hits), exact_total=not capped,
                  page=page, per_page=per_page, facets=_facets(hits, actor), query=query)


# --- what a hit shows ------------------------------------------------------------------------------------------

def person_display_fields(person: Person) -> list[str]:
    honours = [" ".join(str(part) for part in (honour.get("title"), honour.get("year"), honour.get("conferred_by"))
                        if part) for honour in (person.honours or []) if isinstance(honour, dict)]
    area = " ".join(part for part in (person.area_district, person.area_town, person.area_village) if part)
    return [person.name, *(person.aliases or []), person.biography or "", *honours, person.occupation or "",
            person.native_place or "", area, *person.tags]


def best_highlight(values: list[str], phrases: list[str], fallback: str = "") -> str:
    """The highlighted first value holding a phrase (a profile found by its pinyin shows its name)."""
    for value in values:
        if value and match_spans(value, phrases):
            return highlight(value, phrases)
    return highlight(fallback, [])


SEGMENT_HIT_COLUMNS = (TranscriptSegment.transcript_id, TranscriptSegment.index, TranscriptSegment.start,
                       TranscriptSegment.end, TranscriptSegment.text)


def load_records(hits: list[Hit]) -> dict[tuple[str, int], Any]:
    """The records behind a page of hits, a query per type."""
    ids: dict[str, list[int]] = {}
    for hit in hits:
        ids.setdefault(hit.type, []).append(hit.document.ref_id)
    models = {"segment": TranscriptSegment, "person": Person, "material": Material, "interview": Interview}
    records: dict[tuple[str, int], Any] = {}
    for kind, ref_ids in ids.items():
        model = models[kind]
        statement = select(model).where(model.id.in_(ref_ids))
        if model is Person:
            statement = statement.options(*tags_in_statement())
        elif model is TranscriptSegment:  # what a hit shows: not its word timings
            statement = statement.options(load_only(*SEGMENT_HIT_COLUMNS))
        for record in db.session.scalars(statement):
            records[(kind, record.id)] = record
    material_ids = {hit.document.material_id for hit in hits if hit.type == "segment"} - {
        ref_id for kind, ref_id in records if kind == "material"}
    if material_ids:  # a segment shows its recording's title only: links and derivatives load if asked for
        for material in db.session.scalars(select(Material).where(Material.id.in_(sorted(material_ids)))
                                           .options(lazyload(Material.links), lazyload(Material.derivatives))):
            records[("material", material.id)] = material
    return records


def material_title(material: Material | None, public: bool) -> str:
    if material is None:
        return ""
    title = (public_material_fields(material) if public else material_fields(material))[0][0]
    return title


def public_variants(material: Material) -> list[str]:
    return public_service.available_variants(material)


def interview_display_fields(interview: Interview) -> list[str]:
    title, body = interview_fields(interview)
    return title + body

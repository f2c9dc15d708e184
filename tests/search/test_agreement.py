"""The index agrees with a brute-force scan: over a generated corpus of segments (Simplified and Traditional
characters, full-width letters, digits, punctuation), every query of one to three characters finds exactly the
segments whose folded text holds it, on SQLite and on PostgreSQL, and still after segments are edited and
deleted."""

from __future__ import annotations

import itertools
import random
from typing import Any

import pytest

from backend.extensions import db
from backend.models import Material, SearchDocument, SearchTermStatistics, Transcript, TranscriptSegment, User
from backend.services import search as search_service
from backend.services import search_engines, search_index
from backend.services.search_text import fold, parse, spaced
from tests.review.helpers import user_id

pytestmark = pytest.mark.both_databases  # each engine against the same scan

# Query alphabet: the Traditional 織 and 廠 and the full-width Ｂ fold onto 织, 厂 and b in the text.
ALPHABET = "纺织厂鱼的aＢ1"
TEXT_CHARACTERS = ALPHABET + "織廠bＡ１，。 !《》"


def _corpus(rng: random.Random, count: int) -> list[str]:
    return ["".join(rng.choice(TEXT_CHARACTERS) for _ in range(rng.randint(1, 14))) for _ in range(count)]


def _found(actor: User, q: str) -> set[int]:
    ids: set[int] = set()
    page = 1
    while True:
        result = search_service.search(actor, q=q, types=["segment"], page=page, per_page=100)
        assert result.exact_total
        ids |= {hit.document.ref_id for hit in result.hits}
        if page * 100 >= result.total:
            assert len(ids) == result.total
            return ids
        page += 1


def test_every_short_query_agrees_with_a_substring_scan(app, client, auth):
    collector = user_id(client, auth("collector"))
    texts = _corpus(random.Random(20261202), 240)
    with app.app_context():
        material = Material(kind="audio", status="ready", title="", collector_id=collector, mime="audio/wav",
                            size=1, sha256="f" * 64, storage_key="originals/agreement")
        db.session.add(material)
        db.session.flush()
        db.session.add(Transcript(material_id=material.id, engine="faster-whisper", model="base", duration=999.0,
                                  segments=[TranscriptSegment(index=i, start=float(i), end=i + 1.0, text=text)
                                            for i, text in enumerate(texts)]))
        db.session.commit()
        segments = {segment.id: fold(segment.text) for segment in db.session.scalars(db.select(TranscriptSegment))}
        admin = db.session.scalars(db.select(User).where(User.username == "admin")).one()
        queries = ["".join(chars) for n in (1, 2, 3) for chars in itertools.product(ALPHABET, repeat=n)]
        disagreements: list[tuple[str, Any, Any]] = []
        for q in queries:
            expected = {sid for sid, folded in segments.items() if fold(q) in folded}
            found = _found(admin, q)
            if found != expected:
                disagreements.append((q, sorted(expected - found)[:5], sorted(found - expected)[:5]))
        rng = random.Random(7)
        for _ in range(60):  # two words, and a word with an exclusion
            a, b = rng.choice(queries), rng.choice(queries)
            for q, holds in ((f"{a} {b}", lambda t: fold(a) in t and fold(b) in t),
                             (f"{a} -{b}", lambda t: fold(a) in t and fold(b) not in t)):
                expected = {sid for sid, folded in segments.items() if holds(folded)}
                found = _found(admin, q)
                if found != expected:
                    disagreements.append((q, sorted(expected - found)[:5], sorted(found - expected)[:5]))
        assert disagreements == [], disagreements[:10]
        assert any(len(_found(admin, q)) > 0 for q in queries if len(q) == 3)

        # Edits and deletions take the old text out of the index exactly (and nothing else with it).
        edit_rng = random.Random(11)
        rows = list(db.session.scalars(db.select(TranscriptSegment).order_by(TranscriptSegment.id)))
        for segment in edit_rng.sample(rows, 100):
            segment.text = _corpus(edit_rng, 1)[0]
        for segment in edit_rng.sample(rows, 20):
            db.session.delete(segment)
        db.session.commit()
        segments = {segment.id: fold(segment.text) for segment in db.session.scalars(db.select(TranscriptSegment))}
        for q in (q for q in queries if len(q) <= 2):
            expected = {sid for sid, folded in segments.items() if fold(q) in folded}
            found = _found(admin, q)
            if found != expected:
                disagreements.append((q, sorted(expected - found)[:5], sorted(found - expected)[:5]))
        assert disagreements == [], disagreements[:10]

        # The stored statistics that weigh words in the ranking are the exact counts of the same scan.
        assert search_index.refresh_statistics()["segment"] == len(segments)
        stored = dict(db.session.execute(db.select(SearchTermStatistics.term, SearchTermStatistics.documents)
                                         .where(SearchTermStatistics.kind == "segment")).all())
        terms = {text[i:i + n] for text in segments.values() for n in (1, 2) for i in range(len(text) - n + 1)}
        counted = {term: sum(term in text for text in segments.values()) for term in terms}
        assert stored == {term: number for term, number in counted.items() if number >= 2}


def test_a_common_word_read_range_by_range_gives_the_newest_matches_in_order(app, monkeypatch):
    """PostgreSQL asks for a common word in its newest ranges of ids first (16,384 ids each), then older ranges
    (as wide ranges of eight when many), then the older documents: over documents spread across forty ranges,
    every query's newest matches are exactly a scan's, in order, whether the ranges hold enough of them or not."""
    with app.app_context():
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            pytest.skip("the PostgreSQL engine's ranges of ids")
        rng = random.Random(16384)
        ids = sorted(rng.sample(range(1, 40 << search_engines.ID_RANGE_BITS), 2000))
        texts = dict(zip(ids, _corpus(rng, len(ids))))
        connection.execute(SearchDocument.__table__.insert(), [
            {"id": id_, "kind": "segment", "ref_id": id_, "title": "", "body": spaced([text])}
            for id_, text in texts.items()])
        search_engine = search_index.engine(connection)
        monkeypatch.setattr(search_engine, "ranged_from", 0)
        lexemes_asked: list[str] = []
        id_range_lexemes = search_engines.id_range_lexemes
        monkeypatch.setattr(search_engines, "id_range_lexemes",
                            lambda id_ranges: lexemes_asked.extend(id_range_lexemes(id_ranges)) or
                            id_range_lexemes(id_ranges))
        common = _Everywhere(len(ids))
        queries = [*ALPHABET, "纺织", "纺织厂", "的a1", "鱼的厂", "织厂鱼", "鱼 的", "a 1", "纺 织", "厂 ab", "纺织厂 -鱼",
                   "鱼的a -1"]
        read_older = 0
        for q, limit in itertools.product(queries, (3, 10)):
            query = parse(q)
            plan = search_engine._id_ranges(connection, "segment", query, common, limit, True)
            assert plan, q
            expected = _newest_by_scan(texts, query, limit)
            rows = search_engine.candidates(connection, "segment", query, [], limit, common, narrow=True)
            assert [row.id for row in rows] == expected, q
            if len(query.required) == 1 and len(query.required[0]) == 1:  # one lexeme in 4% of all: one statement
                assert search_engine._id_ranges(connection, "segment", query, _Share(len(ids), 0.04), limit,
                                                False) is None
            read_older += any(row.id < plan[0][-1] << search_engines.ID_RANGE_BITS for row in rows)
        assert read_older >= 3  # queries rarer than their statistics said: the older documents were read too
        assert any(lexeme.startswith("'%") for lexeme in lexemes_asked)  # wide ranges asked for, bounded by ids

        # Common pairs whose chain says the word (or the two words together) is rare: all matches at once.
        sparse = _Pairs(len(ids), pair_share=0.05)
        for q, limit in itertools.product(["纺织厂", "的a1", "鱼的厂", "织厂鱼", "纺织厂 -鱼", "纺织 厂鱼", "a1 的鱼"],
                                          (3, 10)):
            query = parse(q)
            assert search_engine._id_ranges(connection, "segment", query, sparse, limit, False) \
                == search_engines.ALL_MATCHES, q
            expected = _newest_by_scan(texts, query, limit)
            rows = search_engine.candidates(connection, "segment", query, [], limit, sparse, narrow=False)
            assert [row.id for row in rows] == expected, q


def _newest_by_scan(texts: dict[int, str], query: Any, limit: int) -> list[int]:
    """The ``limit`` newest documents holding every required word and no excluded one, by a scan of the text."""
    holds = [fold(word) for word in query.required]
    absent = [fold(word) for word in query.excluded]
    return [id_ for id_ in sorted(texts, reverse=True) if all(word in fold(texts[id_]) for word in holds)
            and not any(word in fold(texts[id_]) for word in absent)][:limit]


class _Share:
    """Statistics that put every term in the same share of the documents."""

    def __init__(self, documents: int, share: float) -> None:
        self.documents = documents
        self.share = share

    def frequency(self, term: str) -> float:
        return self.documents * self.share


class _Pairs:
    """Statistics that put every character in all documents and every pair in ``pair_share`` of them."""

    def __init__(self, documents: int, pair_share: float) -> None:
        self.documents = documents
        self.pair_share = pair_share

    def frequency(self, term: str) -> float:
        return self.documents * (self.pair_share if len(term) > 1 else 1.0)


class _Everywhere:
    """Statistics that call every term common."""

    def __init__(self, documents: int) -> None:
        self.documents = documents

    def frequency(self, term: str) -> float:
        return self.documents

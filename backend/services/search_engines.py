"""The search engines behind one interface: each keeps its index over ``search_documents`` in step with the rows
written there, and answers a parsed query as candidate documents (newest first, at most a given number) under
conditions the caller builds (visibility, filters). SQLite uses FTS5 tables (one per document kind, the ``ascii``
tokenizer over one token per character and one per pair of adjacent characters, words queried as phrases of
pairs); PostgreSQL a generated ``tsvector`` of each document's characters and character pairs with a GIN index
per kind, longer phrases checked on the folded text. Ranking and highlighting are done above this, the same for
every engine; another engine (OpenSearch) would implement the same methods."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from sqlalchemy import (ARRAY, ColumnElement, Integer, any_, bindparam, cast, column, delete, func, literal_column,
                        not_, or_, select, table, text, tuple_)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.engine import Connection, Row

from backend.models import DOCUMENT_KINDS, SearchDocument
from backend.services.search_text import FIELD_BREAK, Query, compact_fields

_CHUNK = 400
_BULK_BATCH = 5000
DOCUMENT_COLUMNS = (SearchDocument.id, SearchDocument.kind, SearchDocument.ref_id, SearchDocument.transcript_id,
                    SearchDocument.material_id, SearchDocument.start, SearchDocument.end, SearchDocument.category,
                    SearchDocument.area, SearchDocument.title, SearchDocument.body)
_WRITE_COLUMNS = ("kind", "ref_id", "transcript_id", "material_id", "start", "end", "category", "area", "title",
                  "body")


class Statistics(Protocol):
    """What is stored of how common terms are among the documents of one kind (search_index.TermStatistics)."""

    documents: int

    def frequency(self, term: str) -> float:
        """In about how many documents the character or pair ``term`` occurs."""


class SearchEngine(ABC):
    """What the search service needs of an engine."""

    name: str

    def replace(self, connection: Connection, keys: Iterable[tuple[str, int]], documents: Sequence[dict[str, Any]]
                ) -> None:
        """Make the index hold exactly ``documents`` for ``keys`` ((kind, ref_id) pairs): old documents of those
        keys go, the given ones (each with every column of ``search_documents`` but id) come."""
        keys = sorted(set(keys))
        documents_table = SearchDocument.__table__
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            old = connection.execute(select(*DOCUMENT_COLUMNS).where(
                tuple_(SearchDocument.kind, SearchDocument.ref_id).in_(chunk))).all()
            if old:
                self._unindex(connection, old)
                connection.execute(delete(documents_table).where(
                    documents_table.c.id.in_([row.id for row in old])))
        for start in range(0, len(documents), _CHUNK):
            chunk = list(documents[start:start + _CHUNK])
            ids = self._insert(connection, chunk)
            self._index(connection, [{**document, "id": id_} for document, id_ in zip(chunk, ids)])

    def _insert(self, connection: Connection, documents: list[dict[str, Any]]) -> list[int]:
        documents_table = SearchDocument.__table__
        rows = connection.execute(documents_table.insert().returning(documents_table.c.id, sort_by_parameter_order=True),
                                  [{name: document.get(name) for name in _WRITE_COLUMNS} for document in documents])
        return [row[0] for row in rows]

    def _unindex(self, connection: Connection, rows: Sequence[Row[Any]]) -> None:
        """Take these documents (still in ``search_documents``) out of the engine's own index."""

    def _index(self, connection: Connection, documents: list[dict[str, Any]]) -> None:
        """Add these documents (already in ``search_documents``, with their ids) to the engine's own index."""

    def clear(self, connection: Connection) -> None:
        """Empty the engine's own index (after ``search_documents`` was emptied)."""

    @abstractmethod
    def rebuild(self, connection: Connection) -> None:
        """Rebuild the engine's own index from ``search_documents`` (after a bulk load)."""

    def index_after(self, connection: Connection, kind: str, after_id: int) -> None:
        """Add the documents of ``kind`` with ids above ``after_id`` (just bulk-loaded) to the engine's index."""

    @contextmanager
    def planning(self, connection: Connection) -> Iterator[None]:
        """Around the ``candidates`` of one search (of every type it looks in): what the engine's statements need
        set for them, set once."""
        yield

    @abstractmethod
    def candidates(self, connection: Connection, kind: str, query: Query, conditions: list[ColumnElement[bool]],
                   limit: int, statistics: Statistics | None = None, narrow: bool = False) -> list[Row[Any]]:
        """Documents of ``kind`` matching ``query`` and ``conditions``, newest first, at most ``limit``;
        ``statistics``: how common the query's terms are among the documents of ``kind``, and ``narrow``: whether
        the conditions let only a small share of them through (the public's), for an engine that plans by them."""

    @abstractmethod
    def among(self, column: Any, ids: Collection[int]) -> ColumnElement[bool]:
        """``column`` is one of ``ids``, sent as one bound value however many there are (a list of bound
        parameters would meet the drivers' limits on large archives)."""

    @abstractmethod
    def document_frequencies(self, connection: Connection, kind: str, minimum: int) -> dict[str, int]:
        """In how many documents of ``kind`` (all of them, visible or not) each character and each pair of
        adjacent characters occurs, for those in at least ``minimum``: what weighs a word in the ranking."""


def _check_kind(kind: str) -> None:
    """A kind goes into SQL text as a name: only the fixed ones."""
    if kind not in DOCUMENT_KINDS:
        raise ValueError(f"not a search document kind: {kind!r}")


# --- SQLite FTS5 -------------------------------------------------------------------------------------------------

def fts_table_name(kind: str) -> str:
    return f"search_fts_{kind}"


def character_pairs(word: str) -> list[str]:
    """Each pair of adjacent characters of a folded word, in order (``纺织厂`` → ``纺织``, ``织厂``)."""
    return [word[i:i + 2] for i in range(len(word) - 1)]


def pair_tokens(title: str, body: str) -> str:
    """The pairs of adjacent characters of each field of a document's spaced text, as tokens (``纺 织 厂`` → ``纺织
    织厂``), fields kept apart by the break token so a phrase of pairs never runs from one field into the next."""
    fields = [field for spaced_text in (title, body) for field in compact_fields(spaced_text)]
    return f" {FIELD_BREAK} ".join(" ".join(character_pairs(field)) for field in fields if len(field) > 1)


def fts5_expression(phrase: str) -> str:
    """A folded phrase as FTS5 looks it up: a single character among the characters (``{title body} : "纺"``), a
    longer word as the phrase of its consecutive pairs (``pairs : "纺织 织厂"``)."""
    if len(phrase) == 1:
        return f'{{title body}} : "{phrase}"'
    return 'pairs : "' + " ".join(character_pairs(phrase)) + '"'


class SQLiteFTS5(SearchEngine):
    """Contentless FTS5 tables, one per kind, ``tokenize='ascii'``: the stored text is one token per character
    (non-ASCII characters are token characters to this tokenizer, whatever Unicode version SQLite knows) in
    ``title`` and ``body``, and one token per pair of adjacent characters in ``pairs``. A single character is
    looked up as itself; a longer word as a phrase of its pairs, whose lists of positions are far shorter than
    those of its characters. Contentless: a document is taken out by giving the values it was indexed with again,
    worked out from its row in ``search_documents`` (so ``pair_tokens`` must not change without a reindex)."""

    name = "sqlite-fts5"

    def _unindex(self, connection: Connection, rows: Sequence[Row[Any]]) -> None:
        for row in rows:
            name = fts_table_name(row.kind)
            connection.execute(text(f"INSERT INTO {name}({name}, rowid, title, body, pairs) "
                                    "VALUES ('delete', :id, :title, :body, :pairs)"),
                               {"id": row.id, "title": row.title, "body": row.body,
                                "pairs": pair_tokens(row.title, row.body)})

    def _index(self, connection: Connection, documents: list[dict[str, Any]]) -> None:
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for document in documents:
            by_kind.setdefault(document["kind"], []).append(
                {"id": document["id"], "title": document["title"], "body": document["body"],
                 "pairs": pair_tokens(document["title"], document["body"])})
        for kind, rows in by_kind.items():
            connection.execute(text(f"INSERT INTO {fts_table_name(kind)}(rowid, title, body, pairs) "
                                    "VALUES (:id, :title, :body, :pairs)"), rows)

    def clear(self, connection: Connection) -> None:
        for kind in DOCUMENT_KINDS:
            name = fts_table_name(kind)
            connection.execute(text(f"INSERT INTO {name}({name}) VALUES ('delete-all')"))

    def rebuild(self, connection: Connection) -> None:
        self.clear(connection)
        for kind in DOCUMENT_KINDS:
            self.index_after(connection, kind, 0)
        # Statistics for the planner: without them SQLite takes an equality on any indexed column for ten rows
        # (status = 'published' among 100,000 profiles) and may walk that index instead of the primary key.
        connection.execute(text("ANALYZE"))

    def index_after(self, connection: Connection, kind: str, after_id: int) -> None:
        documents = SearchDocument.__table__
        last = after_id
        while rows := connection.execute(select(documents.c.id, documents.c.kind, documents.c.title,
                                                documents.c.body)
                                         .where(documents.c.kind == kind, documents.c.id > last)
                                         .order_by(documents.c.id).limit(_BULK_BATCH)).all():
            last = rows[-1].id
            self._index(connection, [row._asdict() for row in rows])
        name = fts_table_name(kind)
        connection.execute(text(f"INSERT INTO {name}({name}) VALUES ('optimize')"))

    @staticmethod
    def match_expression(query: Query) -> str:
        """``{title body} : "厂" AND pairs : "纺织"`` (and ``NOT (…)`` for exclusions): FTS5's query syntax."""
        expression = " AND ".join(fts5_expression(phrase) for phrase in query.required)
        if query.excluded:
            expression = f"({expression}) NOT ({' OR '.join(fts5_expression(p) for p in query.excluded)})"
        return expression

    def _matching(self, kind: str, expression: str) -> tuple[Any, ColumnElement[bool]]:
        fts = table(fts_table_name(kind), column("rowid"))
        return fts, literal_column(fts_table_name(kind)).op("MATCH")(bindparam("fts_match", expression))

    def candidates(self, connection: Connection, kind: str, query: Query, conditions: list[ColumnElement[bool]],
                   limit: int, statistics: Statistics | None = None, narrow: bool = False) -> list[Row[Any]]:
        fts, match = self._matching(kind, self.match_expression(query))
        statement = (select(*DOCUMENT_COLUMNS).select_from(fts)
                     .join(SearchDocument, SearchDocument.id == fts.c.rowid)
                     .where(match, *conditions).order_by(fts.c.rowid.desc()).limit(limit))
        return list(connection.execute(statement).all())

    def among(self, column: Any, ids: Collection[int]) -> ColumnElement[bool]:
        values = func.json_each(bindparam("among_ids", json.dumps(sorted(ids)))).table_valued("value")
        return column.in_(select(values.c.value))

    def document_frequencies(self, connection: Connection, kind: str, minimum: int) -> dict[str, int]:
        _check_kind(kind)
        # fts5vocab reads the terms straight from the index; in ``temp``, so it is this connection's alone
        vocabulary = f"temp.search_vocabulary_{kind}"
        connection.execute(text(f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocabulary} "
                                f"USING fts5vocab(main, '{fts_table_name(kind)}', 'row')"))
        try:
            rows = connection.execute(text(f"SELECT term, doc FROM {vocabulary} WHERE doc >= :minimum"),
                                      {"minimum": minimum}).all()
        finally:
            connection.execute(text(f"DROP TABLE {vocabulary}"))
        return {term: documents for term, documents in rows if FIELD_BREAK not in term}


# --- PostgreSQL --------------------------------------------------------------------------------------------------

ID_RANGE_BITS = 14  # migration d4e6a8c0b2f5: a document holds the lexeme '#<id >> 14>', ranges of 16,384 ids
WIDE_RANGE_BITS = 3  # … and '%<id >> 17>': eight ranges in one lexeme
ID_RANGE_PREFIX, WIDE_RANGE_PREFIX = "#", "%"  # never in folded text (letters and digits only)
RANGED_FROM = 4_000  # documents holding a query's rarest lexeme from which its newest id ranges are read first
# One lexeme: read in ranges when held by 5% of the documents of its type, or, searched by the public, by 20,000.
# PostgreSQL estimates a lexeme from a sample of every type at once: after one ANALYZE it took 大家 for 18,476
# profiles where 55,521 hold it and read them all (84 ms); after another it walked the newest (a few ms).
ONE_LEXEME_SHARE = 0.05
ONE_LEXEME_FACTOR = 5
_PLANNING = "liufang_search_planning"  # connection.info: inside a search's planning()
ALL_MATCHES = "all matches"  # a plan: every match at once through the GIN index, then the newest of them
ALL_MATCHES_FACTOR = 4  # … for a query expected in fewer documents than this many times the candidates wanted
# The share of a query's matches the first ranges are sized for the caller to see (then the yield decides): with
# the chained estimate, a quarter read twice what was needed (很辛苦可 at 1M: 65 → 31 ms with a half).
VISIBLE_SHARE = 0.5
MAX_RANGES = 8  # lexemes ORed in one statement: the GIN index unites their lists (30 ranges: 56 ms at 1M segments;
# 16 ranges 23.6 ms, the same ids as 2 wide ones 4.9 ms)


def grams(phrase: str) -> set[str]:
    """The lexemes a phrase's documents must hold: its character, or each pair of adjacent characters."""
    return {phrase} if len(phrase) == 1 else set(character_pairs(phrase))


def statistics_terms(query: Query) -> set[str]:
    """The characters and pairs whose statistics weigh and plan ``query``: its lexemes, and the inner characters of
    a phrase of three or more (``expected_documents`` chains its pairs through them)."""
    terms = set().union(*(grams(phrase) for phrase in query.required))
    return terms | {character for phrase in query.required if len(phrase) > 2 for character in phrase[1:-1]}


def expected_documents(query: Query, statistics: Statistics) -> float:
    """About how many documents hold every phrase of ``query``. A phrase of three or more characters is estimated
    as a chain of its pairs, each one's share among the documents holding the character it shares with the one
    before (条船学看 among 1M segments: rarest pair 36,645 documents, chain 2,594, found 2,191); the phrases as
    independent of one another (which undercounts words that go together, up to 4× here)."""
    documents = max(statistics.documents, 1)
    share = 1.0
    for phrase in query.required:
        pairs = character_pairs(phrase) if len(phrase) > 1 else [phrase]
        phrase_share = statistics.frequency(pairs[0]) / documents
        for position in range(1, len(pairs)):
            linking = statistics.frequency(phrase[position])
            phrase_share *= min(1.0, statistics.frequency(pairs[position]) / linking) if linking else 1.0
        share *= min(1.0, phrase_share)
    return share * documents


def tsquery_text(query: Query, id_ranges: range | None = None) -> str:
    """The lexemes every match must hold, ANDed: what the GIN index answers (``'纺织' & '织厂'``); exact for words
    of one or two characters, longer ones are then checked on the text. With ``id_ranges``, only documents in one
    of those ranges of ids (``… & ('#61' | '#60')``)."""
    lexemes = sorted(set().union(*(grams(phrase) for phrase in query.required)))
    words = " & ".join(f"'{lexeme}'" for lexeme in lexemes)
    if id_ranges is None:
        return words
    return f"{words} & ({' | '.join(id_range_lexemes(id_ranges))})"


def id_range_lexemes(id_ranges: range) -> list[str]:
    """Lexemes of the documents in these ranges of ids (descending): each range's (``'#61'``: ids from ``61 <<
    ID_RANGE_BITS`` up to the next range; no folded text holds ``#`` or ``%``), or, for more than ``MAX_RANGES``,
    the wide ranges holding them (``'%7'``: ranges 56–63), which may hold more: the statement bounds the ids."""
    if len(id_ranges) <= MAX_RANGES:
        return [f"'{ID_RANGE_PREFIX}{number}'" for number in id_ranges]
    top, bottom = id_ranges[0] >> WIDE_RANGE_BITS, id_ranges[-1] >> WIDE_RANGE_BITS
    return [f"'{WIDE_RANGE_PREFIX}{number}'" for number in range(top, bottom - 1, -1)]


def _holds(phrase: str) -> ColumnElement[bool]:
    """The folded text holds ``phrase`` as consecutive tokens (in one field: fields are apart by a break token)."""
    needle = " ".join(phrase)
    return or_(func.strpos(SearchDocument.title, needle) > 0, func.strpos(SearchDocument.body, needle) > 0)


class PostgresTsvector(SearchEngine):
    """``search_documents.tsv``: a stored generated ``tsvector`` of each document's distinct characters and pairs
    of adjacent characters (``search_grams``; no positions, so the limits on positions per lexeme never drop a
    hit) and of its range of ids (``#<id >> 14>``), with a GIN index per kind, and a b-tree on id per kind for
    reading a common word's newest matches in order. The GIN index answers words of one and two characters
    exactly; a longer word is asked for by its pairs and then checked on the folded text. A common word is asked
    for in its newest ranges of ids first."""

    name = "postgresql-tsvector"
    ranged_from = RANGED_FROM

    def replace(self, connection: Connection, keys: Iterable[tuple[str, int]], documents: Sequence[dict[str, Any]]
                ) -> None:
        """As an upsert on (kind, ref_id): two transactions refreshing the same record one after the other (a job
        and an edit of one material) wait for each other on the row instead of colliding on the unique key."""
        documents_table = SearchDocument.__table__
        present = {(document["kind"], document["ref_id"]) for document in documents}
        gone = sorted(set(keys) - present)
        for start in range(0, len(gone), _CHUNK):
            connection.execute(delete(documents_table).where(
                tuple_(documents_table.c.kind, documents_table.c.ref_id).in_(gone[start:start + _CHUNK])))
        for start in range(0, len(documents), _CHUNK):
            statement = postgresql_insert(documents_table).values(
                [{name: document.get(name) for name in _WRITE_COLUMNS} for document in documents[start:start + _CHUNK]])
            connection.execute(statement.on_conflict_do_update(
                index_elements=[documents_table.c.kind, documents_table.c.ref_id],
                set_={name: statement.excluded[name] for name in _WRITE_COLUMNS if name not in ("kind", "ref_id")}))

    def rebuild(self, connection: Connection) -> None:
        connection.execute(text("ANALYZE search_documents"))

    def _conditions(self, kind: str, query: Query, id_ranges: range | None) -> list[ColumnElement[bool]]:
        tsv = literal_column("search_documents.tsv")
        conditions: list[ColumnElement[bool]] = [
            SearchDocument.kind == kind,
            tsv.op("@@")(cast(bindparam("tsquery", tsquery_text(query, id_ranges)), TSQUERY))]
        conditions += [_holds(phrase) for phrase in query.required if len(phrase) > 2]
        conditions += [not_(_holds(phrase)) for phrase in query.excluded]
        return conditions

    def candidates(self, connection: Connection, kind: str, query: Query, conditions: list[ColumnElement[bool]],
                   limit: int, statistics: Statistics | None = None, narrow: bool = False) -> list[Row[Any]]:
        def newest(id_ranges: range | None, count: int, below: int | None = None, *, all_matches: bool = False
                   ) -> list[Row[Any]]:
            statement = select(*DOCUMENT_COLUMNS).where(*self._conditions(kind, query, id_ranges), *conditions)
            if id_ranges is not None:  # the same ranges as ids, for a plan that walks the id index (it starts there)
                statement = statement.where(SearchDocument.id.between(id_ranges[-1] << ID_RANGE_BITS,
                                                                      ((id_ranges[0] + 1) << ID_RANGE_BITS) - 1))
            if below is None and not all_matches:
                statement = statement.order_by(SearchDocument.id.desc())
            else:
                # A query rare among these documents (the older ones its newest ranges held too few of, or one
                # expected rare): read through the GIN index. Ordered by an expression no index gives, or
                # PostgreSQL, expecting it as common as the product of its words' shares, may walk the id index
                # past every older document instead (下网 父亲: 281,398 rows, 61 ms).
                if below is not None:
                    statement = statement.where(SearchDocument.id < below)
                statement = statement.order_by((SearchDocument.id + 0).desc())
            return list(connection.execute(statement.limit(count)).all())

        with self.planning(connection):
            return self._candidates(connection, kind, query, limit, statistics, narrow, newest)

    @contextmanager
    def planning(self, connection: Connection) -> Iterator[None]:
        """Hash and merge joins off for the candidate statements: search_documents' statistics mix every kind, so
        PostgreSQL underestimates how many of one kind's documents hold a word and how many of them join their
        records (a profile's visibility); it then picks a hash join that reads every match and sorts them. Without
        it walks the newest matches and stops at the limit (分鱼 among 100,000 profiles as a collector, 1M
        segments: 125 → 11 ms). Set once for all the types of a search, put back after them (not after a failed
        statement: that ends the transaction, settings and all)."""
        if connection.info.get(_PLANNING):
            yield
            return
        hash_join, merge_join = connection.execute(text(
            "SELECT current_setting('enable_hashjoin'), current_setting('enable_mergejoin'), "
            "set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)")).one()[:2]
        connection.info[_PLANNING] = True
        try:
            yield
        finally:
            del connection.info[_PLANNING]
        connection.execute(text("SELECT set_config('enable_hashjoin', :hash_join, true), "
                                "set_config('enable_mergejoin', :merge_join, true)"),
                           {"hash_join": hash_join, "merge_join": merge_join})

    def _candidates(self, connection: Connection, kind: str, query: Query, limit: int,
                    statistics: Statistics | None, narrow: bool, newest: Callable[..., list[Row[Any]]]
                    ) -> list[Row[Any]]:
        """The plan ``_id_ranges`` makes for the query, carried out by ``newest`` (one statement's rows)."""
        plan = None if statistics is None else self._id_ranges(connection, kind, query, statistics, limit, narrow)
        if plan is None:
            rows = newest(None, limit)
        elif plan == ALL_MATCHES:
            rows = newest(None, limit, all_matches=True)
        else:
            # A common word: the GIN index returns its matches unordered, so PostgreSQL would read all of them (and
            # multiplies the shares of a word's pairs, so it does not expect how many). Its newest ranges of ids are
            # asked for first, the index intersecting the word with them; then as many older ranges as the
            # newest ones' yield says are still needed (as wide ranges when many), or, if that is most of what is
            # left, all older documents at once (a word far rarer than its rarest pair: 么下来公 against 来公). The
            # parts are disjoint (the statements bound the ids) and in descending order: newest first.
            newer, oldest, high = plan
            rows = newest(newer, limit)
            below = newer[-1]
            for _ in range(2):
                if not 0 < len(rows) < limit:
                    break
                read = high - (below << ID_RANGE_BITS) + 1
                span = math.ceil(2 * read * (limit - len(rows)) / len(rows) / (1 << ID_RANGE_BITS))
                if span > min(MAX_RANGES << WIDE_RANGE_BITS, (below - oldest) // 2):
                    break
                rows += newest(range(below - 1, below - 1 - span, -1), limit - len(rows))
                below -= span
            if len(rows) < limit:
                rows += newest(None, limit - len(rows), below=below << ID_RANGE_BITS)
        return rows

    def _id_ranges(self, connection: Connection, kind: str, query: Query, statistics: Statistics,
                   limit: int, narrow: bool) -> tuple[range, int, int] | str | None:
        """The newest ranges of ids to ask for first (as many as should hold ``limit`` visible matches if the query
        were as common as ``expected_documents`` says, at most its rarest lexeme, and ``VISIBLE_SHARE`` of its
        matches visible), the oldest range of the kind and its newest id. None for a query with a rare lexeme (one
        statement reads all its matches: ``ranged_from`` documents for several lexemes, see ``ONE_LEXEME_SHARE``
        for one); when the ranges would be most of them, ALL_MATCHES for a query expected in fewer than
        ``ALL_MATCHES_FACTOR * limit`` documents, else None."""
        terms = set().union(*(grams(phrase) for phrase in query.required))
        rarest = min(statistics.frequency(term) for term in terms)
        common = ONE_LEXEME_SHARE * statistics.documents if len(terms) == 1 else self.ranged_from
        if len(terms) == 1 and narrow:
            common = min(common, self.ranged_from * ONE_LEXEME_FACTOR)
        if rarest < common:
            return None
        low, high = connection.execute(select(func.min(SearchDocument.id), func.max(SearchDocument.id))
                                       .where(SearchDocument.kind == kind)).one()
        if high is None:
            return None
        oldest, last = low >> ID_RANGE_BITS, high >> ID_RANGE_BITS
        expected = max(1.0, min(rarest, expected_documents(query, statistics)))
        needed_ids = limit * (high - low + 1) / expected / VISIBLE_SHARE
        in_last = high - (last << ID_RANGE_BITS) + 1  # the newest range is filling up
        span = 1 + max(0, math.ceil((needed_ids - in_last) / (1 << ID_RANGE_BITS)))
        if 2 * span > last - oldest:
            # Most of the ranges: a query of common lexemes expected to be rare (a longer word, two words) is
            # found whole through the GIN index; a common one in a small archive by the planner (a walk).
            return ALL_MATCHES if expected < ALL_MATCHES_FACTOR * limit else None
        span = min(span, MAX_RANGES << WIDE_RANGE_BITS)  # past MAX_RANGES as wide ranges, at most MAX_RANGES of them
        return range(last, last - span, -1), oldest, high

    def among(self, column: Any, ids: Collection[int]) -> ColumnElement[bool]:
        # checked on the rows the text conditions found (``+ 0``: no index): a bitmap of the column's index over
        # a third of the archive cost more than it saved (7 ms a statement at 1M segments)
        return (column + 0) == any_(bindparam("among_ids", sorted(ids), type_=ARRAY(Integer)))

    def document_frequencies(self, connection: Connection, kind: str, minimum: int) -> dict[str, int]:
        _check_kind(kind)
        documents_of_kind = f"SELECT tsv FROM search_documents WHERE kind = '{kind}'"  # a kind is a fixed name
        rows = connection.execute(text("SELECT word, ndoc FROM ts_stat(:documents) WHERE ndoc >= :minimum"),
                                  {"documents": documents_of_kind, "minimum": minimum}).all()
        return {term: documents for term, documents in rows
                if FIELD_BREAK not in term and not term.startswith((ID_RANGE_PREFIX, WIDE_RANGE_PREFIX))}


def engine_for(dialect_name: str) -> SearchEngine:
    """The engine for a database dialect."""
    if dialect_name == "sqlite":
        return SQLiteFTS5()
    if dialect_name == "postgresql":
        return PostgresTsvector()
    raise RuntimeError(f"no search engine for the {dialect_name} dialect")


# Objects the engines make in the database beside the models' tables (created by the migration): not models, so
# the check that migrations match the models leaves them out.
ENGINE_TABLE_PREFIX = "search_fts_"
ENGINE_COLUMNS = {("search_documents", "tsv")}
ENGINE_INDEX_PREFIXES = ("ix_search_documents_tsv_", "ix_search_documents_newest_")


def engine_managed(name: str | None, type_: str, parent: dict[str, Any]) -> bool:
    """Whether a database object is one of the engines' own (for alembic's ``include_name``)."""
    if name is None:
        return False
    if type_ == "table":
        return name.startswith(ENGINE_TABLE_PREFIX)
    if type_ == "column":
        return (parent.get("table_name"), name) in ENGINE_COLUMNS
    if type_ == "index":
        return name.startswith(ENGINE_INDEX_PREFIXES)
    return False


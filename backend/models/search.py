"""The search index's documents: one row per searchable record (a transcript segment, a profile, a material, an
interview), holding its folded text; each engine adds its own index over these rows (FTS5 tables on SQLite, a
tsvector column with GIN indexes on PostgreSQL), made by the migration and written by
backend.services.search_index; and the statistics that weigh a query's words in the ranking."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime

# What a document is of. ``public_material`` is a material as the public archive shows it (no place, no title that
# is only the uploaded file's name), so the public search can never match on what it does not show.
DOCUMENT_KINDS = ("segment", "person", "material", "interview", "public_material")


class SearchDocument(db.Model):
    __tablename__ = "search_documents"
    __table_args__ = (UniqueConstraint("kind", "ref_id", name="uq_search_documents_kind_ref"),
                      Index("ix_search_documents_kind_id", "kind", "id"),
                      Index("ix_search_documents_material", "material_id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    ref_id: Mapped[int] = mapped_column(Integer)
    # Segments: their transcript and material and times; materials: themselves (for the visibility conditions).
    transcript_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    material_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    start: Mapped[float | None] = mapped_column(Float, nullable=True)
    end: Mapped[float | None] = mapped_column(Float, nullable=True)
    # Profiles: their category and district, for the facets (the profile's own document changes with them).
    category: Mapped[str | None] = mapped_column(String(16), nullable=True)
    area: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Folded text, one token per character, fields apart (backend.services.search_text.spaced): the title fields
    # (a name, aliases and their pinyin; a title) and the rest.
    title: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")


class SearchStatistics(db.Model):
    """How many documents of a kind the index held when its statistics were last worked out (the N of BM25's
    inverse document frequency); no row: never worked out, the query's words weigh alike."""

    __tablename__ = "search_statistics"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer)
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SearchTermStatistics(db.Model):
    """In how many documents of a kind a term (a folded character, or a pair of adjacent characters) occurred when
    the statistics were worked out, for the terms in at least ``search_index.statistics_minimum`` documents; a
    rarer term has no row."""

    __tablename__ = "search_term_statistics"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    term: Mapped[str] = mapped_column(String(8), primary_key=True)
    documents: Mapped[int] = mapped_column(Integer)

"""Person profiles (好人 / 名家 / 乡贤): the archive's authority records, with tags and workflow status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, lazyload, mapped_column, query_expression, relationship, with_expression
from sqlalchemy.orm.interfaces import ORMOption

from backend.extensions import db
from backend.models.archival import CODE_TYPE
from backend.models.types import UTCDateTime, json_array_agg, utcnow

CATEGORIES = ("good_person", "notable", "local_worthy")
CATEGORY_LABELS = {"good_person": "好人", "notable": "名家", "local_worthy": "乡贤"}
STATUSES = ("draft", "submitted", "returned", "approved", "published", "withdrawn")
GENDERS = ("male", "female", "other", "unknown")


class Person(db.Model):
    __tablename__ = "persons"
    __table_args__ = (
        Index("ix_persons_status_category", "status", "category"),
        Index("ix_persons_name_pinyin", "name_pinyin", "id"),
        Index("ix_persons_created_at", "created_at", "id"),
        Index("ix_persons_updated_at", "updated_at", "id"),
        # A phone's own id for a draft: unique per creator, so one user's id says nothing about another's.
        UniqueConstraint("created_by_id", "client_uuid", name="uq_persons_creator_client_uuid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_uuid: Mapped[str | None] = mapped_column(String(36), nullable=True)
    category: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)

    name: Mapped[str] = mapped_column(String(128))
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    name_pinyin: Mapped[str] = mapped_column(String(512), default="")

    gender: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ethnicity: Mapped[str | None] = mapped_column(String(32), nullable=True)
    birth_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    death_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    native_place: Mapped[str | None] = mapped_column(String(255), nullable=True)
    area_district: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    area_town: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    area_village: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    occupation: Mapped[str | None] = mapped_column(String(255), nullable=True)
    honours: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    biography: Mapped[str] = mapped_column(Text, default="")

    id_number: Mapped[str | None] = mapped_column(String(18), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(32), nullable=True)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)

    # 档号: given once, when the profile is first approved (backend.services.archival_codes); never changed.
    archival_code: Mapped[str | None] = mapped_column(CODE_TYPE, nullable=True, unique=True)
    return_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    # Written by backend.services.persons as plain statements; the database deletes them with the profile.
    search_terms: Mapped[list["PersonSearchTerm"]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True)
    tag_rows: Mapped[list["PersonTag"]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin", order_by="PersonTag.tag")
    # The tags as one column of the statement that loaded the profile (``tags_in_statement()``): a list page
    # reads 20 profiles' tags without a row per tag or a statement of its own.
    tag_list: Mapped[list[str] | None] = query_expression()

    @property
    def tags(self) -> list[str]:
        """In code point order (whatever the database's collation). The loaded (or changed) collection wins over
        ``tag_list``, so a change made in this session is always seen."""
        if "tag_rows" not in self.__dict__ and self.tag_list is not None:
            return sorted(self.tag_list)
        return sorted(row.tag for row in self.tag_rows)

    @property
    def area(self) -> dict[str, str | None]:
        return {"district": self.area_district, "town": self.area_town, "village": self.area_village}


class PersonTag(db.Model):
    __tablename__ = "person_tags"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    person: Mapped[Person] = relationship(back_populates="tag_rows")


def tags_in_statement() -> tuple[ORMOption, ORMOption]:
    """Loader options for a statement over ``Person``: each profile's tags as a JSON array in a column of that
    statement (``Person.tag_list``), not a statement of their own (``tag_rows`` stays unloaded until used)."""
    tags = (select(json_array_agg(PersonTag.tag)).where(PersonTag.person_id == Person.id)
            .correlate(Person).scalar_subquery())
    return lazyload(Person.tag_rows), with_expression(Person.tag_list, tags)


class PersonSearchTerm(db.Model):
    """One lower-case search term of a profile (a suffix of its name or an alias, in characters, pinyin or
    initials); `q` matches terms by prefix through the index."""

    __tablename__ = "person_search_terms"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    # Byte order ("C") on PostgreSQL, as SQLite's default, so prefix ranges use the index whatever the locale.
    term: Mapped[str] = mapped_column(String(128).with_variant(String(128, collation="C"), "postgresql"),
                                      primary_key=True, index=True)
    person: Mapped[Person] = relationship(back_populates="search_terms")

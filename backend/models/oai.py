"""What the OAI-PMH provider has ever published: one row per record that was public at some time, with its
datestamp and whether it has been deleted since (persistent deletions), its sets, and how far the ledger has read."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.types import UTCDateTime

OAI_ENTITY_TYPES = ("person", "material", "interview")


class OaiRecord(db.Model):
    """A record as harvesters know it. ``datestamp`` (whole seconds, UTC) moves whenever what a harvester would get
    changes: its metadata, its sets, or its leaving or re-entering the public archive; ``fingerprint`` is the
    SHA-256 of what was last published, so an internal edit that changes nothing public moves nothing."""

    __tablename__ = "oai_records"
    __table_args__ = (UniqueConstraint("entity_type", "entity_id", name="uq_oai_records_entity"),
                      Index("ix_oai_records_datestamp", "datestamp", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(BigInteger)
    datestamp: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted: Mapped[bool] = mapped_column(Boolean, default=False)
    fingerprint: Mapped[str] = mapped_column(String(64))
    set_rows: Mapped[list["OaiRecordSet"]] = relationship(
        back_populates="record", cascade="all, delete-orphan", lazy="selectin", order_by="OaiRecordSet.spec")

    @property
    def set_specs(self) -> list[str]:
        return [row.spec for row in self.set_rows]


class OaiRecordSet(db.Model):
    """A set a record belongs to (a deleted record keeps the sets it was last in)."""

    __tablename__ = "oai_record_sets"

    record_id: Mapped[int] = mapped_column(ForeignKey("oai_records.id", ondelete="CASCADE"), primary_key=True)
    spec: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
    record: Mapped[OaiRecord] = relationship(back_populates="set_rows")


class OaiState(db.Model):
    """One row: the last sync change-log number the ledger has read, the day it last looked for embargoes that
    ended (the one change that happens with time alone), and which projects were public then."""

    __tablename__ = "oai_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    checked_day: Mapped[date] = mapped_column(Date)
    # [id, title] of the public collection projects when it last looked (each is a set, and Dublin Core names
    # it; projects are not in the change log).
    public_projects: Mapped[list[list[Any]]] = mapped_column(JSON, default=list)

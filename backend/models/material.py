"""Materials (audio, video, images, documents), their derivatives, links to persons, interviews and fixity checks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (JSON, BigInteger, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.archival import CODE_TYPE
from backend.models.types import UTCDateTime, utcnow

KINDS = ("audio", "video", "image", "document")
MATERIAL_STATUSES = ("uploaded", "processing", "ready", "failed")
ACCESS_LEVELS = ("open", "restricted", "closed")
LINK_ROLES = ("interviewee", "subject", "mentioned", "donor", "certificate", "interviewer", "photographer", "other")
VARIANTS = ("original", "asr", "proxy", "poster", "thumbnail", "waveform")
# Made for the public only (the proxy with redacted ranges silenced); never served by the internal API's variants.
PUBLIC_VARIANTS = ("public_proxy",)


class Material(db.Model):
    __tablename__ = "materials"
    # The same bytes may back several materials (uploaded by users who cannot see each other's): one per uploader,
    # all sharing the content-addressed stored original.
    __table_args__ = (Index("ix_materials_collector_created", "collector_id", "created_at"),
                      UniqueConstraint("collector_id", "sha256", name="uq_materials_collector_sha256"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), default="uploaded", index=True)
    failure_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)

    title: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    captured_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    place: Mapped[str | None] = mapped_column(String(255), nullable=True)
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    device: Mapped[str | None] = mapped_column(String(128), nullable=True)
    collector_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    # The client's file name is kept as metadata only; storage keys are derived from the content hash.
    original_filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mime: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage_key: Mapped[str] = mapped_column(String(255))
    media_info: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The current full text (OCR, a PDF's text layer, or as an editor corrected it; None until read) and the
    # number of its revision (backend/models/material_text.py), the ETag of GET /materials/{id}/text.
    text_content: Mapped[str | None] = mapped_column(Text, nullable=True)
    text_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    access_level: Mapped[str] = mapped_column(String(16), default="restricted")
    embargo_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    interview_id: Mapped[int | None] = mapped_column(ForeignKey("interviews.id", ondelete="SET NULL"),
                                                     nullable=True, index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True, index=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    links: Mapped[list["PersonMaterial"]] = relationship(
        back_populates="material", cascade="all, delete-orphan", lazy="selectin")
    derivatives: Mapped[list["Derivative"]] = relationship(
        back_populates="material", cascade="all, delete-orphan", lazy="selectin")

    @property
    def person_ids(self) -> list[int]:
        return sorted({link.person_id for link in self.links})

    def derivative(self, variant: str) -> "Derivative | None":
        return next((d for d in self.derivatives if d.variant == variant), None)


class Derivative(db.Model):
    """A file made from the original (speech-recognition audio, proxies, poster, thumbnail, waveform)."""

    __tablename__ = "derivatives"
    __table_args__ = (UniqueConstraint("material_id", "variant", name="uq_derivatives_material_variant"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"))
    variant: Mapped[str] = mapped_column(String(16))
    storage_key: Mapped[str] = mapped_column(String(255))
    mime: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    material: Mapped[Material] = relationship(back_populates="derivatives")


class PersonMaterial(db.Model):
    __tablename__ = "person_materials"

    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"), primary_key=True,
                                             index=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    material: Mapped[Material] = relationship(back_populates="links")


class Interview(db.Model):
    __tablename__ = "interviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(255), default="")
    date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    place: Mapped[str | None] = mapped_column(String(255), nullable=True)
    interviewers: Mapped[list[str]] = mapped_column(JSON, default=list)
    language: Mapped[str | None] = mapped_column(String(64), nullable=True)
    consent_material_id: Mapped[int | None] = mapped_column(
        ForeignKey("materials.id", ondelete="SET NULL", use_alter=True), nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), nullable=True, index=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Accepted into the archive by an archivist: directly, or by approving a transcript of one of its recordings.
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # 档号: given once, at the first approval (backend.services.archival_codes); never changed.
    archival_code: Mapped[str | None] = mapped_column(CODE_TYPE, nullable=True, unique=True)

    interviewee_rows: Mapped[list["InterviewPerson"]] = relationship(
        back_populates="interview", cascade="all, delete-orphan", lazy="selectin")

    @property
    def interviewee_ids(self) -> list[int]:
        return sorted(row.person_id for row in self.interviewee_rows)


class InterviewPerson(db.Model):
    __tablename__ = "interview_persons"

    interview_id: Mapped[int] = mapped_column(ForeignKey("interviews.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True, index=True)
    interview: Mapped[Interview] = relationship(back_populates="interviewee_rows")


class FixityEvent(db.Model):
    """One re-hash of a stored original: ok, mismatch or missing."""

    __tablename__ = "fixity_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"), index=True)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(16))
    expected_sha256: Mapped[str] = mapped_column(String(64))
    actual_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)

"""Transcripts of audio/video materials: the machine output as segments, and every later revision of it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from backend.models.user import User

TRANSCRIPT_STATUSES = ("machine", "in_review", "reviewed", "approved")


class Transcript(db.Model):
    __tablename__ = "transcripts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"), index=True)
    # One transcript per job: a job that runs again after a crash finds its transcript instead of adding one.
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), unique=True,
                                               nullable=True)
    engine: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(255))
    language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    language_probability: Mapped[float | None] = mapped_column(Float, nullable=True)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duration: Mapped[float] = mapped_column(Float, default=0.0)
    status: Mapped[str] = mapped_column(String(16), default="machine", index=True)
    flagged_count: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    # Speaker labels mapped to persons or free names: {"SPEAKER_1": {"person_id": 3}, "SPEAKER_2": {"name": "采访人"}}
    speakers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Claim lock of an editor; expires by itself.
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    lock_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    review_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    segments: Mapped[list["TranscriptSegment"]] = relationship(
        back_populates="transcript", cascade="all, delete-orphan", lazy="selectin",
        order_by="TranscriptSegment.index")


class TranscriptSegment(db.Model):
    __tablename__ = "transcript_segments"
    __table_args__ = (UniqueConstraint("transcript_id", "index", name="uq_transcript_segments_transcript_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"))
    index: Mapped[int] = mapped_column(Integer)
    start: Mapped[float] = mapped_column(Float)
    end: Mapped[float] = mapped_column(Float)
    text: Mapped[str] = mapped_column(Text, default="")
    speaker: Mapped[str | None] = mapped_column(String(64), nullable=True)
    avg_logprob: Mapped[float | None] = mapped_column(Float, nullable=True)
    no_speech_prob: Mapped[float | None] = mapped_column(Float, nullable=True)
    compression_ratio: Mapped[float | None] = mapped_column(Float, nullable=True)
    words: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    # Clean-up notes: hallucinations or repetitions removed (so an editor can restore them), review flags.
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    transcript: Mapped[Transcript] = relationship(back_populates="segments")


class TranscriptRevision(db.Model):
    """A full snapshot of a transcript's segments after a save; the machine output is revision 1."""

    __tablename__ = "transcript_revisions"
    __table_args__ = (UniqueConstraint("transcript_id", "number", name="uq_transcript_revisions_transcript_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    transcript_id: Mapped[int] = mapped_column(ForeignKey("transcripts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    summary: Mapped[str] = mapped_column(String(255), default="")
    # Indexes (in the previous revision) of the segments this save touched.
    changed: Mapped[list[int]] = mapped_column(JSON, default=list)
    segments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    # Loaded by the query that lists revisions (one query for all authors), never one by one while serialising.
    created_by: Mapped[User | None] = relationship(lazy="raise")

"""The text of a material (OCR of a photo or scan, or a PDF's text layer): its current pages and every revision."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow

if TYPE_CHECKING:
    from backend.models.user import User

# Where a page's text came from: an OCR engine, the PDF's own text layer, or a person who typed or corrected it.
TEXT_SOURCES = ("ocr", "text_layer", "editor")


class MaterialTextPage(db.Model):
    """One page of a material's current text: its lines with their boxes (page pixels, or PDF points for a text
    layer: ``width``/``height`` give the frame) and the engine's confidence in each."""

    __tablename__ = "material_text_pages"
    __table_args__ = (UniqueConstraint("material_id", "number", name="uq_material_text_pages_material_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    width: Mapped[float] = mapped_column(Float, default=0.0)
    height: Mapped[float] = mapped_column(Float, default=0.0)
    source: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # [{"text": "荣誉证书", "box": [[x, y], [x, y], [x, y], [x, y]], "confidence": 0.998}, …] in reading order
    lines: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text, default="")


class MaterialTextRevision(db.Model):
    """A full snapshot of a material's text after a save; an OCR run or a text-layer reading is a revision too."""

    __tablename__ = "material_text_revisions"
    __table_args__ = (UniqueConstraint("material_id", "number", name="uq_material_text_revisions_material_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("materials.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    # The revision this one was made from (None for the first).
    base_number: Mapped[int | None] = mapped_column(Integer, nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    engine: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # The OCR job that made it: a job that runs again after a crash finds its revision instead of adding one.
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), unique=True,
                                               nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    comment: Mapped[str | None] = mapped_column(String(255), nullable=True)
    pages: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    text: Mapped[str] = mapped_column(Text, default="")

    created_by: Mapped["User | None"] = relationship(lazy="raise")

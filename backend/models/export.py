"""Preservation packages (BagIt bags with METS/PREMIS metadata) made for a scope of persons, interviews or projects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow

EXPORT_SCOPES = ("person", "interview", "project")
EXPORT_STATUSES = ("queued", "running", "succeeded", "failed")
EXPORT_FORMATS = ("zip", "tar")


class Export(db.Model):
    __tablename__ = "exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The package's identifier: the bag's name and the METS OBJID (as an Archivematica AIP's UUID).
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    scope: Mapped[str] = mapped_column(String(16))
    ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    format: Mapped[str] = mapped_column(String(8), default="zip")
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_id: Mapped[str | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"), nullable=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The finished package in the media storage, and what it was when made (the report checks it is unaltered).
    storage_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # sha256 of each tag file (manifests, bag-info, bagit.txt) as written, and the payload's file count and bytes.
    tag_digests: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    file_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payload_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

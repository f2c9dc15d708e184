"""Bulk imports of legacy collections: one record per run (its report and progress) and the ledger of import keys
that makes a rerun create nothing twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow

IMPORT_STATUSES = ("queued", "running", "succeeded", "failed", "cancelled")
IMPORT_SOURCES = ("directory", "path", "archive")  # under LIUFANG_IMPORT_ROOT; any (command line); zip
IMPORTED_TYPES = ("person", "interview", "material")


class Import(db.Model):
    """One check (dry run) or run of a manifest against a directory on the server or an uploaded zip."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    dry_run: Mapped[bool] = mapped_column(Boolean, default=True)
    # The collection the manifest describes: with each row's ref it makes the row's import key.
    batch: Mapped[str] = mapped_column(String(128))
    source_kind: Mapped[str] = mapped_column(String(16))
    # What the archivist named (a directory under LIUFANG_IMPORT_ROOT, or the zip's name): a label only.
    source_label: Mapped[str] = mapped_column(String(1024), default="")
    manifest_name: Mapped[str] = mapped_column(String(255), default="")
    # No manifest: the source is a Liufang preservation package, read through its METS, EAC-CPF and Dublin Core.
    package: Mapped[bool] = mapped_column(Boolean, default=False)
    manifest_sha256: Mapped[str] = mapped_column(String(64), default="")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    phase: Mapped[str] = mapped_column(String(16), default="queued")
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    bytes_total: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_done: Mapped[int] = mapped_column(BigInteger, default=0)
    # {"created": {"person": n, …}, "skipped": n, "linked_existing": n, "errors": n, "warnings": n}
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # [{"row", "column", "code", "severity", "message", "value"}]: every problem found, in manifest order.
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    job_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ImportKey(db.Model):
    """A manifest row that was imported: its stable key (batch, type and ref; a file's sha256 too) and the record it
    became. Written in the same transaction as that record, so after a crash a row is either here or not done."""

    __tablename__ = "import_keys"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    entity_type: Mapped[str] = mapped_column(String(16))
    entity_id: Mapped[int] = mapped_column(Integer)
    batch: Mapped[str] = mapped_column(String(128), index=True)
    ref: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

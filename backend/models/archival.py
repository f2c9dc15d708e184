"""Archival reference codes (档号): the counter of each series, so codes are handed out in order and without gaps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime, utcnow

# Byte order on PostgreSQL (SQLite's default), so a code prefix is an index range whatever the database's locale.
CODE_TYPE = String(64).with_variant(String(64, collation="C"), "postgresql")


class ArchivalCounter(db.Model):
    """The last number handed out in one series: ``series`` is the code with everything but its number filled in
    (``LYG-KS-2026-{seq}``). The row is locked (SELECT … FOR UPDATE) by the approval that takes the next number and
    stays locked until that transaction ends, so concurrent approvals take consecutive numbers and a rolled-back
    approval gives its number back: a series has no gaps."""

    __tablename__ = "archival_counters"

    series: Mapped[str] = mapped_column(CODE_TYPE, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

"""Request counters of the public API's rate limit: one row per client address, in the database so that every API
process counts against the same number."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.extensions import db
from backend.models.types import UTCDateTime


class RateLimitCounter(db.Model):
    """Requests of one client in its current window, which starts with its first request after the last one ended."""

    __tablename__ = "rate_limit_counters"

    # What is limited, with its period ("public/60s"): a changed setting starts counters of its own.
    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    client: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    # The end of the current window; housekeeping deletes rows past it.
    window_end: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

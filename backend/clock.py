"""The one clock the backend reads "now" from: real time, which a test may move forward.

Everything in the app that asks what time it is (``backend.models.types.utcnow`` for timestamps, lock and token
expiry, throttling windows; ``clock.monotonic()`` for in-process rate windows) goes through ``clock``. In production
nothing ever moves it, so it is the system clock. Tests call ``clock.advance(...)`` instead of sleeping: time keeps
running, shifted forward by the amount advanced, and ``clock.reset()`` puts it back on the system clock.

The offset lives in this process only: a separate process (a worker, gunicorn) keeps real time.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone


class Clock:
    """System time plus an offset that only grows (until ``reset``)."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        return datetime.now(timezone.utc) + timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        """``time.monotonic()`` moved by the same offset (for intervals measured inside one process)."""
        return time.monotonic() + self._offset

    def advance(self, by: timedelta | float) -> None:
        """Let ``by`` (a timedelta or seconds) pass at once. Time never runs backwards."""
        seconds = by.total_seconds() if isinstance(by, timedelta) else float(by)
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds

    @property
    def offset(self) -> timedelta:
        return timedelta(seconds=self._offset)

    def reset(self) -> None:
        """Back to the system clock."""
        with self._lock:
            self._offset = 0.0


clock = Clock()

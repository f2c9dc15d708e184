"""The backend's clock: real time that tests move forward instead of sleeping, and that "now" everywhere follows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from backend.clock import Clock
from backend.models.types import utcnow


def test_the_clock_is_real_time_until_moved_and_only_moves_forward():
    clock = Clock()
    before = datetime.now(timezone.utc)
    assert before <= clock.now() <= datetime.now(timezone.utc)
    assert clock.now().tzinfo is not None and clock.offset == timedelta(0)
    clock.advance(timedelta(minutes=30))
    clock.advance(1.5)
    assert clock.offset == timedelta(minutes=30, seconds=1.5)
    assert clock.now() - datetime.now(timezone.utc) > timedelta(minutes=30)
    with pytest.raises(ValueError):
        clock.advance(timedelta(seconds=-1))
    clock.reset()
    assert clock.offset == timedelta(0) and clock.now() <= datetime.now(timezone.utc)


def test_utcnow_and_monotonic_follow_the_app_clock(clock):
    import time

    start, real = clock.monotonic(), time.monotonic()
    clock.advance(timedelta(hours=2))
    assert utcnow() - datetime.now(timezone.utc) >= timedelta(hours=2) - timedelta(seconds=1)
    assert clock.monotonic() - start >= 7200 and time.monotonic() - real < 60


def test_each_test_starts_on_real_time(clock):
    assert clock.offset == timedelta(0)

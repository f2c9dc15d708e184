"""The public API's rate limit: 429 with Retry-After once a client address exceeds its window, then recovery."""

from __future__ import annotations

from datetime import timedelta

import pytest

from backend.api.public import SlidingWindowLimiter, parse_rate_limit
from tests.api.helpers import assert_error


def test_over_the_limit_is_429_with_retry_after_then_recovers(sqlite_app, clock):
    sqlite_app.config["PUBLIC_RATE_LIMIT"] = "3/1s"
    client = sqlite_app.test_client()
    for _ in range(3):
        assert client.get("/api/public/persons").status_code == 200
    refused = client.get("/api/public/persons/1")
    error = assert_error(refused, 429, "too_many_requests")
    assert error["details"] == {"limit": 3, "period_seconds": 1.0}
    assert refused.headers["Retry-After"] == "1"
    # another address has its own window; the internal API is not limited by it
    other = client.get("/api/public/persons", environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert other.status_code == 200
    assert client.get("/api/health").status_code != 429
    clock.advance(timedelta(seconds=1.05))
    assert client.get("/api/public/persons").status_code == 200


def test_rate_limit_setting_and_window():
    assert parse_rate_limit("120/minute") == (120, 60.0)
    assert parse_rate_limit("10/30s") == (10, 30.0)
    assert parse_rate_limit("5 / hour") == (5, 3600.0)
    assert parse_rate_limit("off") is None and parse_rate_limit("0") is None
    with pytest.raises(ValueError):
        parse_rate_limit("lots")
    limiter = SlidingWindowLimiter()
    assert [limiter.hit("a", 2, 10.0, now=t) for t in (0.0, 1.0)] == [None, None]
    assert limiter.hit("a", 2, 10.0, now=5.0) == pytest.approx(5.0)  # the oldest leaves the window at 10 s
    assert limiter.hit("a", 2, 10.0, now=10.5) is None  # a sliding window: one slot is free again
    assert limiter.hit("a", 2, 10.0, now=10.6) == pytest.approx(0.4)

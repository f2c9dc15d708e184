"""The public API's rate limit: 429 with Retry-After once a client address exceeds its window, then recovery; one
count in the database for every API process; the real client behind a trusted proxy, never a forged header."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest

from backend import transaction
from backend.api.public import parse_rate_limit
from backend.services import rate_limits
from tests.api.helpers import assert_error
from tests.support.apps import another_app


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


def test_rate_limit_setting():
    assert parse_rate_limit("120/minute") == (120, 60.0)
    assert parse_rate_limit("10/30s") == (10, 30.0)
    assert parse_rate_limit("5 / hour") == (5, 3600.0)
    assert parse_rate_limit("off") is None and parse_rate_limit("0") is None
    with pytest.raises(ValueError):
        parse_rate_limit("lots")


@pytest.mark.both_databases  # an upsert with RETURNING and CASE over UTC timestamps, on each engine
def test_a_window_starts_with_the_first_request_and_ends_after_its_period(app, clock):
    def hit(client: str = "a") -> float | None:
        with app.app_context(), transaction.atomic():
            return rate_limits.hit("test", client, 2, 10.0)

    assert [hit(), hit()] == [None, None]
    clock.advance(timedelta(seconds=4))
    assert hit() == pytest.approx(6.0, abs=0.5), "refused until the window that began with the first request ends"
    assert hit("b") is None, "each client has its own window"
    clock.advance(timedelta(seconds=6.1))
    assert [hit(), hit()] == [None, None], "a new window, with the full allowance"
    assert hit() == pytest.approx(10.0, abs=0.5)


@pytest.mark.both_databases  # the count lives in the database that every API process shares
def test_two_api_processes_share_one_count(app, tmp_path):
    app.config["PUBLIC_RATE_LIMIT"] = "4/minute"
    with another_app(app, tmp_path) as other:
        first, second = app.test_client(), other.test_client()
        answers = [client.get("/api/public/persons").status_code for client in (first, second, first, second)]
        assert answers == [200, 200, 200, 200]
        assert_error(second.get("/api/public/persons"), 429, "too_many_requests")
        assert_error(first.get("/api/public/persons"), 429, "too_many_requests")


@pytest.mark.both_databases  # concurrent upserts of one row: SQLite's one writer, PostgreSQL's row lock
def test_simultaneous_requests_are_each_counted_once(app):
    app.config["PUBLIC_RATE_LIMIT"] = "10/minute"
    statuses: list[int] = []
    barrier = threading.Barrier(20)

    def send() -> None:
        client = app.test_client()
        barrier.wait(timeout=30)
        statuses.append(client.get("/api/public/persons").status_code)

    threads = [threading.Thread(target=send) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert Counter(statuses) == {200: 10, 429: 10}


def test_without_trusted_proxies_a_forged_forwarded_for_does_not_escape_the_limit(sqlite_app):
    sqlite_app.config["PUBLIC_RATE_LIMIT"] = "2/minute"
    client = sqlite_app.test_client()
    for forged in ("198.51.100.1", "198.51.100.2"):
        assert client.get("/api/public/persons", headers={"X-Forwarded-For": forged}).status_code == 200
    assert_error(client.get("/api/public/persons", headers={"X-Forwarded-For": "198.51.100.3"}), 429)


def test_behind_one_trusted_proxy_each_real_client_has_its_own_window(sqlite_app, tmp_path):
    sqlite_app.config["PUBLIC_RATE_LIMIT"] = "2/minute"
    with another_app(sqlite_app, tmp_path, TRUSTED_PROXIES=1) as behind_nginx:
        proxy = behind_nginx.test_client()  # every request arrives from the proxy's address, 127.0.0.1

        def get(client_ip: str, forwarded: str | None = None) -> int:
            return proxy.get("/api/public/persons",
                             headers={"X-Forwarded-For": forwarded or client_ip}).status_code

        assert [get("203.0.113.5"), get("203.0.113.5"), get("203.0.113.5")] == [200, 200, 429]
        assert get("203.0.113.9") == 200, "another client behind the same proxy is not limited by the first"
        # a client's own X-Forwarded-For comes first; the proxy appends the address it saw, which is what counts
        assert get("", forwarded="10.9.9.9, 203.0.113.5") == 429

"""The login throttle counts failures per (username, client) and per client, with a wait that doubles: nobody can
lock another user out, one address cannot spray passwords, and behind a trusted proxy the real client is counted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from argon2 import PasswordHasher

from backend import transaction
from backend.extensions import db
from backend.models import LoginFailure
from backend.services import housekeeping
from backend.services.auth import backoff
from tests.api.helpers import assert_error
from tests.conftest import PASSWORD
from tests.support.apps import another_app

ATTACKER = "198.51.100.66"
VICTIM = "192.0.2.10"


def login(client, username="collector", password=PASSWORD, address=None, headers=None):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address} if address else None, headers=headers)


def fail(client, times, username="collector", address=ATTACKER, **kwargs):
    for _ in range(times):
        assert_error(login(client, username, "wrong-password", address, **kwargs), 401, "invalid_credentials")


@pytest.mark.both_databases  # failures counted with SQL over UTC timestamps, per username and address
def test_failures_elsewhere_never_lock_the_right_password_out(client, app, users):
    fail(client, app.config["LOGIN_MAX_FAILURES"])
    assert_error(login(client, address=ATTACKER), 429, "login_throttled")  # the failing client waits
    assert login(client, address=VICTIM).status_code == 200, "the owner's own phone logs in"
    # the owner mistyping from their phone is told so, not throttled by the attacker's failures
    assert_error(login(client, password="typo-password", address=VICTIM), 401, "invalid_credentials")
    fail(client, app.config["LOGIN_MAX_FAILURES"], username="admin")
    assert login(client, username="admin", address=VICTIM).status_code == 200, "nor can an admin be locked out"


def test_the_wait_doubles_with_each_further_failure(client, app, users, clock):
    app.config["LOGIN_WINDOW"] = timedelta(seconds=60)
    limit = app.config["LOGIN_MAX_FAILURES"]
    fail(client, limit)
    waits = []
    for _ in range(5):
        refused = assert_error(login(client, address=ATTACKER), 429, "login_throttled")
        assert refused["details"]["retry_after"] == int(login(client, address=ATTACKER).headers["Retry-After"])
        waits.append(refused["details"]["retry_after"])
        clock.advance(timedelta(seconds=waits[-1]))
        fail(client, 1)
    assert waits == [1, 2, 4, 8, 16]
    clock.advance(timedelta(seconds=60.5))
    assert login(client, address=ATTACKER).status_code == 200, "the throttle lifts by itself"
    window = timedelta(minutes=15)
    assert [backoff(n, 5, window) for n in (4, 5, 6, 10)] == [None, timedelta(seconds=1), timedelta(seconds=2),
                                                              timedelta(seconds=32)]
    assert backoff(14, 5, window) == timedelta(seconds=512) and backoff(15, 5, window) == window
    assert backoff(10_000, 5, window) == window, "never longer than the window"


def test_one_address_spraying_many_usernames_is_throttled_for_all_of_them(client, app, users, clock):
    app.config["LOGIN_CLIENT_MAX_FAILURES"] = 6
    for n in range(5):  # an office behind one address: a few people mistype, the next one still logs in
        fail(client, 1, username=f"nobody{n}")
    assert login(client, username="editor", address=ATTACKER).status_code == 200
    fail(client, 1, username="nobody5")  # the sixth failure from this address, each for a different username
    refused = assert_error(login(client, username="archivist", address=ATTACKER), 429, "login_throttled")
    assert refused["details"]["retry_after"] == 1
    assert login(client, username="archivist", address=VICTIM).status_code == 200, "other addresses log in"
    clock.advance(timedelta(seconds=1.1))
    assert login(client, username="archivist", address=ATTACKER).status_code == 200, "a short wait, not a lockout"


def test_logging_in_forgives_only_this_clients_failures(client, app, users):
    limit = app.config["LOGIN_MAX_FAILURES"]
    fail(client, limit - 1, address=ATTACKER)
    fail(client, limit - 1, address=VICTIM)
    assert login(client, address=VICTIM).status_code == 200
    fail(client, 1, address=ATTACKER)
    assert_error(login(client, address=ATTACKER), 429, "login_throttled")  # the attacker's count stays
    fail(client, limit - 1, address=VICTIM)
    assert login(client, address=VICTIM).status_code == 200, "the owner's count started again"


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(client, app, users):
    for n in range(app.config["LOGIN_MAX_FAILURES"]):
        fail(client, 1, address=ATTACKER, headers={"X-Forwarded-For": f"203.0.113.{n}"})
    assert_error(login(client, address=ATTACKER, headers={"X-Forwarded-For": "203.0.113.99"}), 429,
                 "login_throttled")


def test_behind_a_trusted_proxy_the_real_client_is_counted(app, users, tmp_path):
    with another_app(app, tmp_path, TRUSTED_PROXIES=1) as behind_nginx:
        proxy = behind_nginx.test_client()  # every request comes from the proxy's own address
        attacker, owner = {"X-Forwarded-For": "203.0.113.5"}, {"X-Forwarded-For": "203.0.113.9"}
        fail(proxy, app.config["LOGIN_MAX_FAILURES"], address="10.0.0.2", headers=attacker)
        assert_error(login(proxy, address="10.0.0.2", headers=attacker), 429, "login_throttled")
        assert login(proxy, address="10.0.0.2", headers=owner).status_code == 200
        with behind_nginx.app_context():
            recorded = set(db.session.scalars(db.select(LoginFailure.remote_addr)))
        assert recorded == {"203.0.113.5"}


def test_failures_are_shared_by_every_api_process(app, users, tmp_path):
    with another_app(app, tmp_path) as other:
        first, second = app.test_client(), other.test_client()
        for n in range(app.config["LOGIN_MAX_FAILURES"]):
            fail(first if n % 2 else second, 1)
        assert_error(login(first, address=ATTACKER), 429, "login_throttled")
        assert_error(login(second, address=ATTACKER), 429, "login_throttled")


def test_housekeeping_forgets_failures_once_they_no_longer_count(client, app, users, clock):
    fail(client, 3)
    clock.advance(app.config["LOGIN_WINDOW"] + timedelta(seconds=1))
    fail(client, 1)
    with app.app_context(), transaction.atomic():
        assert housekeeping.purge_expired()["login_failures"] == 3
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(LoginFailure)) == 1


def test_an_unknown_username_costs_one_verification_and_no_new_hash(client, app, users, monkeypatch):
    """Timing in figures: bench/login_timing_bench.py. Here: no argon2 hash is made per unknown-username login
    (the dummy it verifies against is made once per process), so it does the same work as a known one."""
    login(client, username="nobody-yet", address="192.0.2.1")  # the dummy exists from here on
    calls = {"hash": 0, "verify": 0}

    def counting(name):
        real = getattr(PasswordHasher, name)

        def call(self, *args, **kwargs):
            calls[name] += 1
            return real(self, *args, **kwargs)
        return call

    monkeypatch.setattr(PasswordHasher, "hash", counting("hash"))
    monkeypatch.setattr(PasswordHasher, "verify", counting("verify"))
    for n in range(3):
        assert_error(login(client, username=f"nobody{n}", address="192.0.2.1"), 401, "invalid_credentials")
    assert calls == {"hash": 0, "verify": 3}
    assert_error(login(client, password="wrong-password", address="192.0.2.2"), 401, "invalid_credentials")
    assert calls == {"hash": 0, "verify": 4}, "a known username: the same single verification"

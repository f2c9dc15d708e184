"""Login timing benchmark: does a failed login for an unknown username take as long as one for a known username?"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from argon2 import PasswordHasher  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from backend import create_app, transaction  # noqa: E402
from backend.extensions import db  # noqa: E402
from backend.services.users import create_user  # noqa: E402

ABOUT = """\
Usage:  .venv/bin/python bench/login_timing_bench.py [--rounds 40]

A fresh temporary instance (SQLite), migrated, with one account; the production argon2 profile
(argon2-cffi defaults). The throttle's allowances are raised so that no attempt is refused. Each round
sends, in turn: a wrong password for the known username, any password for an unknown username (a new one
each round), and the right password. POST /api/v1/auth/login through the app's WSGI stack (Flask test
client, one process), timed with perf_counter. References measured in the same rounds, interleaved: one
bare argon2 verification, and one hash plus one verification (what an unknown username used to cost).
"""


def _timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"{statistics.median(ordered):8.1f} {ordered[0]:8.1f} {p90:8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=ABOUT, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="liufang-login-bench-") as tmp:
        os.environ["LIUFANG_INSTANCE_PATH"] = tmp
        app = create_app({"INSTANCE_PATH": tmp, "QUEUE_URL": "memory", "PASSWORD_HASH_PROFILE": "default",
                          "LOGIN_MAX_FAILURES": 1_000_000, "LOGIN_CLIENT_MAX_FAILURES": 1_000_000,
                          "PUBLIC_RATE_LIMIT": "off"})
        with app.app_context():
            upgrade()
            with transaction.atomic():
                create_user(None, username="bench-known", password="right-password-123", roles=["collector"])
        client = app.test_client()

        def login(username: str, password: str, status: int) -> Callable[[], None]:
            def call() -> None:
                response = client.post("/api/v1/auth/login", json={"username": username, "password": password})
                assert response.status_code == status, response.get_json()
            return call

        for n in range(3):  # warm-up: first requests, the dummy hash (made once per process)
            login("bench-known", "wrong-password", 401)()
            login(f"warm-up-{n}", "wrong-password", 401)()
        hasher = PasswordHasher()
        stored = hasher.hash("right-password-123")

        def verify_only() -> None:
            try:
                hasher.verify(stored, "wrong-password")
            except Exception:
                pass

        def hash_and_verify() -> None:
            hasher.hash("some-password")
            verify_only()

        # Interleaved, so that every case sees the same load on the machine.
        known, unknown, success, bare, old_unknown = [], [], [], [], []
        for n in range(args.rounds):
            known.append(_timed(login("bench-known", "wrong-password", 401)))
            unknown.append(_timed(login(f"nobody-{n}", "wrong-password", 401)))
            success.append(_timed(login("bench-known", "right-password-123", 200)))
            bare.append(_timed(verify_only))
            old_unknown.append(_timed(hash_and_verify))
        with app.app_context():
            db.engine.dispose()

    print(f"login timing, {args.rounds} rounds, argon2-cffi defaults, ms")
    print(f"{'case':58} {'median':>8} {'min':>8} {'p90':>8}")
    print(f"{'POST /auth/login, known username, wrong password (401)':58} {_summary(known)}")
    print(f"{'POST /auth/login, unknown username (401)':58} {_summary(unknown)}")
    print(f"{'POST /auth/login, right password (200)':58} {_summary(success)}")
    print(f"{'reference: one argon2 verify':58} {_summary(bare)}")
    print(f"{'reference: argon2 hash + verify (the old unknown-user path)':58} {_summary(old_unknown)}")
    ratio = statistics.median(unknown) / statistics.median(known)
    print(f"unknown / known (medians): {ratio:.3f}")


if __name__ == "__main__":
    main()

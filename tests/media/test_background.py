"""Helper threads under gevent (as in the API's workers): blocking calls and hashing leave the event loop free and
run on real threads; without gevent they behave as before."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from media.background import cooperative, run_blocking
from media.hashing import BackgroundDigest

ROOT = Path(__file__).resolve().parents[2]

# Run in a fresh interpreter patched by gevent first, as gunicorn's gevent worker is.
UNDER_GEVENT = textwrap.dedent("""
    from gevent import monkey
    monkey.patch_all()

    import hashlib, json, os, threading, time
    import gevent
    from media.background import cooperative, run_blocking
    from media.hashing import BackgroundDigest

    native_sleep = monkey.get_original("time", "sleep")
    native_thread = monkey.get_original("threading", "get_ident")
    loop_thread = native_thread()
    ticks = []

    def ticker():
        for _ in range(20):
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    # A call that blocks its thread for 0.3 s (as fsync or argon2 may): the other greenlet keeps ticking.
    other = gevent.spawn(ticker)
    started = time.monotonic()
    ran_on = run_blocking(lambda: (native_sleep(0.3), native_thread())[1])
    blocked_for = time.monotonic() - started
    other.join()
    ticks_meanwhile = sum(1 for t in ticks if started < t < started + blocked_for)

    # Hashing pieces: the whole-file digest is right, the big pieces were hashed on other (native) threads.
    hashed_on = set()

    class Recording:
        def __init__(self):
            self.inner = hashlib.sha256()

        def update(self, data):
            hashed_on.add(native_thread())
            self.inner.update(data)

    data = os.urandom(6 * 1024 * 1024 + 5)
    recording = Recording()
    digest = BackgroundDigest(recording, max_pending=2 * 1024 * 1024)
    released = []
    for start in range(0, len(data), 700 * 1024):
        piece = data[start:start + 700 * 1024]
        digest.update(piece, release=lambda: released.append(1))
    digest.wait()
    print(json.dumps({
        "cooperative": cooperative(),
        "blocked_for": blocked_for,
        "ticks_meanwhile": ticks_meanwhile,
        "ran_on_loop_thread": ran_on == loop_thread,
        "digest_ok": recording.inner.hexdigest() == hashlib.sha256(data).hexdigest(),
        "hashed_on_loop_thread": loop_thread in hashed_on,
        "released": len(released),
        "pieces": -(-len(data) // (700 * 1024)),
    }))
""")


def test_under_gevent_blocking_calls_and_hashing_run_on_native_threads_beside_the_event_loop():
    result = subprocess.run([sys.executable, "-c", UNDER_GEVENT], cwd=ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen["cooperative"] is True
    assert seen["blocked_for"] >= 0.3 and not seen["ran_on_loop_thread"]
    assert seen["ticks_meanwhile"] >= 5, "the event loop should have gone on while the call blocked"
    assert seen["digest_ok"] and not seen["hashed_on_loop_thread"]
    assert seen["released"] == seen["pieces"], "every buffer handed back"


def test_without_gevent_blocking_calls_run_in_place():
    assert cooperative() is False
    assert run_blocking(lambda a, b: a + b, 2, 3) == 5
    data = os.urandom(3 * 1024 * 1024)
    sha256 = hashlib.sha256()
    digest = BackgroundDigest(sha256, max_pending=1024 * 1024)
    for start in range(0, len(data), 300 * 1024):
        digest.update(data[start:start + 300 * 1024])
    digest.wait()
    assert sha256.hexdigest() == hashlib.sha256(data).hexdigest()

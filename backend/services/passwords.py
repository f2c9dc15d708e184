"""Password hashing with argon2 (argon2-cffi defaults: argon2id), off the event loop (tens of ms of CPU each)."""

from __future__ import annotations

import secrets
import threading

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from flask import current_app

from media.background import run_blocking

MIN_PASSWORD_LENGTH = 8
# argon2-cffi's defaults (RFC 9106 low-memory profile) in production; the test suite asks for a cheap profile.
_PROFILES = {
    "default": PasswordHasher(),
    "test": PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
}
# One dummy hash per profile, made on first use in each process (made per call, it cost an unknown username a hash
# on top of the verification and told it apart from a known one by time).
_dummy_hashes: dict[str, str] = {}
_dummy_lock = threading.Lock()


def _hasher() -> PasswordHasher:
    return _PROFILES[current_app.config.get("PASSWORD_HASH_PROFILE", "default")]


def hash_password(password: str) -> str:
    return run_blocking(_hasher().hash, password)


def _matches(hasher: PasswordHasher, password_hash: str, password: str) -> bool:
    """argon2 releases the GIL: under gevent this runs on a helper thread while other requests go on."""
    try:
        return run_blocking(hasher.verify, password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _dummy_hash(profile: str, hasher: PasswordHasher) -> str:
    dummy = _dummy_hashes.get(profile)
    if dummy is None:
        with _dummy_lock:
            dummy = _dummy_hashes.get(profile)
            if dummy is None:
                dummy = _dummy_hashes[profile] = hasher.hash(secrets.token_urlsafe(16))
    return dummy


def verify_password(password_hash: str | None, password: str) -> bool:
    hasher = _hasher()
    if password_hash is None:
        # Verify against a dummy so a login for an unknown user takes as long as one for a known user.
        dummy = _dummy_hash(current_app.config.get("PASSWORD_HASH_PROFILE", "default"), hasher)
        _matches(hasher, dummy, password)
        return False
    return _matches(hasher, password_hash, password)


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)

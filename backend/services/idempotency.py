"""Idempotency keys: the first successful answer to a POST is stored with the change it made, and replayed for
retries with the same key and body.

The answer is stored in the same transaction as the change (the API boundary commits both at once), so after a
crash at any point a retry either finds the stored answer or finds no trace of the change and performs it once.
Two attempts with the same key that overlap cannot both commit: the unique (user, key) row lets only one win, and
the loser's whole transaction is rolled back and answered with the winner's reply. On PostgreSQL an attempt that
finds another one still running answers 409 at once (a transaction-scoped advisory lock on the key).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select

from backend.errors import Conflict, ValidationFailed
from backend.extensions import db
from backend.models import IdempotencyRecord
from backend.models.types import utcnow

MAX_KEY_LENGTH = 255
REPLAYED_HEADERS = ("Location", "ETag", "Content-Type")


@dataclass
class StoredResponse:
    status_code: int
    headers: dict[str, str]
    body: bytes


def fingerprint(method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), b"\0", path.encode(), b"\0", body):
        digest.update(part)
    return digest.hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed("Idempotency-Key 无效（1–255个可见字符）", code="invalid_idempotency_key")
    return key


def _in_progress(key: str) -> Conflict:
    return Conflict("相同的请求正在处理中，请稍后重试", code="idempotency_in_progress",
                    details={"key": key}, headers={"Retry-After": "1"})


def _claim(user_id: int, key: str) -> None:
    """PostgreSQL: hold a lock on (user, key) until this transaction ends, or answer 409 if another holds it."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"{user_id}\0{key}".encode()).digest()
    lock_id = struct.unpack(">q", digest[:8])[0]
    if not db.session.scalar(select(func.pg_try_advisory_xact_lock(lock_id))):
        raise _in_progress(key)


def stored_response(user_id: int, key: str, request_fingerprint: str) -> StoredResponse | None:
    """The stored answer for ``key`` (to replay), or None when this request is the first to use the key.

    A key used before with another request is refused (422); an expired record is dropped (in this unit of work).
    """
    record = db.session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key))
    if record is not None and record.created_at < utcnow() - current_app.config["IDEMPOTENCY_TTL"]:
        db.session.delete(record)
        db.session.flush()
        record = None
    if record is None:
        return None
    if record.fingerprint != request_fingerprint:
        raise ValidationFailed("同一 Idempotency-Key 已用于另一个请求", code="idempotency_key_reused",
                               details={"key": key})
    return StoredResponse(record.status_code, dict(record.headers), record.body)


def begin(user_id: int, key: str, request_fingerprint: str) -> StoredResponse | None:
    """Start a request under ``key``: the answer to replay, or None (then the caller does the work and ``store``s)."""
    _claim(user_id, key)
    return stored_response(user_id, key, request_fingerprint)


def store(user_id: int, key: str, method: str, path: str, request_fingerprint: str, status_code: int,
          headers: dict[str, str], body: bytes) -> None:
    """Keep the answer in the caller's unit of work, beside the change it reports."""
    db.session.add(IdempotencyRecord(
        user_id=user_id, key=key, method=method, path=path, fingerprint=request_fingerprint,
        status_code=status_code, headers={name: value for name, value in headers.items() if name in REPLAYED_HEADERS},
        body=body))
    db.session.flush()

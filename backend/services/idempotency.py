"""Idempotency keys: the first response to a POST is stored and replayed for retries with the same key and body.

A key is claimed before the request runs (a placeholder row), so a retry that arrives while the first attempt is
still being processed gets 409 instead of doing the work twice. Only successful (2xx) answers are kept; after a
failure the placeholder is dropped and a retry runs again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from backend.errors import Conflict, ValidationFailed
from backend.extensions import db
from backend.models import IdempotencyRecord
from backend.models.types import utcnow

MAX_KEY_LENGTH = 255
IN_PROGRESS = 0
# A placeholder older than this belongs to a request whose process died; it may be taken over.
STALE_PLACEHOLDER = timedelta(minutes=5)
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
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValidationFailed("Idempotency-Key 无效（1–255个字符）", code="invalid_idempotency_key")
    return key


def _find(user_id: int, key: str) -> IdempotencyRecord | None:
    return db.session.scalar(select(IdempotencyRecord).where(
        IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key))


def begin(user_id: int, key: str, method: str, path: str, request_fingerprint: str) -> StoredResponse | None:
    """Claim ``key`` for this request, or return the stored answer of an earlier identical request."""
    for _ in range(2):
        record = _find(user_id, key)
        now = utcnow()
        if record is not None:
            expired = record.created_at < now - current_app.config["IDEMPOTENCY_TTL"]
            stale = record.status_code == IN_PROGRESS and record.created_at < now - STALE_PLACEHOLDER
            if expired or stale:
                db.session.delete(record)
                db.session.commit()
            elif record.fingerprint != request_fingerprint:
                raise ValidationFailed("同一 Idempotency-Key 已用于另一个请求", code="idempotency_key_reused",
                                       details={"key": key})
            elif record.status_code == IN_PROGRESS:
                raise Conflict("相同的请求正在处理中，请稍后重试", code="idempotency_in_progress",
                               details={"key": key}, headers={"Retry-After": "1"})
            else:
                return StoredResponse(record.status_code, dict(record.headers), record.body)
        db.session.add(IdempotencyRecord(user_id=user_id, key=key, method=method, path=path,
                                         fingerprint=request_fingerprint, status_code=IN_PROGRESS,
                                         headers={}, body=b""))
        try:
            db.session.commit()
            return None
        except IntegrityError:
            db.session.rollback()  # another attempt claimed it a moment ago: look again
    raise Conflict("相同的请求正在处理中，请稍后重试", code="idempotency_in_progress", headers={"Retry-After": "1"})


def complete(user_id: int, key: str, status_code: int, headers: dict[str, str], body: bytes) -> None:
    record = _find(user_id, key)
    if record is None:
        return
    record.status_code = status_code
    record.headers = {name: value for name, value in headers.items() if name in REPLAYED_HEADERS}
    record.body = body
    db.session.commit()


def abandon(user_id: int, key: str) -> None:
    db.session.execute(delete(IdempotencyRecord).where(
        IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key,
        IdempotencyRecord.status_code == IN_PROGRESS))
    db.session.commit()

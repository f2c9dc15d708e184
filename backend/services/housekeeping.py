"""Periodic clean-up of records that have outlived their use: idempotency replies, login failures, revoked and
expired tokens, login sessions past their last token, finished rate-limit windows."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import delete

from backend.extensions import db
from backend.models import (IdempotencyRecord, LoginFailure, RateLimitCounter, RefreshToken, RevokedToken,
                            TokenFamily)
from backend.models.types import utcnow


def purge_expired() -> dict[str, int]:
    now = utcnow()
    return {
        "idempotency_records": db.session.execute(delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < now - current_app.config["IDEMPOTENCY_TTL"])).rowcount,
        "login_failures": db.session.execute(delete(LoginFailure).where(
            LoginFailure.created_at < now - current_app.config["LOGIN_WINDOW"])).rowcount,
        "revoked_tokens": db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now)).rowcount,
        # A refresh token past its expiry can no longer be presented, so there is no reuse left to detect.
        "refresh_tokens": db.session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now)).rowcount,
        "token_families": db.session.execute(delete(TokenFamily).where(TokenFamily.expires_at < now)).rowcount,
        "rate_limit_counters": db.session.execute(delete(RateLimitCounter).where(
            RateLimitCounter.window_end < now)).rowcount,
    }

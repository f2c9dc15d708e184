"""Logging in with throttling of repeated failures, issuing and revoking JWTs."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import delete, func, select

from backend.errors import Forbidden, TooManyRequests, Unauthorized
from backend.extensions import db
from backend.models import LoginFailure, RevokedToken, User
from backend.models.types import utcnow
from backend.services.passwords import hash_password, needs_rehash, verify_password

# A client address may try more usernames than one username may be tried, but not without limit.
ADDRESS_LIMIT_FACTOR = 4


def _throttle(username: str, remote_addr: str) -> None:
    window: timedelta = current_app.config["LOGIN_WINDOW"]
    limit: int = current_app.config["LOGIN_MAX_FAILURES"]
    since = utcnow() - window
    checks = ((LoginFailure.username == username, limit),
              (LoginFailure.remote_addr == remote_addr, limit * ADDRESS_LIMIT_FACTOR))
    for condition, allowed in checks:
        count, oldest = db.session.execute(
            select(func.count(), func.min(LoginFailure.created_at))
            .where(condition, LoginFailure.created_at >= since)).one()
        if count >= allowed:
            oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=timezone.utc)
            retry_after = max(1, int((oldest_at + window - utcnow()).total_seconds()) + 1)
            raise TooManyRequests("登录失败次数过多，请稍后再试", code="login_throttled",
                                  details={"retry_after": retry_after},
                                  headers={"Retry-After": str(retry_after)})


def _record_failure(username: str, remote_addr: str) -> None:
    db.session.add(LoginFailure(username=username, remote_addr=remote_addr))
    db.session.flush()


def authenticate(username: str, password: str, remote_addr: str) -> User:
    username = username.strip().lower()
    _throttle(username, remote_addr)
    user = db.session.scalar(select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password):
        raise Unauthorized("用户名或密码错误", code="invalid_credentials",
                           follow_up=functools.partial(_record_failure, username, remote_addr))
    assert user is not None
    if not user.is_active:
        raise Forbidden("账号已停用，请联系管理员", code="account_disabled")
    db.session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.flush()
    return user


def issue_tokens(user: User) -> dict[str, str]:
    claims = {"roles": list(user.roles)}
    return {"access_token": create_access_token(identity=str(user.id), additional_claims=claims),
            "refresh_token": create_refresh_token(identity=str(user.id), additional_claims=claims)}


def issue_access_token(user: User) -> str:
    return create_access_token(identity=str(user.id), additional_claims={"roles": list(user.roles)})


def revoke(payload: dict[str, Any]) -> None:
    jti = payload["jti"]
    if db.session.get(RevokedToken, jti) is None:
        db.session.add(RevokedToken(
            jti=jti, token_type=payload.get("type", "access"), user_id=int(payload["sub"]),
            expires_at=datetime.fromtimestamp(payload["exp"], timezone.utc)))
    db.session.flush()


def revoke_encoded(token: str, user: User) -> None:
    """Revoke a token the client passed along (a refresh token at logout); foreign or broken tokens are refused."""
    try:
        payload = decode_token(token, allow_expired=True)
    except Exception:
        raise Unauthorized("令牌无效", code="invalid_token") from None
    if payload.get("sub") != str(user.id):
        raise Forbidden("不能注销他人的令牌", code="foreign_token")
    revoke(payload)


def token_user(payload: dict[str, Any]) -> User | None:
    """The active user a decoded token speaks for; None if the token was revoked (logout, password change,
    disabled account) or its user is gone."""
    if db.session.get(RevokedToken, payload["jti"]) is not None:
        return None
    user = db.session.get(User, int(payload["sub"]))
    if user is None or not user.is_active:
        return None
    if payload.get("iat", 0) < int(user.tokens_valid_after.timestamp()):
        return None
    return user

"""Logging in, throttled per client so that nobody can lock another user out; login sessions as token families:
issuing JWTs, rotating refresh tokens (a reused one revokes its whole family) and revoking them."""

from __future__ import annotations

import functools
import math
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token
from sqlalchemy import and_, delete, func, select, update

from backend.errors import Forbidden, TooManyRequests, Unauthorized
from backend.extensions import db
from backend.models import LoginFailure, RefreshToken, RevokedToken, TokenFamily, User
from backend.models.types import utcnow
from backend.services.passwords import hash_password, needs_rehash, verify_password

# The first wait once a client is over its allowance; each further failure within the window doubles it, up to the
# window itself. Being a little over costs seconds (an office behind one address); guessing on costs minutes.
BACKOFF_FIRST_SECONDS = 1.0


# --- the login throttle ---------------------------------------------------------------------------------------

def backoff(failures: int, allowed: int, window: timedelta) -> timedelta | None:
    """How long a client waits after its latest failure, given its ``failures`` within the window; None below
    ``allowed``. 1 s at the allowance, then 2 s, 4 s, … never longer than the window."""
    if failures < allowed:
        return None
    doubling = min(failures - allowed, 40)  # 2**40 s is far past any window
    return min(window, timedelta(seconds=BACKOFF_FIRST_SECONDS * 2 ** doubling))


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _throttle(username: str, client: str) -> None:
    """Refuse (429) a client that must still wait: for this username from this client, or for this client at all.
    Failures of the same username from other clients do not count here, so the right password from a client
    that did not fail always gets through."""
    window: timedelta = current_app.config["LOGIN_WINDOW"]
    now = utcnow()
    checks = ((and_(LoginFailure.username == username, LoginFailure.remote_addr == client),
               current_app.config["LOGIN_MAX_FAILURES"]),
              (LoginFailure.remote_addr == client, current_app.config["LOGIN_CLIENT_MAX_FAILURES"]))
    retry_after = 0.0
    for condition, allowed in checks:
        failures, latest = db.session.execute(
            select(func.count(), func.max(LoginFailure.created_at))
            .where(condition, LoginFailure.created_at >= now - window)).one()
        wait = backoff(failures, allowed, window)
        if wait is not None:
            retry_after = max(retry_after, (_as_utc(latest) + wait - now).total_seconds())
    if retry_after > 0:
        seconds = max(1, math.ceil(retry_after))
        raise TooManyRequests("登录失败次数过多，请稍后再试", code="login_throttled",
                              details={"retry_after": seconds}, headers={"Retry-After": str(seconds)})


def _record_failure(username: str, client: str) -> None:
    db.session.add(LoginFailure(username=username, remote_addr=client))
    db.session.flush()


def authenticate(username: str, password: str, client: str) -> User:
    """The user, if the password is right and ``client`` need not wait. An unknown username costs the same
    password verification as a known one (against a dummy hash), so the time taken tells nothing."""
    username = username.strip().lower()
    _throttle(username, client)
    user = db.session.scalar(select(User).where(User.username == username))
    if not verify_password(user.password_hash if user else None, password):
        raise Unauthorized("用户名或密码错误", code="invalid_credentials",
                           follow_up=functools.partial(_record_failure, username, client))
    assert user is not None
    if not user.is_active:
        raise Forbidden("账号已停用，请联系管理员", code="account_disabled")
    # This client got it right: its own failures for this username are forgiven (other clients' stay).
    db.session.execute(delete(LoginFailure).where(LoginFailure.username == username,
                                                  LoginFailure.remote_addr == client))
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    db.session.flush()
    return user


# --- login sessions: token families ---------------------------------------------------------------------------

def _issue_in(family: TokenFamily, user: User) -> dict[str, str]:
    """A new access token and a new refresh token of ``family``, both carrying the user's token version."""
    now = utcnow()
    jti = str(uuid.uuid4())
    claims = {"roles": list(user.roles), "ver": user.token_version, "fam": family.id}
    refresh_expires = now + current_app.config["JWT_REFRESH_TOKEN_EXPIRES"]
    db.session.add(RefreshToken(jti=jti, family_id=family.id, issued_at=now, expires_at=refresh_expires))
    family.expires_at = max(family.expires_at, refresh_expires,
                            now + current_app.config["JWT_ACCESS_TOKEN_EXPIRES"])
    db.session.flush()
    return {"access_token": create_access_token(identity=str(user.id), additional_claims=claims),
            "refresh_token": create_refresh_token(identity=str(user.id), additional_claims={**claims, "jti": jti})}


def issue_tokens(user: User) -> dict[str, str]:
    """Open a login session (a new token family) and return its first access and refresh tokens."""
    now = utcnow()
    family = TokenFamily(id=uuid.uuid4().hex, user_id=user.id, created_at=now, expires_at=now)
    db.session.add(family)
    db.session.flush()
    return _issue_in(family, user)


def _revoke_family(family_id: str, reason: str) -> None:
    db.session.execute(update(TokenFamily)
                       .where(TokenFamily.id == family_id, TokenFamily.revoked_at.is_(None))
                       .values(revoked_at=utcnow(), revoked_reason=reason)
                       .execution_options(synchronize_session=False))
    db.session.flush()


def rotate(payload: dict[str, Any], user: User) -> dict[str, str]:
    """Exchange a refresh token, once, for a new pair in the same family.

    The token is marked used by a conditional UPDATE, so of two requests with the same token exactly one wins.
    Any other presentation of a used token — a replay by whoever copied it, or the loser of that race — revokes
    the whole family (RFC 9700 reuse detection): 401 ``refresh_token_reused``, and every token of that login,
    the winner's new ones included, stops working; the user logs in again.
    """
    family_id = payload["fam"]
    marked = db.session.execute(
        update(RefreshToken)
        .where(RefreshToken.jti == payload["jti"], RefreshToken.family_id == family_id,
               RefreshToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)).rowcount
    if marked != 1:
        raise Unauthorized("刷新令牌已使用过：为安全起见，本次登录的全部令牌均已注销，请重新登录",
                           code="refresh_token_reused",
                           follow_up=functools.partial(_revoke_family, family_id, "reuse"))
    family = db.session.get(TokenFamily, family_id)
    assert family is not None  # token_user saw it a moment ago; families are deleted only after they expire
    return _issue_in(family, user)


def revoke(payload: dict[str, Any]) -> None:
    """End the session a decoded token belongs to: its whole family, or for a token from before token families,
    that token alone."""
    if payload.get("fam"):
        _revoke_family(payload["fam"], "logout")
        return
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
    """The active user a decoded token speaks for; None if the token was revoked (logout, reuse of a refresh
    token), was issued under an older token version (password reset, disabling, a change of roles), or its user is
    gone."""
    family_id = payload.get("fam")
    # the user and their login session in one statement: every authenticated request asks this first
    row = db.session.execute(
        select(User, TokenFamily)
        .outerjoin(TokenFamily, and_(TokenFamily.id == family_id, TokenFamily.user_id == User.id))
        .where(User.id == int(payload["sub"]))).first()
    if row is None:
        return None
    user, family = row
    if not user.is_active or payload.get("ver", 0) != user.token_version:
        return None
    if family_id is None:
        # Issued before login sessions were families (or by a tool): an access token lives out its minutes unless
        # revoked one by one; a refresh token can no longer be rotated, so it is refused.
        if payload.get("type") == "refresh" or db.session.get(RevokedToken, payload["jti"]) is not None:
            return None
        return user
    if family is None or family.revoked_at is not None:
        return None
    return user

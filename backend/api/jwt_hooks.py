"""flask-jwt-extended callbacks: user lookup, revocation check, and JSON errors for token problems."""

from __future__ import annotations

from typing import Any

from flask import g
from flask_jwt_extended import JWTManager
from jwt import ExpiredSignatureError

from backend.api.errors import error_response
from backend.models import User
from backend.models.types import utcnow
from backend.services import auth as auth_service


def _check_expiry(header: dict[str, Any], payload: dict[str, Any]) -> None:
    """PyJWT checks ``exp`` against the system clock; the app's own clock (backend.clock) has the last word too,
    so that token lifetimes follow the same "now" as every other expiry in the app (the same in production)."""
    if "exp" in payload and payload["exp"] <= utcnow().timestamp():
        error = ExpiredSignatureError("Signature has expired")
        error.jwt_header, error.jwt_data = header, payload  # type: ignore[attr-defined]  # what the handler reads
        raise error


def init_jwt(jwt: JWTManager) -> None:
    def token_user(header: dict[str, Any], payload: dict[str, Any]) -> User | None:
        """Checked once per request: the revocation check and the user lookup below share the answer (and the
        user object, which the session would otherwise forget and load a second time)."""
        _check_expiry(header, payload)
        cached = g.get("_liufang_token_user")
        if cached is None or cached[0] != payload["jti"]:
            cached = (payload["jti"], auth_service.token_user(payload))
            g._liufang_token_user = cached
        return cached[1]

    @jwt.token_in_blocklist_loader
    def token_revoked(header: dict[str, Any], payload: dict[str, Any]) -> bool:
        return token_user(header, payload) is None

    @jwt.user_lookup_loader
    def load_user(header: dict[str, Any], payload: dict[str, Any]) -> User | None:
        return token_user(header, payload)

    @jwt.unauthorized_loader
    def missing_token(reason: str):  # type: ignore[no-untyped-def]
        if "CSRF" in reason:  # a cookie session's change without (or with a stale) X-CSRF-TOKEN
            return error_response(401, "csrf_failed", "请求缺少有效的 CSRF 令牌，请刷新页面后重试",
                                  {"reason": reason})
        return error_response(401, "unauthorized", "需要登录", {"reason": reason})

    @jwt.invalid_token_loader
    def invalid_token(reason: str):  # type: ignore[no-untyped-def]
        return error_response(401, "invalid_token", "令牌无效", {"reason": reason})

    @jwt.expired_token_loader
    def expired_token(_header, _payload):  # type: ignore[no-untyped-def]
        return error_response(401, "token_expired", "登录已过期，请刷新令牌或重新登录")

    @jwt.revoked_token_loader
    def revoked_token(_header, _payload):  # type: ignore[no-untyped-def]
        return error_response(401, "token_revoked", "令牌已注销，请重新登录")

    @jwt.user_lookup_error_loader
    def user_gone(_header, _payload):  # type: ignore[no-untyped-def]
        return error_response(401, "user_inactive", "账号不存在或已停用")

    @jwt.needs_fresh_token_loader
    def needs_fresh(_header, _payload):  # type: ignore[no-untyped-def]
        return error_response(401, "fresh_token_required", "请重新登录后再试")

    @jwt.token_verification_failed_loader
    def verification_failed(_header, _payload):  # type: ignore[no-untyped-def]
        return error_response(401, "invalid_token", "令牌无效")

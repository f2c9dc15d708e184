"""Authentication endpoints: login, token refresh, logout (revocation), the current user, and the browser console's
cookie session (HttpOnly cookies with a CSRF double submit)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, jsonify, request
from flask_jwt_extended import current_user, get_csrf_token, get_jwt
from flask_smorest import Blueprint

from backend.api.base import client_address, login_required
from backend.models import User
from backend.schemas.users import LoginSchema, LogoutSchema, MeSchema, SessionSchema, TokensSchema
from backend.services import auth as auth_service

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录与令牌 / Login and tokens")


def _expires_in() -> int:
    return int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())


@blp.route("/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(429, description="This client failed too often (for this username, or at all); see Retry-After")
@blp.doc(security=[])
def login(credentials: dict[str, Any]) -> dict[str, Any]:
    """Log in with username and password; returns an access token and a refresh token (a new login session)."""
    user = auth_service.authenticate(credentials["username"], credentials["password"], client_address())
    return {**auth_service.issue_tokens(user), "user": user, "token_type": "Bearer", "expires_in": _expires_in()}


@blp.route("/refresh", methods=["POST"])
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="refresh_token_reused: this refresh token was exchanged before, so every token "
                                   "of its login is now revoked (log in again); token_revoked, token_expired …")
@blp.doc(description="Send the refresh token as the bearer token; returns a new access token and a NEW refresh "
                     "token. Each refresh token works once: keep the new one, the old one is spent.")
@login_required(refresh=True)
def refresh() -> dict[str, Any]:
    """Exchange a refresh token, once, for a new access token and a new refresh token."""
    return {**auth_service.rotate(get_jwt(), current_user), "user": current_user,
            "token_type": "Bearer", "expires_in": _expires_in()}


@blp.route("/logout", methods=["POST"])
@blp.arguments(LogoutSchema(), required=False)
@blp.response(204)
@login_required()
def logout(body: dict[str, Any] | None) -> None:
    """End this login session: the token used for this request and every refresh token of its login (and the
    session of the refresh token given in the body, if any)."""
    auth_service.revoke(get_jwt())
    if body and body.get("refresh_token"):
        auth_service.revoke_encoded(body["refresh_token"], current_user)


@blp.route("/me", methods=["GET"])
@blp.response(200, MeSchema)
@login_required()
def me() -> Any:
    """The logged-in user, with the permissions their roles hold."""
    return current_user


# --- the console's cookie session ---------------------------------------------------------------------------------

_session_schema = SessionSchema()
# (token key, cookie name setting, cookie path setting, CSRF cookie name setting, CSRF cookie path setting)
_COOKIES = (("access_token", "JWT_ACCESS_COOKIE_NAME", "JWT_ACCESS_COOKIE_PATH",
             "JWT_ACCESS_CSRF_COOKIE_NAME", "JWT_ACCESS_CSRF_COOKIE_PATH"),
            ("refresh_token", "JWT_REFRESH_COOKIE_NAME", "JWT_REFRESH_COOKIE_PATH",
             "JWT_REFRESH_CSRF_COOKIE_NAME", "JWT_REFRESH_CSRF_COOKIE_PATH"))


def _secure() -> bool:
    setting = current_app.config.get("COOKIE_SECURE", "auto")
    return request.is_secure if setting == "auto" else bool(setting)


def _session_answer(user: User | None, tokens: dict[str, str] | None) -> Response:
    """The session's user (no token in the body); with ``tokens``, the cookies that carry them: the token itself
    HttpOnly, its CSRF value readable by the console's scripts, which send it back as X-CSRF-TOKEN. Both are
    session cookies (gone when the browser closes) and SameSite=Strict; without ``tokens``, all four are cleared."""
    if tokens is None:
        response = Response(status=204)
    else:
        response = jsonify(_session_schema.dump({"user": user, "expires_in": _expires_in()}))
    config, secure = current_app.config, _secure()
    for key, name, path, csrf_name, csrf_path in _COOKIES:
        for cookie, cookie_path, httponly in ((config[name], config[path], True),
                                              (config[csrf_name], config[csrf_path], False)):
            if tokens is None:
                response.delete_cookie(cookie, path=cookie_path, secure=secure, httponly=httponly,
                                       samesite=config["JWT_COOKIE_SAMESITE"])
                continue
            value = tokens[key] if httponly else get_csrf_token(tokens[key])
            response.set_cookie(cookie, value, path=cookie_path, secure=secure, httponly=httponly,
                                samesite=config["JWT_COOKIE_SAMESITE"])
    return response


@blp.route("/session", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, SessionSchema, description="Logged in: the tokens are in HttpOnly cookies, not in the body")
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(429, description="This client failed too often (for this username, or at all); see Retry-After")
@blp.doc(security=[])
def open_session(credentials: dict[str, Any]) -> Response:
    """Log in for the browser console: a new login session whose tokens go into HttpOnly, SameSite=Strict cookies
    (the refresh token's only to /api/v1/auth/session). Every change then sends X-CSRF-TOKEN with the value of
    the readable csrf_access_token cookie (csrf_refresh_token for /auth/session/refresh and DELETE /auth/session)."""
    user = auth_service.authenticate(credentials["username"], credentials["password"], client_address())
    return _session_answer(user, auth_service.issue_tokens(user))


@blp.route("/session/refresh", methods=["POST"])
@blp.response(200, SessionSchema, description="New cookies; the refresh cookie sent is spent")
@blp.alt_response(401, description="refresh_token_reused (the whole login is revoked), token_revoked, …")
@blp.doc(security=[])
@login_required(refresh=True)
def refresh_session() -> Response:
    """Exchange the refresh cookie, once, for new cookies (the same rotation and reuse detection as /auth/refresh)."""
    return _session_answer(current_user, auth_service.rotate(get_jwt(), current_user))


@blp.route("/session", methods=["DELETE"])
@blp.response(204, description="Logged out: the login session is revoked and its cookies cleared")
@blp.doc(security=[])
@login_required(refresh=True)
def close_session() -> Response:
    """Log out of the console: revoke this login session (every token of it) and clear its cookies."""
    auth_service.revoke(get_jwt())
    return _session_answer(None, None)

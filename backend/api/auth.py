"""Authentication endpoints: login, token refresh, logout (revocation) and the current user."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_jwt_extended import current_user, get_jwt
from flask_smorest import Blueprint

from backend.api.base import client_address, login_required
from backend.schemas.users import LoginSchema, LogoutSchema, TokensSchema, UserSchema
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
@blp.response(200, UserSchema)
@login_required()
def me() -> Any:
    """The logged-in user."""
    return current_user

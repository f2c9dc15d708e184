"""Authentication endpoints: login, token refresh, logout (revocation) and the current user."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from flask_jwt_extended import current_user, get_jwt
from flask_smorest import Blueprint

from backend.api.base import login_required
from backend.schemas.users import LoginSchema, LogoutSchema, TokensSchema, UserSchema
from backend.services import auth as auth_service

blp = Blueprint("auth", __name__, url_prefix="/api/v1/auth", description="登录与令牌 / Login and tokens")


def _expires_in() -> int:
    return int(current_app.config["JWT_ACCESS_TOKEN_EXPIRES"].total_seconds())


@blp.route("/login", methods=["POST"])
@blp.arguments(LoginSchema)
@blp.response(200, TokensSchema)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(429, description="Too many failed logins; see Retry-After")
@blp.doc(security=[])
def login(credentials: dict[str, Any]) -> dict[str, Any]:
    """Log in with username and password; returns an access token and a refresh token."""
    user = auth_service.authenticate(credentials["username"], credentials["password"],
                                     request.remote_addr or "")
    return {**auth_service.issue_tokens(user), "user": user, "token_type": "Bearer", "expires_in": _expires_in()}


@blp.route("/refresh", methods=["POST"])
@blp.response(200, TokensSchema)
@blp.doc(description="Send the refresh token as the bearer token; returns a new access token.")
@login_required(refresh=True)
def refresh() -> dict[str, Any]:
    """Exchange a refresh token for a new access token."""
    return {"access_token": auth_service.issue_access_token(current_user), "user": current_user,
            "token_type": "Bearer", "expires_in": _expires_in()}


@blp.route("/logout", methods=["POST"])
@blp.arguments(LogoutSchema(), required=False)
@blp.response(204)
@login_required()
def logout(body: dict[str, Any] | None) -> None:
    """Revoke the token used for this request (and the refresh token, if given)."""
    auth_service.revoke(get_jwt())
    if body and body.get("refresh_token"):
        auth_service.revoke_encoded(body["refresh_token"], current_user)


@blp.route("/me", methods=["GET"])
@blp.response(200, UserSchema)
@login_required()
def me() -> Any:
    """The logged-in user."""
    return current_user

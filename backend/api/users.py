"""User administration endpoints (admin only)."""

from __future__ import annotations

from typing import Any

from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from backend.services.policy import Permission
from backend.api.base import login_required
from backend.schemas.users import UserCreateSchema, UserListArgsSchema, UserPageSchema, UserSchema, UserUpdateSchema
from backend.services import users as user_service

blp = Blueprint("users", __name__, url_prefix="/api/v1/users", description="用户管理 / User administration")


@blp.route("", methods=["GET"])
@blp.arguments(UserListArgsSchema, location="query")
@blp.response(200, UserPageSchema)
@login_required(Permission.USER_MANAGE)
def list_users(args: dict[str, Any]) -> Any:
    """List accounts (filter by role, active, q)."""
    return user_service.list_users(role=args.get("role"), active=args.get("active"), q=args.get("q"),
                                   page=args["page"], per_page=args["per_page"])


@blp.route("", methods=["POST"])
@blp.arguments(UserCreateSchema)
@blp.response(201, UserSchema)
@blp.alt_response(409, description="Username taken")
@login_required(Permission.USER_MANAGE)
def create_user(data: dict[str, Any]) -> Any:
    """Create an account with one or more roles."""
    return user_service.create_user(current_user, **data)


@blp.route("/<int:user_id>", methods=["GET"])
@blp.response(200, UserSchema)
@login_required(Permission.USER_MANAGE)
def get_user(user_id: int) -> Any:
    """One account."""
    return user_service.get_user(user_id)


@blp.route("/<int:user_id>", methods=["PATCH"])
@blp.arguments(UserUpdateSchema)
@blp.response(200, UserSchema)
@login_required(Permission.USER_MANAGE)
def update_user(data: dict[str, Any], user_id: int) -> Any:
    """Change display name or roles, disable or enable, or reset the password."""
    return user_service.update_user(current_user, user_id, **data)

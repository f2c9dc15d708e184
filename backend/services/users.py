"""Accounts: creating users, changing roles, disabling, password resets, and the first admin."""

from __future__ import annotations

import re
import secrets
from typing import Iterable

from sqlalchemy import String, cast, select

from backend.errors import Conflict, NotFound, ValidationFailed
from backend.extensions import db
from backend.models import ROLES, Role, User
from backend.models.types import utcnow
from backend.services import audit, policy
from backend.services.pagination import Page, paginate
from backend.services.policy import Permission
from backend.services.passwords import MIN_PASSWORD_LENGTH, hash_password

_USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.\-]{1,63}$")


def _check_username(username: str) -> str:
    name = username.strip().lower()
    if not _USERNAME_RE.match(name):
        raise ValidationFailed("用户名须为2–64位小写字母、数字、点、下划线或连字符",
                               code="invalid_username", details={"fields": {"username": ["invalid"]}})
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"密码至少{MIN_PASSWORD_LENGTH}位", code="weak_password",
                               details={"fields": {"password": [f"at least {MIN_PASSWORD_LENGTH} characters"]}})


def _check_roles(roles: Iterable[str]) -> list[str]:
    roles = list(dict.fromkeys(roles))
    unknown = [role for role in roles if role not in ROLES]
    if unknown or not roles:
        raise ValidationFailed("角色无效", code="invalid_roles",
                               details={"fields": {"roles": [f"choose from {', '.join(ROLES)}"]}, "unknown": unknown})
    return roles


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("用户不存在", code="user_not_found")
    return user


def create_user(actor: User | None, *, username: str, password: str, roles: Iterable[str],
                display_name: str = "") -> User:
    name = _check_username(username)
    _check_password(password)
    role_list = _check_roles(roles)
    if db.session.scalar(select(User.id).where(User.username == name)) is not None:
        raise Conflict("用户名已存在", code="username_taken", details={"username": name})
    user = User(username=name, password_hash=hash_password(password), roles=role_list,
                display_name=display_name or name)
    db.session.add(user)
    db.session.flush()
    audit.record("user", user.id, "create", actor,
                 changes={"username": {"before": None, "after": name}, "roles": {"before": None, "after": role_list}})
    db.session.flush()
    return user


def _active_admin_count() -> int:
    return sum(1 for user in db.session.scalars(select(User).where(User.is_active.is_(True)))
               if policy.can(user, Permission.USER_MANAGE))


def update_user(actor: User, user_id: int, *, display_name: str | None = None, roles: list[str] | None = None,
                is_active: bool | None = None, password: str | None = None) -> User:
    user = get_user(user_id)
    before = {"display_name": user.display_name, "roles": list(user.roles), "is_active": user.is_active}
    if display_name is not None:
        user.display_name = display_name
    if roles is not None:
        user.roles = _check_roles(roles)
    if is_active is not None:
        user.is_active = is_active
    if user.id == actor.id and (not user.is_active or not policy.can(user, Permission.USER_MANAGE)):
        raise Conflict("不能停用自己或取消自己的管理员角色", code="cannot_demote_self")
    if before["roles"] != user.roles or before["is_active"] != user.is_active:
        db.session.flush()
        if _active_admin_count() == 0:
            raise Conflict("系统至少需要一名启用的管理员", code="last_admin")
    changes = audit.diff(before, {"display_name": user.display_name, "roles": list(user.roles),
                                  "is_active": user.is_active})
    if password is not None:
        _check_password(password)
        user.password_hash = hash_password(password)
        changes["password"] = {"before": "***", "after": "***"}
    if password is not None or (before["is_active"] and not user.is_active) or before["roles"] != user.roles:
        # Sessions opened with the old password, before disabling or under the old roles end now: every token
        # issued before carries the old version, however close in time it was issued.
        user.token_version += 1
        user.tokens_valid_after = utcnow()
    if changes:
        audit.record("user", user.id, "update", actor, changes=changes)
    db.session.flush()
    return user


def list_users(*, role: str | None, active: bool | None, q: str | None, page: int, per_page: int) -> Page[User]:
    query = select(User).order_by(User.username)
    if active is not None:
        query = query.where(User.is_active.is_(active))
    if q:
        like = f"%{q.lower()}%"
        query = query.where(User.username.like(like) | User.display_name.like(f"%{q}%"))
    if role:
        # Roles are a short JSON list; filter in SQL by text match (role names never contain one another).
        query = query.where(cast(User.roles, String).like(f'%"{role}"%'))
    return paginate(query, page, per_page)


def ensure_admin() -> tuple[User, str] | None:
    """Create ``admin`` with a random password if no active admin exists; return it and the password once."""
    if _active_admin_count() > 0:
        return None
    username = "admin"
    suffix = 1
    while db.session.scalar(select(User.id).where(User.username == username)) is not None:
        suffix += 1
        username = f"admin{suffix}"
    password = secrets.token_urlsafe(12)
    user = create_user(None, username=username, password=password, roles=[Role.ADMIN.value], display_name="管理员")
    return user, password

"""API plumbing shared by the blueprints: role checks, the client address, accepted body types, ETags and If-Match."""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

from flask import Flask, Response, jsonify, request
from flask_jwt_extended import current_user, verify_jwt_in_request

from backend.errors import Forbidden, PreconditionFailed, UnsupportedMediaType
from backend.models import ROLES
from backend.services import policy
from backend.services.policy import Permission

JSON_BODY_METHODS = ("POST", "PUT", "PATCH")


# --- authorisation ---------------------------------------------------------------------------------------------

def login_required(permission: Permission | None = None, *, refresh: bool = False
                   ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a valid, unrevoked token of an active user holding a role; with ``permission``, one of the roles
    that hold it (else 403)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request(refresh=refresh)
            allowed = policy.can(current_user, permission) if permission else bool(policy.roles_of(current_user))
            if not allowed:
                raise Forbidden("您的角色无权访问", code="role_required",
                                details={"permission": permission.value if permission else None,
                                         "roles": policy.roles_with(permission) if permission else list(ROLES)})
            return view(*args, **kwargs)

        wrapper._liufang_permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorator


# --- the client ------------------------------------------------------------------------------------------------

def client_address() -> str:
    """The client's address as the throttles count it: the TCP peer, or behind LIUFANG_TRUSTED_PROXIES the address
    the nearest trusted proxy reports (ProxyFix, wired in the app factory); never longer than a stored key."""
    return (request.remote_addr or "unknown")[:64]


# --- body types -----------------------------------------------------------------------------------------------

def accepts_body(*mimetypes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view as taking bodies other than JSON (tus chunks, multipart forms)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        view._liufang_body_types = mimetypes  # type: ignore[attr-defined]
        return view

    return decorator


def _check_body_type(app: Flask) -> None:
    if request.method not in JSON_BODY_METHODS or not request.path.startswith("/api/"):
        return
    has_body = (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding") == "chunked"
    if not has_body:
        return
    view = app.view_functions.get(request.endpoint or "")
    allowed: Iterable[str] = getattr(view, "_liufang_body_types", ("application/json",))
    if request.mimetype not in allowed:
        raise UnsupportedMediaType(f"请求体须为 {', '.join(allowed)}", code="unsupported_media_type",
                                   details={"content_type": request.mimetype, "accepted": list(allowed)})


# --- ETag / If-Match -------------------------------------------------------------------------------------------

def etag_for(version: int) -> str:
    return f'"{version}"'


def versioned_json(data: Any, version: int, status: int = 200) -> Response:
    """A JSON answer about a versioned record, with its version as the ETag (clients send it back in If-Match)."""
    response = jsonify(data)
    response.status_code = status
    response.headers["ETag"] = etag_for(version)
    return response


def if_match_doc(blp: Any, *, exemption: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """OpenAPI for a conditional change: the If-Match header and its 412 / 428 answers."""
    note = "The ETag from GET. Missing: 428 if_match_required; stale: 412 version_conflict."
    parameter = {"in": "header", "name": "If-Match", "required": exemption is None, "schema": {"type": "string"},
                 "description": note + (f" Not needed for {exemption}." if exemption else "")}

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        view = blp.alt_response(428, description="If-Match missing: send the ETag you read")(view)
        view = blp.alt_response(412, description="If-Match names an old version: someone else's change came first; "
                                                 "details.current_version is the one that won")(view)
        return blp.doc(parameters=[parameter])(view)

    return decorator


def expected_version() -> int | None:
    """The version named by ``If-Match`` (``"3"``, ``W/"3"``), or None when the header is absent."""
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return None
    tag = header.split(",")[0].strip().removeprefix("W/").strip('"')
    try:
        return int(tag)
    except ValueError:
        raise PreconditionFailed("If-Match 的值无效", code="invalid_if_match", details={"if_match": header}) from None


# --- Idempotency-Key (replayed by the request boundary, backend/api/unit_of_work.py) ----------------------------

def skip_idempotency(view: Callable[..., Any]) -> Callable[..., Any]:
    """Views with their own retry semantics (tus) or streamed bodies do not replay by Idempotency-Key."""
    view._liufang_skip_idempotency = True  # type: ignore[attr-defined]
    return view


def init_request_hooks(app: Flask) -> None:
    app.before_request(lambda: _check_body_type(app))

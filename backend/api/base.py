"""API plumbing shared by the blueprints: role checks (before any argument parsing), the client address, path
ids that fit the database, the JSON body checks, accepted body types, ETags and If-Match."""

from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

from flask import Flask, Response, g, jsonify, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from werkzeug.routing import IntegerConverter

from backend.api import json_body
from backend.errors import Forbidden, PreconditionFailed, UnsupportedMediaType
from backend.models import ROLES
from backend.services import crosswalks, policy
from backend.services.policy import Permission
from backend.services.text import INT64_MAX, parse_int64

JSON_BODY_METHODS = ("POST", "PUT", "PATCH")
_AUTHORISED = "liufang.authorised"  # in the WSGI environ: what this request has already been checked for


# --- path ids -----------------------------------------------------------------------------------------------------

def _at_most(limit: int) -> str:
    """A regular expression for the decimal numbers 0 … ``limit`` (ASCII digits, leading zeros allowed)."""
    digits = str(limit)
    parts = [f"[0-9]{{1,{len(digits) - 1}}}"]
    for i, digit in enumerate(digits):
        if digit != "0":
            parts.append(f"{digits[:i]}[0-{int(digit) - 1}][0-9]{{{len(digits) - 1 - i}}}")
    parts.append(digits)
    return "(?:" + "|".join(parts) + ")"


class Int64Converter(IntegerConverter):
    """``<int:...>`` in every route: ASCII digits and at most 2^63 - 1, the largest id the database holds, so a
    larger number (or one written in other scripts' digits) is simply no such resource: 404. The bound is in
    the pattern itself: a number that matched and then failed the conversion would answer 405 where another
    method of the same path exists."""

    regex = _at_most(INT64_MAX)

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = INT64_MAX,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def use_int64_ids(app: Flask) -> None:
    """Make ``<int:...>`` the 64-bit converter (before any blueprint adds its routes). The OpenAPI document states
    the bound, since flask-smorest documents a subclass of IntegerConverter with its ``max``."""
    app.url_map.converters["int"] = Int64Converter


# --- authorisation ---------------------------------------------------------------------------------------------

def _authorise(permission: Permission | None, refresh: bool) -> None:
    if request.environ.get(_AUTHORISED) == (permission, refresh):
        return
    verify_jwt_in_request(refresh=refresh)
    allowed = policy.can(current_user, permission) if permission else bool(policy.roles_of(current_user))
    if not allowed:
        raise Forbidden("您的角色无权访问", code="role_required",
                        details={"permission": permission.value if permission else None,
                                 "roles": policy.roles_with(permission) if permission else list(ROLES)})
    request.environ[_AUTHORISED] = (permission, refresh)


def login_required(permission: Permission | None = None, *, refresh: bool = False
                   ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a valid, unrevoked token of an active user holding a role; with ``permission``, one of the roles
    that hold it (else 403).

    The check runs before the request's arguments are parsed (``authenticate_first``, whatever the order of the
    decorators), so an anonymous caller hears 401 and not what was wrong with the body it sent; it runs again
    here only if that hook did not run (a view called some other way)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _authorise(permission, refresh)
            return view(*args, **kwargs)

        wrapper._liufang_permission = permission  # type: ignore[attr-defined]
        wrapper._liufang_login = (permission, refresh)  # type: ignore[attr-defined]
        return wrapper

    return decorator


# --- the client ------------------------------------------------------------------------------------------------

def client_address() -> str:
    """The client's address as the throttles count it: the TCP peer, or behind LIUFANG_TRUSTED_PROXIES the address
    the nearest trusted proxy reports (ProxyFix, wired in the app factory); never longer than a stored key."""
    return (request.remote_addr or "unknown")[:64]


def _login_requirement(view: Any, method: str) -> tuple[Permission | None, bool] | None:
    """What ``login_required`` asks of this view (``functools.wraps`` carries the mark out through flask-smorest's
    decorators), or of the method of a class-based view; None for a view without a login."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        if handler is None and method == "HEAD":
            handler = getattr(view_class, "get", None)
        return getattr(handler, "_liufang_login", None)
    return getattr(view, "_liufang_login", None)


def authenticate_first(app: Flask) -> None:
    """Before anything looks at the body or the query string: 401 without a valid token, 403 without the role."""
    if request.method == "OPTIONS":  # CORS preflight and tus discovery never carry a token
        return
    requirement = _login_requirement(app.view_functions.get(request.endpoint or ""), request.method)
    if requirement is not None:
        _authorise(*requirement)


# --- body types -----------------------------------------------------------------------------------------------

def accepts_body(*mimetypes: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a view as taking bodies other than JSON (tus chunks, multipart forms)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        view._liufang_body_types = mimetypes  # type: ignore[attr-defined]
        return view

    return decorator


def _has_body() -> bool:
    return (request.content_length or 0) > 0 or request.headers.get("Transfer-Encoding") == "chunked"


def _check_body_type(app: Flask) -> None:
    if request.method not in JSON_BODY_METHODS or not request.path.startswith("/api/") or not _has_body():
        return
    view = app.view_functions.get(request.endpoint or "")
    allowed: Iterable[str] = getattr(view, "_liufang_body_types", ("application/json",))
    if request.mimetype not in allowed:
        raise UnsupportedMediaType(f"请求体须为 {', '.join(allowed)}", code="unsupported_media_type",
                                   details={"content_type": request.mimetype, "accepted": list(allowed)})
    if request.mimetype == "application/json":
        json_body.check(request.get_data(cache=True))


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
    version = parse_int64(tag)
    if version is None:
        raise PreconditionFailed("If-Match 的值无效", code="invalid_if_match", details={"if_match": header[:100]})
    return version


# --- Idempotency-Key (replayed by the request boundary, backend/api/unit_of_work.py) ----------------------------

def skip_idempotency(view: Callable[..., Any]) -> Callable[..., Any]:
    """Views with their own retry semantics (tus) or streamed bodies do not replay by Idempotency-Key."""
    view._liufang_skip_idempotency = True  # type: ignore[attr-defined]
    return view


def init_request_hooks(app: Flask) -> None:
    """In this order, before any view or argument parsing: where the request was sent (for record links), who is
    asking, then what kind of body they sent."""
    app.before_request(_note_request_root)
    app.before_request(lambda: authenticate_first(app))
    app.before_request(lambda: _check_body_type(app))
    app.teardown_request(_forget_request_root)


def _note_request_root() -> None:
    """Record links (EAC-CPF, Dublin Core, OAI-PMH) point at the host asked when LIUFANG_PUBLIC_URL is not set."""
    g.liufang_request_root = crosswalks.serve_request_at(request.url_root)


def _forget_request_root(_error: BaseException | None = None) -> None:
    token = g.pop("liufang_request_root", None)
    if token is not None:
        crosswalks.served(token)

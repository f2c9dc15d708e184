"""API plumbing: the flask-smorest Api with JSON errors, role checks, ETags and Idempotency-Key replay."""

from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Iterable

from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import current_user, verify_jwt_in_request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from backend.schemas.common import ErrorSchema
from backend.errors import Forbidden, LiufangError, PreconditionFailed, UnsupportedMediaType

log = logging.getLogger(__name__)

HTTP_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求格式错误"),
    401: ("unauthorized", "需要登录，或登录已失效"),
    403: ("forbidden", "无权执行此操作"),
    404: ("not_found", "资源不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    409: ("conflict", "操作与当前状态冲突"),
    412: ("precondition_failed", "前提条件不满足"),
    413: ("payload_too_large", "提交的内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_error", "提交的数据无效"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误，请稍后再试"),
}
JSON_BODY_METHODS = ("POST", "PUT", "PATCH")


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    from flask import jsonify

    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _rollback() -> None:
    from backend.extensions import db

    try:
        db.session.rollback()
    except Exception:  # pragma: no cover - the session may already be gone
        log.exception("rollback failed")


def _validation_details(data: dict[str, Any]) -> dict[str, Any]:
    messages = data.get("messages") or {}
    fields: dict[str, Any] = {}
    for location, location_messages in messages.items():
        if isinstance(location_messages, dict):
            fields.update(location_messages)
        else:
            fields.setdefault("_" + location, location_messages)
    return {"fields": fields, "locations": sorted(messages)}


class LiufangApi(Api):
    """flask-smorest's Api, answering every error as ``{"error": {"code", "message", "details"}}``."""

    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        _rollback()
        status = error.code or 500
        code, message = HTTP_DEFAULTS.get(status, (f"http_{status}", error.name))
        data = getattr(error, "data", None) or {}
        details: dict[str, Any] = {}
        if status == 422 and "messages" in data:
            details = _validation_details(data)
        elif status == 400 and "messages" in data:
            if "Invalid JSON body." in str(data["messages"]):
                code, message = "invalid_json", "请求体不是有效的 JSON"
            details = _validation_details(data)
        elif data.get("message"):
            message = data["message"]
        headers = {}
        if status == 405 and getattr(error, "valid_methods", None):
            headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[union-attr]
        return error_response(status, code, message, details, headers)

    def _register_error_handlers(self) -> None:
        super()._register_error_handlers()
        self._app.register_error_handler(LiufangError, handle_domain_error)
        self._app.register_error_handler(Exception, handle_unexpected_error)


def handle_domain_error(error: LiufangError) -> Response:
    _rollback()
    return error_response(error.status, error.code, error.message, error.details, error.headers)


def handle_unexpected_error(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].handle_http_exception(error)
    _rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, *HTTP_DEFAULTS[500])


# --- authorisation ---------------------------------------------------------------------------------------------

def login_required(*roles: str, refresh: bool = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a valid, unrevoked token of an active user; with ``roles``, require one of them (else 403)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            verify_jwt_in_request(refresh=refresh)
            if roles and not current_user.has_role(*roles):
                raise Forbidden("您的角色无权访问", code="role_required", details={"roles": list(roles)})
            return view(*args, **kwargs)

        wrapper._liufang_roles = roles  # type: ignore[attr-defined]
        return wrapper

    return decorator


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
    from flask import jsonify

    response = jsonify(data)
    response.status_code = status
    response.headers["ETag"] = etag_for(version)
    return response


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


# --- Idempotency-Key ---------------------------------------------------------------------------------------------

def skip_idempotency(view: Callable[..., Any]) -> Callable[..., Any]:
    """Views with their own retry semantics (tus) or streamed bodies do not replay by Idempotency-Key."""
    view._liufang_skip_idempotency = True  # type: ignore[attr-defined]
    return view


def _idempotency_before(app: Flask) -> Response | None:
    from backend.services import idempotency

    key = request.headers.get("Idempotency-Key")
    if key is None or request.method != "POST" or not request.path.startswith("/api/v1/"):
        return None
    view = app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, "_liufang_skip_idempotency", False) or request.blueprint == "auth":
        return None
    verify_jwt_in_request()
    key = idempotency.check_key(key)
    fingerprint = idempotency.fingerprint(request.method, request.full_path, request.get_data(cache=True))
    stored = idempotency.begin(current_user.id, key, request.method, request.full_path, fingerprint)
    if stored is not None:
        response = Response(stored.body, status=stored.status_code, headers=stored.headers)
        response.headers["Idempotent-Replayed"] = "true"
        return response
    g.idempotency = (current_user.id, key)
    return None


def _idempotency_after(response: Response) -> Response:
    from backend.services import idempotency

    pending = g.pop("idempotency", None)
    if pending is None:
        return response
    user_id, key = pending
    if 200 <= response.status_code < 300 and not response.is_streamed:
        idempotency.complete(user_id, key, response.status_code, dict(response.headers), response.get_data())
    else:
        idempotency.abandon(user_id, key)
    return response


def init_request_hooks(app: Flask) -> None:
    app.before_request(lambda: _check_body_type(app))
    app.before_request(lambda: _idempotency_before(app))
    app.after_request(_idempotency_after)

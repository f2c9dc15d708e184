"""The one JSON error shape: domain errors, HTTP errors (validation, 404, 405 …) and unexpected failures all answer
``{"error": {"code", "message", "details"}}`` (codes stable and English, messages in Chinese)."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException

from backend import transaction
from backend.errors import LiufangError

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
    428: ("precondition_required", "缺少前提条件"),
    429: ("too_many_requests", "请求过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误，请稍后再试"),
}


def error_response(status: int, code: str, message: str, details: dict[str, Any] | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    response = jsonify({"error": {"code": code, "message": message, "details": details or {}}})
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _validation_details(data: dict[str, Any]) -> dict[str, Any]:
    messages = data.get("messages") or {}
    fields: dict[str, Any] = {}
    for location, location_messages in messages.items():
        if isinstance(location_messages, dict):
            fields.update(location_messages)
        else:
            fields.setdefault("_" + location, location_messages)
    return {"fields": fields, "locations": sorted(messages)}


def handle_http_exception(error: HTTPException) -> Response:
    transaction.rollback()
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


def handle_domain_error(error: LiufangError) -> Response:
    transaction.rollback()
    return error_response(error.status, error.code, error.message, error.details, error.headers)


def handle_integrity_error(error: IntegrityError) -> Response:
    """A uniqueness or reference rule that another request's commit broke between this request's check and its
    write (two phones creating the same client_uuid at once): nothing was saved, and a retry sees the other's row."""
    transaction.rollback()
    log.info("integrity conflict on %s %s: %s", request.method, request.path, error.orig)
    return error_response(409, "concurrent_conflict", "与同时进行的另一操作冲突，未保存任何内容；请重试",
                          {"retry": True})


def handle_unexpected_error(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    transaction.rollback()
    log.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, *HTTP_DEFAULTS[500])


def init_app(app: Flask) -> None:
    """Register the handlers (after flask-smorest's, which they replace)."""
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(LiufangError, handle_domain_error)
    app.register_error_handler(IntegrityError, handle_integrity_error)
    app.register_error_handler(Exception, handle_unexpected_error)

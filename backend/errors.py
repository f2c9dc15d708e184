"""The domain-exception family: every rule a service enforces fails with one of these, mapped to one JSON error."""

from __future__ import annotations

from typing import Any, Callable


class LiufangError(Exception):
    """Base of all domain errors: an HTTP status, a stable English code and a message a Chinese user can read.

    An error rolls back everything its request (or job) did. ``follow_up`` is a fact the failure itself
    establishes (a failed login to count, an upload that failed its checksum): the boundary runs it, with ids only,
    in a unit of work of its own after the rollback.
    """

    status = 400
    code = "bad_request"
    message = "请求无效"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict[str, Any] | None = None, headers: dict[str, str] | None = None,
                 follow_up: Callable[[], None] | None = None) -> None:
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        self.headers = headers or {}
        self.follow_up = follow_up
        super().__init__(self.message)


class BadRequest(LiufangError):
    status, code, message = 400, "bad_request", "请求格式错误"


class Unauthorized(LiufangError):
    status, code, message = 401, "unauthorized", "需要登录，或登录已失效"


class Forbidden(LiufangError):
    status, code, message = 403, "forbidden", "无权执行此操作"


class NotFound(LiufangError):
    status, code, message = 404, "not_found", "资源不存在"


class Conflict(LiufangError):
    status, code, message = 409, "conflict", "操作与当前状态冲突"


class InvalidTransition(Conflict):
    code, message = "invalid_transition", "当前状态下不能执行此操作"


class Gone(LiufangError):
    status, code, message = 410, "gone", "资源已不再可用"


class PreconditionFailed(LiufangError):
    status, code, message = 412, "version_conflict", "数据已被他人修改，请刷新后重试"


class PreconditionRequired(LiufangError):
    """RFC 6585: the record may be changed by others, so the client must say which version it changes."""

    status, code, message = 428, "if_match_required", "请在 If-Match 中带上您读取到的版本（ETag），以免覆盖他人的修改"


class PayloadTooLarge(LiufangError):
    status, code, message = 413, "payload_too_large", "提交的内容过大"


class UnsupportedMediaType(LiufangError):
    status, code, message = 415, "unsupported_media_type", "不支持的内容类型"


class ValidationFailed(LiufangError):
    status, code, message = 422, "validation_error", "提交的数据无效"


class Locked(LiufangError):
    status, code, message = 423, "locked", "资源已被他人锁定"


class TooManyRequests(LiufangError):
    status, code, message = 429, "too_many_requests", "请求过于频繁，请稍后再试"

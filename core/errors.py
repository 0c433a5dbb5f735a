"""Domain errors carrying a stable machine code and a Chinese message for drivers."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error the API reports as `{code, message}`."""

    code = "domain_error"
    status = 400
    message_zh = "请求无法处理"

    def __init__(self, message_zh: str | None = None, *, detail: str = "") -> None:
        self.message_zh = message_zh or self.message_zh
        self.detail = detail
        super().__init__(detail or self.code)


class ValidationFailedError(DomainError):
    """The request is malformed or misses a field."""

    code = "invalid_request"
    status = 400
    message_zh = "请求参数有误"


class NotFoundError(DomainError):
    """The named thing does not exist."""

    code = "not_found"
    status = 404
    message_zh = "未找到"


class ConflictError(DomainError):
    """The request conflicts with the current state."""

    code = "conflict"
    status = 409
    message_zh = "当前状态不允许此操作"


class AuthenticationError(DomainError):
    """Missing, expired or wrong credentials."""

    code = "unauthenticated"
    status = 401
    message_zh = "请先登录"


class PermissionDeniedError(DomainError):
    """The caller is known but may not do this."""

    code = "forbidden"
    status = 403
    message_zh = "无权执行此操作"

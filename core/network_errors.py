"""Errors of the lot networking API: a stable code, a Chinese and an English message each.

Lot vendors' engineers are not all Chinese readers, so these errors carry `message_en` too; the
networking sub-app answers `{code, message, message_en}`.
"""

from __future__ import annotations

from core.errors import (
    AuthenticationError,
    ConflictError,
    DomainError,
    NotFoundError,
    ValidationFailedError,
)


class NetworkError(DomainError):
    """A networking error with an English message beside the Chinese one."""

    message_en = "The request cannot be processed"


class NetworkAuthError(NetworkError, AuthenticationError):
    """The signature headers are missing or name no known app."""

    code = "network_unauthenticated"
    message_zh = "缺少签名或应用标识无效"
    message_en = "Missing signature headers or unknown app id"


class SignatureInvalidError(NetworkAuthError):
    """No live key of the app produced this signature."""

    code = "signature_invalid"
    message_zh = "签名校验失败"
    message_en = "Signature does not match"


class TimestampStaleError(NetworkAuthError):
    """The timestamp is not within the replay window of the platform's clock."""

    code = "timestamp_out_of_window"
    message_zh = "请求时间戳超出允许范围（±300秒），请校准时钟"
    message_en = "Timestamp outside the ±300 s window; check the system clock"


class NonceFormatError(NetworkAuthError):
    """The nonce is too short, too long or not ASCII."""

    code = "nonce_invalid"
    message_zh = "随机串须为8至64个ASCII字符"
    message_en = "Nonce must be 8 to 64 ASCII characters"


class NonceReplayedError(NetworkAuthError):
    """The nonce was used within the replay window: a replayed request."""

    code = "nonce_replayed"
    message_zh = "随机串已使用，请求被视为重放"
    message_en = "Nonce already used: the request is treated as a replay"


class MessageIdReusedError(NetworkError, ConflictError):
    """A message id came again with a different body."""

    code = "message_id_reused"
    message_zh = "消息编号已用于不同内容的消息"
    message_en = "Message id already used for a different message"


class NetworkRequestError(NetworkError, ValidationFailedError):
    """A malformed push or question; the fields are named in the detail."""

    code = "network_invalid_request"
    message_zh = "请求参数有误"
    message_en = "Malformed request"


class SessionUnknownError(NetworkError, NotFoundError):
    """The lot asked about a session it never pushed."""

    code = "session_unknown"
    message_zh = "未找到该停车记录（订单号）"
    message_en = "Unknown session (order id)"


class StayNotCollectableError(NetworkError, ConflictError):
    """The lot reported collecting a stay it may not collect (another operator's, or paid)."""

    code = "stay_not_collectable"
    message_zh = "该欠费记录不属于本车场运营方或已结清，不能在此收取"
    message_en = "This arrears stay belongs to another operator or is settled"


class NetworkLotExistsError(NetworkError, ConflictError):
    """A lot with this code is already registered."""

    code = "network_lot_exists"
    message_zh = "该车场编号已存在"
    message_en = "A lot with this code exists"


class NetworkLotUnknownError(NetworkError, NotFoundError):
    """No networked lot has this code."""

    code = "network_lot_unknown"
    message_zh = "未找到该联网车场"
    message_en = "Unknown networked lot"


ENGLISH_BY_CODE: dict[str, str] = {
    "invalid_request": "Malformed request; the fields are named in the message",
    "invalid_plate": "Not a valid mainland plate",
    "unsupported_media_type": "The body must be JSON (Content-Type: application/json)",
    "not_found": "No such endpoint",
    "method_not_allowed": "Method not allowed",
    "too_large": "Request body too large",
    "busy": "Busy; retry later",
    "internal_error": "Busy; retry later",
}


def english(error: DomainError) -> str:
    """The English message of an error, for the networking API's answers."""
    if isinstance(error, NetworkError):
        return error.message_en
    return ENGLISH_BY_CODE.get(error.code, "The request cannot be processed")

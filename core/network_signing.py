"""Request signatures of the lot networking API: HMAC-SHA256 over method, path, time, nonce, body.

The string signed is the method, the path with its query as sent (percent-encoded), the Unix
timestamp in seconds, the nonce and the hex SHA-256 of the body, joined by newlines. The same
scheme signs the platform's webhooks to a lot, so a lot's system needs one routine for both.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from core.network_errors import (
    NetworkAuthError,
    NonceFormatError,
    SignatureInvalidError,
    TimestampStaleError,
)

REPLAY_WINDOW_SECONDS = 300
HEADER_APP_ID = "X-Park-App-Id"
HEADER_TIMESTAMP = "X-Park-Timestamp"
HEADER_NONCE = "X-Park-Nonce"
HEADER_SIGNATURE = "X-Park-Signature"
HEADER_KEY_ID = "X-Park-Key-Id"  # optional: which key signed, to skip trying the others


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What a signature covers, plus who claims to have signed it."""

    app_id: str
    method: str
    path: str
    timestamp: str
    nonce: str
    body: bytes
    signature: str


def canonical(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """The bytes that are signed."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((method.upper(), path, timestamp, nonce, digest)).encode()


def sign(key: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    """The hex HMAC-SHA256 signature of a request under a key."""
    message = canonical(method, path, timestamp, nonce, body)
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def check_fresh(request: SignedRequest, now: datetime) -> None:
    """Refuse a request whose timestamp is outside the replay window or whose nonce is odd."""
    if not request.timestamp.isdigit():
        raise TimestampStaleError(detail=f"timestamp {request.timestamp!r}")
    skew = abs(now.timestamp() - int(request.timestamp))
    if skew > REPLAY_WINDOW_SECONDS:
        raise TimestampStaleError(detail=f"skew {skew:.0f}s")
    if not 8 <= len(request.nonce) <= 64 or not request.nonce.isascii():
        raise NonceFormatError(detail=f"nonce length {len(request.nonce)}")


def verify(request: SignedRequest, keys: Iterable[str]) -> None:
    """Accept the request if any live key signed it (two live while a key is rotated)."""
    candidates = list(keys)
    if not candidates:
        raise NetworkAuthError(detail=f"no live key for {request.app_id}")
    for key in candidates:
        expected = sign(
            key, request.method, request.path, request.timestamp, request.nonce, request.body
        )
        if hmac.compare_digest(expected, request.signature.lower()):
            return
    raise SignatureInvalidError(detail=f"{request.method} {request.path} by {request.app_id}")

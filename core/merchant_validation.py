"""Merchant validation (商户验证): signed single-use tokens for free minutes or an amount off."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from core.errors import ValidationFailedError


class ValidationKind(StrEnum):
    """What a validation gives."""

    MINUTES = "minutes"  # free minutes from the entry
    AMOUNT = "amount"  # fen off the fee


class ValidationTokenError(ValidationFailedError):
    """The token is forged, altered, expired or malformed."""

    code = "validation_invalid"
    message_zh = "优惠券无效或已过期"


@dataclass(frozen=True, slots=True)
class ValidationClaim:
    """What a verified token grants."""

    merchant: str
    kind: ValidationKind
    value: int
    nonce: str
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _key(secret: str) -> bytes:
    # A key of its own, so a validation signature can never pass as a staff token's.
    return hashlib.sha256(b"merchant-validation:" + secret.encode()).digest()


def sign(secret: str, claim: ValidationClaim) -> str:
    """The token a driver carries: the claim and its HMAC-SHA256."""
    if claim.value <= 0:
        raise ValueError("a validation must give something")
    body = json.dumps(
        {
            "m": claim.merchant,
            "k": claim.kind.value,
            "v": claim.value,
            "n": claim.nonce,
            "e": int(claim.expires_at.timestamp()),
        },
        separators=(",", ":"),
        sort_keys=True,
    ).encode()
    mac = hmac.new(_key(secret), body, hashlib.sha256).digest()
    return f"{_b64(body)}.{_b64(mac)}"


def verify(secret: str, token: str, now: datetime) -> ValidationClaim:
    """The claim of a genuine, unexpired token; anything else raises ValidationTokenError."""
    try:
        body_text, mac_text = token.strip().split(".")
        body, mac = _unb64(body_text), _unb64(mac_text)
    except ValueError:
        raise ValidationTokenError(detail="malformed token") from None
    expected = hmac.new(_key(secret), body, hashlib.sha256).digest()
    if not hmac.compare_digest(mac, expected):
        raise ValidationTokenError(detail="bad signature")
    try:
        data = json.loads(body)
        claim = ValidationClaim(
            str(data["m"]),
            ValidationKind(data["k"]),
            int(data["v"]),
            str(data["n"]),
            datetime.fromtimestamp(int(data["e"]), UTC),
        )
    except (KeyError, ValueError, TypeError):
        raise ValidationTokenError(detail="bad claim") from None
    if now >= claim.expires_at:
        raise ValidationTokenError(detail="expired")
    return claim

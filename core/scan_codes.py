"""QR payloads printed at exit lanes, on berths and on notices: signed, versioned, unguessable."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from enum import StrEnum

from core.errors import ValidationFailedError

CURRENT_VERSION = 1
_MAC_BYTES = 16  # 128 bits: guessing a valid code is hopeless
_MAX_PAYLOAD = 512


class ScanCodeKind(StrEnum):
    """What a code is stuck on."""

    EXIT_LANE = "exit_lane"  # pay the car waiting at this lane now
    BERTH = "berth"  # start or pay the stay at this berth
    PLATE = "plate"  # pay for my plate (printed on a notice left on the car)


class InvalidScanCodeError(ValidationFailedError):
    """The code was not issued by us, was altered, or uses a retired key."""

    code = "invalid_scan_code"
    message_zh = "二维码无效，请扫描现场张贴的停车二维码"


@dataclass(frozen=True, slots=True)
class ScanTarget:
    """What a code points at: a lot's lane, a berth, or a plate."""

    kind: ScanCodeKind
    lot: str | None = None
    lane: str | None = None
    berth: str | None = None
    plate: str | None = None


def derive_key(secret: str, version: int) -> bytes:
    """The signing key of one version, derived from the service secret (rotate by version)."""
    return hmac.new(secret.encode(), f"scan-code:v{version}".encode(), hashlib.sha256).digest()


def issue(target: ScanTarget, secret: str, version: int = CURRENT_VERSION) -> str:
    """The payload to print: `v<version>.<body>.<mac>`, all base64url."""
    fields = {"k": target.kind.value}
    for name in ("lot", "lane", "berth", "plate"):
        value = getattr(target, name)
        if value is not None:
            fields[name] = value
    body = _b64(json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode())
    signed = f"v{version}.{body}"
    return f"{signed}.{_b64(_mac(signed, secret, version))}"


def read(payload: str, secret: str, accepted: frozenset[int] = frozenset({1})) -> ScanTarget:
    """The target of a payload we signed with an accepted key version, or InvalidScanCodeError."""
    parts = payload.strip().split(".")
    if len(payload) > _MAX_PAYLOAD or len(parts) != 3 or not parts[0].startswith("v"):
        raise InvalidScanCodeError(detail="malformed")
    version_text, body, mac = parts
    if not version_text[1:].isdigit() or int(version_text[1:]) not in accepted:
        raise InvalidScanCodeError(detail=f"version {version_text!r} not accepted")
    version = int(version_text[1:])
    try:
        given = _unb64(mac)
        fields = json.loads(_unb64(body))
    except (binascii.Error, ValueError):
        raise InvalidScanCodeError(detail="not base64url JSON") from None
    if not hmac.compare_digest(given, _mac(f"{version_text}.{body}", secret, version)):
        raise InvalidScanCodeError(detail="bad signature")
    try:
        return _target(fields)
    except (KeyError, TypeError, ValueError):
        raise InvalidScanCodeError(detail="signed but not a target") from None


def _target(fields: dict[str, str]) -> ScanTarget:
    kind = ScanCodeKind(fields["k"])
    target = ScanTarget(
        kind, fields.get("lot"), fields.get("lane"), fields.get("berth"), fields.get("plate")
    )
    needed = {
        ScanCodeKind.EXIT_LANE: (target.lot, target.lane),
        ScanCodeKind.BERTH: (target.berth,),
        ScanCodeKind.PLATE: (target.plate,),
    }[kind]
    if not all(isinstance(value, str) and value for value in needed):
        raise ValueError("missing field")
    return target


def _mac(signed: str, secret: str, version: int) -> bytes:
    return hmac.new(derive_key(secret, version), signed.encode(), hashlib.sha256).digest()[
        :_MAC_BYTES
    ]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or any(ch not in _ALPHABET for ch in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

"""Drivers' vehicles: binding rules, who may look at a plate, and the licence-check port."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from core.errors import (
    ConflictError,
    DomainError,
    NotFoundError,
    PermissionDeniedError,
    ValidationFailedError,
)
from core.plates import Plate

_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


class VerificationSource(StrEnum):
    """How a driver proved a plate is theirs."""

    LICENCE = "licence"  # 行驶证 checked
    PAYMENT = "payment"  # scanned a stay's berth or lane and paid it: sees the stays it paid


class PlateLimitReachedError(ConflictError):
    """The driver has bound as many plates as a driver may."""

    code = "plate_limit_reached"
    message_zh = "绑定的车牌数量已达上限"


class PlateNotBoundError(NotFoundError):
    """The driver has not bound this plate."""

    code = "plate_not_bound"
    message_zh = "您尚未绑定该车牌"


class BindingNotVerifiedError(PermissionDeniedError):
    """Only a verified binding may see a plate's history, images and details."""

    code = "binding_not_verified"
    message_zh = "请先认证车牌（核验行驶证）后查看"


class LicenceRejectedError(ValidationFailedError):
    """The vehicle licence does not match the plate."""

    code = "licence_rejected"
    status = 422
    message_zh = "行驶证信息与车牌不一致，认证未通过"


@dataclass(frozen=True, slots=True)
class LicenceClaim:
    """What a driver typed from the 行驶证: the plate, the VIN and the registered owner."""

    plate: Plate
    vin: str
    owner_name: str


class LicenceCheckUnavailableError(DomainError):
    """No vehicle register is connected, so a 行驶证 cannot be checked now."""

    code = "licence_check_unavailable"
    status = 503
    message_zh = "行驶证核验暂不可用，可在泊位或出口扫码缴纳本次停车费完成缴费认证"


class LicenceVerifier(Protocol):
    """Checks a 行驶证 against the vehicle register (a data provider or the traffic police)."""

    async def verify(self, claim: LicenceClaim) -> bool:
        """Whether the register holds this plate with this VIN and owner."""
        ...


def check_plate_limit(bound: int, limit: int) -> None:
    """Raise PlateLimitReachedError when one more binding would pass the limit."""
    if bound >= limit:
        raise PlateLimitReachedError(f"最多可绑定 {limit} 个车牌", detail=f"{bound} of {limit}")


def is_valid_vin(vin: str) -> bool:
    """Whether a VIN has 17 allowed characters and the check digit GB 16735 requires."""
    if len(vin) != 17 or any(ch not in _VIN_VALUES for ch in vin):
        return False
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return vin[8] == ("X" if remainder == 10 else str(remainder))


def with_check_digit(vin: str) -> str:
    """The VIN with its ninth character set to the right check digit (for test data)."""
    total = sum(_VIN_VALUES[ch] * w for ch, w in zip(vin, _VIN_WEIGHTS, strict=True))
    remainder = total % 11
    return vin[:8] + ("X" if remainder == 10 else str(remainder)) + vin[9:]

"""Rules of auto-pay (无感支付) on WeChat Pay's parking service, and of paying arrears at once."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from core.errors import ConflictError, ValidationFailedError

# How long a plate's service state is trusted before WeChat Pay is asked again.
SERVICE_FRESH_FOR = timedelta(minutes=10)
# WeChat Pay combines at most ten sub-orders in one payment.
MAX_COMBINED = 10


class ServiceState(StrEnum):
    """A plate's parking service for one driver, as WeChat Pay last said it."""

    NORMAL = "normal"  # authorised: stays are deducted
    PAUSED = "paused"  # the user paused it: pay by hand
    OUT_OF_SERVICE = "out_of_service"  # never opened or closed
    UNKNOWN = "unknown"  # never asked, or WeChat Pay could not be asked


class ParkingState(StrEnum):
    """Where a stay is with the parking service."""

    ENTERING = "entering"  # recorded, WeChat Pay not answered yet
    DEDUCTIBLE = "deductible"  # the entry said the plate can be deducted for this stay
    BLOCKED = "blocked"  # the entry said it cannot (paused, out of service, ...)
    DEDUCTING = "deducting"  # the deduction is asked or accepted, not paid yet
    DEDUCTED = "deducted"  # paid by the deduction
    FAILED = "failed"  # the deduction failed: the stay is owed (arrears on the street)
    SKIPPED = "skipped"  # nothing to deduct: no fee, void, or paid another way first


_WECHAT_STATES = {
    "NORMAL": ServiceState.NORMAL,
    "PAUSE": ServiceState.PAUSED,
    "OUT_SERVICE": ServiceState.OUT_OF_SERVICE,
}

CHANNEL_WECHAT_PARKING = "wechat_parking"
CHANNEL_WECHAT_COMBINE = "wechat_combine"


class PlateNotAuthorisedError(ConflictError):
    """The plate's parking service is not on for this driver."""

    code = "auto_pay_not_authorised"
    message_zh = "该车牌未开通微信支付无感停车服务"


class NothingToCombineError(ValidationFailedError):
    """No stay of the plate is owed, or the chosen stays are not the plate's owed stays."""

    code = "no_arrears_to_pay"
    message_zh = "没有可合并支付的欠费记录"


def service_state(wechat_state: str | None) -> ServiceState:
    """WeChat Pay's service_state as ours; anything unknown is not authorised."""
    return _WECHAT_STATES.get(wechat_state or "", ServiceState.UNKNOWN)


def is_authorised(state: str | None) -> bool:
    """Only a plate WeChat Pay said is in normal service is deducted."""
    return state == ServiceState.NORMAL.value


def is_fresh(checked_at: datetime, now: datetime) -> bool:
    """Whether a stored service state may be shown without asking WeChat Pay again."""
    return timedelta(0) <= now - checked_at < SERVICE_FRESH_FOR


def charging_seconds(entered_at: datetime, exited_at: datetime) -> int:
    """The stay's duration in whole seconds, at least one (WeChat Pay refuses zero)."""
    return max(int((exited_at - entered_at).total_seconds()), 1)


def parking_no(stay_ref: str) -> str:
    """The merchant's entry number of a stay: unique per stay, within WeChat's 32 characters."""
    return f"PE{stay_ref}"[:32]


def arrears_beside(stay_ref: str, owed: dict[str, int]) -> dict[str, int]:
    """The other owed stays an exit takes with its own fee: the oldest, up to one payment's."""
    others = [(ref, due) for ref, due in owed.items() if ref != stay_ref and due > 0]
    return dict(others[: MAX_COMBINED - 1])


def exit_choice(stay_ref: str, owed: dict[str, int]) -> dict[str, int]:
    """An exit's stay and the arrears it takes (owed oldest first); refused without arrears."""
    if owed.get(stay_ref, 0) <= 0:
        raise NothingToCombineError("该停车记录无需缴费", detail=f"{stay_ref} not owed")
    others = arrears_beside(stay_ref, owed)
    if not others:
        raise NothingToCombineError("没有其他欠费，请直接支付本次停车费", detail="no arrears")
    return {stay_ref: owed[stay_ref], **others}


def combine_choice(owed: dict[str, int], chosen: list[str] | None) -> dict[str, int]:
    """The owed stays to pay together: all of them, or the chosen ones, each at most once."""
    if chosen is None:
        picked = owed
    else:
        if len(set(chosen)) != len(chosen) or not set(chosen) <= owed.keys():
            raise NothingToCombineError(detail=f"{chosen} not among {sorted(owed)}")
        picked = {ref: owed[ref] for ref in chosen}
    picked = {ref: due for ref, due in picked.items() if due > 0}
    if not picked:
        raise NothingToCombineError(detail="nothing owed")
    if len(picked) > MAX_COMBINED:
        raise NothingToCombineError(
            f"一次最多合并支付{MAX_COMBINED}笔，请分次支付", detail=f"{len(picked)} stays"
        )
    return picked

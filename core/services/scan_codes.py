"""Use cases of the QR codes: issue one for a lane, berth or plate; resolve a scanned one."""

from __future__ import annotations

from dataclasses import dataclass, field

from core import scan_codes
from core.billing import DayCalendar
from core.clock import Clock
from core.errors import NotFoundError
from core.plates import Plate, parse_plate
from core.scan_codes import InvalidScanCodeError, ScanCodeKind, ScanTarget
from core.services.stays import PayableStay, StayView, payable_stays, stay_view
from core.store.unit_of_work import UnitOfWork


class ScanTargetNotFoundError(NotFoundError):
    """A code can only be issued for an exit lane, a berth or a plate that exists."""

    code = "scan_target_not_found"
    message_zh = "未找到该出口车道或泊位"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What the mini-program shows after a scan: where, what to do, which stays to pay."""

    kind: ScanCodeKind
    action: str  # pay, in_progress, start, nothing_due
    place: str
    message: str
    stays: list[StayView]
    plate: Plate | None = None
    dues: list[PayableStay] = field(default_factory=list)  # a plate's code: amounts only


async def issue_code(uow: UnitOfWork, target: ScanTarget, secret: str, version: int) -> str:
    """A signed payload for a target that exists (an exit lane, a berth, a valid plate)."""
    if target.kind is ScanCodeKind.EXIT_LANE:
        found = await uow.lots.lane(target.lot or "", target.lane or "")
        if found is None or found[0].direction != "exit":
            raise ScanTargetNotFoundError(detail=f"exit lane {target.lot}/{target.lane}")
    elif target.kind is ScanCodeKind.BERTH:
        if await uow.city.berth_by_code(target.berth or "") is None:
            raise ScanTargetNotFoundError(detail=f"berth {target.berth}")
    else:
        target = ScanTarget(ScanCodeKind.PLATE, plate=parse_plate(target.plate or "").number)
    return scan_codes.issue(target, secret, version)


async def resolve_code(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, target: ScanTarget
) -> ScanResult:
    """What a scanned, verified code asks the driver to do now."""
    if target.kind is ScanCodeKind.EXIT_LANE:
        return await _exit_lane(uow, clock, calendar, target)
    if target.kind is ScanCodeKind.BERTH:
        return await _berth(uow, clock, calendar, target)
    plate = parse_plate(target.plate or "")
    # Whoever holds a plate's code (a notice on the windscreen) may pay, not look.
    dues = await payable_stays(uow, plate)
    action, message = ("pay", "请支付以下停车费") if dues else ("nothing_due", "该车牌暂无待缴费用")
    return ScanResult(target.kind, action, plate.number, message, [], plate, dues)


async def _exit_lane(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, target: ScanTarget
) -> ScanResult:
    found = await uow.lots.lane(target.lot or "", target.lane or "")
    if found is None or found[0].direction != "exit":
        # Signed but stale (the lane was removed): the code resolves to nothing else.
        raise InvalidScanCodeError(detail=f"lane {target.lot}/{target.lane} gone")
    lane, lot = found
    waiting = await uow.vehicles.awaiting_at_lane(lane.id)
    stays = [await stay_view(uow, clock, calendar, row) for row in waiting]
    place = f"{lot.name}·{lane.name}"
    if not stays:
        return ScanResult(target.kind, "nothing_due", place, "该出口暂无待缴费车辆", [])
    return ScanResult(target.kind, "pay", place, "请核对车牌后支付，支付后道闸自动抬杆", stays)


async def _berth(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, target: ScanTarget
) -> ScanResult:
    berth = await uow.city.berth_by_code(target.berth or "")
    if berth is None:
        raise InvalidScanCodeError(detail=f"berth {target.berth} gone")
    open_stay = await uow.stays.open_at_berth(berth.id)
    if open_stay is None:
        message = "车辆停入后泊位检测器将自动开始计时，离开后可在此缴费"
        return ScanResult(target.kind, "start", berth.code, message, [])
    view = await stay_view(uow, clock, calendar, open_stay)
    message = "正在计费，离开后即可缴费（先离后缴）"
    return ScanResult(target.kind, "in_progress", berth.code, message, [view])

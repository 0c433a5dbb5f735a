"""The remote attendant (云坐席): the queue of lanes needing a human, and what they may do."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.billing import DayCalendar
from core.clock import Clock
from core.errors import ConflictError, NotFoundError, PermissionDeniedError
from core.lane_events import LaneRead
from core.lanes import Access, Decision, LaneAction, LaneCommand, best_access, commands_for
from core.plates import Plate
from core.services import audit
from core.services.lane_entry import Verdict, admit, open_lot_stay
from core.services.lane_exit import settle_at_exit
from core.services.lanes import lane_name
from core.staff import StaffIdentity, covers
from core.store.city import LaneRow, LotRow
from core.store.lots import AttendantTaskRow, LanePassageRow
from core.store.unit_of_work import UnitOfWork


class TaskNotFoundError(NotFoundError):
    """No open task has this id."""

    code = "task_not_found"
    message_zh = "待处理事项不存在或已处理"


class LaneNotFoundError(NotFoundError):
    """No lane has this lot and code."""

    code = "lane_not_found"
    message_zh = "车道不存在"


class TaskActionError(ConflictError):
    """The action does not fit this task (e.g. a fee for an entry)."""

    code = "task_action_invalid"
    message_zh = "该事项不能执行此操作"


@dataclass(frozen=True, slots=True)
class QueueItem:
    """One lane waiting for a human, with what the attendant needs to decide."""

    task_id: int | None
    lot: str
    lane: str
    reason: str
    since: datetime | None
    passage_ref: str | None = None
    direction: str | None = None
    plate: str | None = None
    image_ref: str | None = None
    display: str | None = None
    fee_fen: int | None = None
    candidates: list[str] = field(default_factory=list)
    device: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ActionResult:
    """What an attendant's action did at the lane."""

    action: str
    reason: str
    display: str
    stay_ref: str | None
    fee_fen: int | None
    commands: list[LaneCommand]
    task_closed: bool


async def queue(uow: UnitOfWork, staff: StaffIdentity) -> list[QueueItem]:
    """Open tasks, then lane devices in fault, for the lots the attendant covers."""
    items: list[QueueItem] = []
    for task, passage in await uow.lots.open_tasks():
        lane, lot = await uow.lots.lane_by_id(task.lane_id)
        if not await _covers(uow, staff, lot):
            continue
        items.append(_item(task, lot, lane, passage))
    for device, health, lane in await uow.lots.lane_faults():
        _, lot = await uow.lots.lane_by_id(lane.id)
        if await _covers(uow, staff, lot):
            items.append(
                QueueItem(
                    None,
                    lot.code,
                    lane.code,
                    "device_fault",
                    health.fault_at,
                    device=device.code,
                    note=f"{health.fault_code}: {health.fault_text or ''}".strip(": "),
                )
            )
    return items


def _item(
    task: AttendantTaskRow, lot: LotRow, lane: LaneRow, passage: LanePassageRow | None
) -> QueueItem:
    if passage is None:
        return QueueItem(task.id, lot.code, lane.code, task.reason, task.created_at, note=task.note)
    return QueueItem(
        task.id,
        lot.code,
        lane.code,
        task.reason,
        task.created_at,
        passage.ref,
        passage.direction,
        passage.plate,
        passage.image_ref,
        passage.display,
        passage.fee_fen,
        list(passage.details.get("candidates", [])),
        note=task.note,
    )


async def _covers(uow: UnitOfWork, staff: StaffIdentity, lot: LotRow) -> bool:
    operator, district = await uow.lots.lot_place_codes(lot)
    return covers(staff.scope, operator, district, lot.code)


async def _open_task(
    uow: UnitOfWork, staff: StaffIdentity, task_id: int
) -> tuple[AttendantTaskRow, LaneRow, LotRow]:
    task = await uow.lots.task(task_id)
    if task is None or task.status != "open":
        raise TaskNotFoundError(detail=f"task {task_id}")
    lane, lot = await uow.lots.lane_by_id(task.lane_id)
    if not await _covers(uow, staff, lot):
        raise PermissionDeniedError(detail=f"{staff.username} does not cover {lot.code}")
    return task, lane, lot


async def _held_passage(uow: UnitOfWork, task: AttendantTaskRow) -> LanePassageRow:
    if task.passage_id is None:
        raise TaskActionError(detail=f"task {task.id} has no plate read")
    return await uow.lots.passage(task.passage_id)


def _read_of(passage: LanePassageRow, plate: Plate | None) -> LaneRead:
    """The passage's read again, with a corrected plate."""
    return LaneRead(
        dedupe_key=passage.dedupe_key,
        vendor="attendant",
        device_code="",
        device_time=passage.read_at,
        plate=plate,
        vehicle_type=passage.vehicle_type,
        vehicle_colour=passage.vehicle_colour,
        image_ref=passage.image_ref,
    )


async def correct_plate(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    staff: StaffIdentity,
    task_id: int,
    plate: Plate,
    reason: str,
) -> ActionResult:
    """Replace a misread plate and decide again with it (an exact plate only, no fuzzing)."""
    task, lane, lot = await _open_task(uow, staff, task_id)
    passage = await _held_passage(uow, task)
    read = _read_of(passage, plate)
    if passage.direction == "entry":
        verdict = await admit(uow, clock, lot, lane, read, passage)
    else:
        stays = await uow.lots.open_for_plate(lot.id, plate.number)
        if len(stays) != 1:
            raise TaskActionError("该车牌在本停车场没有唯一的在场记录", detail=plate.number)
        details = await uow.lots.lot_stay(stays[0].id)
        assert details is not None
        verdict = await settle_at_exit(uow, calendar, lot, lane, stays[0], details, passage.read_at)
    extra = {"read_plate": passage.plate, "corrected_plate": plate.number}
    passage.plate = plate.number
    return await _finish(
        uow, clock, staff, task, lane, lot, passage, verdict, "lane.correct_plate", reason, extra
    )


async def create_entry(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    staff: StaffIdentity,
    task_id: int,
    entered_at: datetime | None,
    reason: str,
) -> ActionResult:
    """Create the missing entry of an exit (or, with no entry time, charge a lost ticket)."""
    task, lane, lot = await _open_task(uow, staff, task_id)
    passage = await _held_passage(uow, task)
    if passage.direction != "exit" or passage.stay_id is not None:
        raise TaskActionError(detail="only an exit without a stay takes a created entry")
    rights = await uow.lots.rights_for_plate(lot.id, passage.plate or "", passage.read_at)
    access = best_access([r.kind for r in rights]) if passage.plate else Access.TEMPORARY
    right = next((r for r in rights if r.kind == access.value), None)
    at = min(entered_at, passage.read_at) if entered_at else passage.read_at
    stay = await open_lot_stay(uow, lot, None, None, access, right, at, plate=passage.plate)
    details = await uow.lots.lot_stay(stay.id)
    assert details is not None
    verdict = await settle_at_exit(
        uow, calendar, lot, lane, stay, details, passage.read_at, lost_ticket=entered_at is None
    )
    extra = {"entered_at": at.isoformat(), "lost_ticket": entered_at is None}
    return await _finish(
        uow, clock, staff, task, lane, lot, passage, verdict, "lane.create_entry", reason, extra
    )


async def confirm_fee(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    staff: StaffIdentity,
    task_id: int,
    fee_fen: int,
    reason: str,
) -> ActionResult:
    """Confirm or adjust the fee of a held exit (stale stay, implausible fee) and bill it."""
    task, lane, lot = await _open_task(uow, staff, task_id)
    passage = await _held_passage(uow, task)
    if passage.direction != "exit" or passage.stay_id is None:
        raise TaskActionError(detail="only a held exit with a stay has a fee")
    stay = await uow.lots.stay(passage.stay_id)
    details = await uow.lots.lot_stay(stay.id)
    assert details is not None
    verdict = await settle_at_exit(
        uow, calendar, lot, lane, stay, details, passage.read_at, fee_fen=fee_fen, checked=False
    )
    extra = {"quoted_fen": passage.fee_fen, "confirmed_fen": fee_fen}
    return await _finish(
        uow, clock, staff, task, lane, lot, passage, verdict, "lane.confirm_fee", reason, extra
    )


async def lift_gate(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    staff: StaffIdentity,
    lot_code: str,
    lane_code: str,
    reason: str,
    task_id: int | None = None,
) -> ActionResult:
    """Lift a lane's barrier by hand; a held car is let in (its stay opened) or out (billed)."""
    found = await uow.lots.lane(lot_code, lane_code)
    if found is None:
        raise LaneNotFoundError(detail=f"{lot_code}/{lane_code}")
    lane, lot = found
    if not await _covers(uow, staff, lot):
        raise PermissionDeniedError(detail=f"{staff.username} does not cover {lot.code}")
    opened = Decision(LaneAction.OPEN, "manual_lift", "人工放行 一路顺风")
    verdict = Verdict(opened)
    task = passage = None
    if task_id is not None:
        task, task_lane, _ = await _open_task(uow, staff, task_id)
        if task_lane.id != lane.id:
            raise TaskActionError(detail=f"task {task_id} is at another lane")
        passage = await uow.lots.passage(task.passage_id) if task.passage_id else None
    if passage is not None and passage.direction == "entry" and passage.plate:
        access = Access(passage.details.get("access", "temporary"))
        right = None
        stay = await open_lot_stay(
            uow, lot, lane, None, access, right, passage.read_at, plate=passage.plate
        )
        verdict = Verdict(opened, stay.id, stay.ref)
    elif passage is not None and passage.stay_id is not None:
        stay = await uow.lots.stay(passage.stay_id)
        details = await uow.lots.lot_stay(stay.id)
        if stay.status == "open" and details is not None:
            billed = await settle_at_exit(
                uow, calendar, lot, lane, stay, details, passage.read_at, checked=False
            )
            verdict = Verdict(opened, stay.id, stay.ref, billed.fee_fen, billed.details)
    if task is None or passage is None:
        if task is not None:
            _close(task, clock, staff, "manual_lift")
        await audit.record(
            uow,
            clock,
            staff,
            "lane.lift_gate",
            f"lane:{lane_name(lot, lane)}",
            reason,
            {"task": task_id},
        )
        await uow.commit()
        commands = commands_for(lane_name(lot, lane), opened)
        return ActionResult("open", "manual_lift", opened.display_zh, None, None, commands, True)
    return await _finish(
        uow, clock, staff, task, lane, lot, passage, verdict, "lane.lift_gate", reason, {}
    )


def _close(task: AttendantTaskRow, clock: Clock, staff: StaffIdentity, resolution: str) -> None:
    task.status = "closed"
    task.closed_at = clock.now()
    task.closed_by = staff.username
    task.resolution = resolution


async def _finish(
    uow: UnitOfWork,
    clock: Clock,
    staff: StaffIdentity,
    task: AttendantTaskRow,
    lane: LaneRow,
    lot: LotRow,
    passage: LanePassageRow,
    verdict: Verdict,
    action: str,
    reason: str,
    extra: dict[str, Any],
) -> ActionResult:
    """Record the new decision on the passage, close the task unless still held, audit, commit."""
    decision = verdict.decision
    passage.fee_fen = verdict.fee_fen
    passage.details = {**passage.details, **verdict.details, "stay_ref": verdict.stay_ref}
    previous_id = passage.id
    await _redecide(uow, lane, passage, verdict)
    closed = decision.action is not LaneAction.HOLD
    if closed:
        _close(task, clock, staff, action.removeprefix("lane."))
    else:
        task.reason = decision.hold.value if decision.hold else task.reason
    details = {
        "task": task.id,
        "passage": passage.ref,
        "passage_id": previous_id,
        "lane": lane_name(lot, lane),
        "image_ref": passage.image_ref,
        "decision": decision.action.value,
        "fee_fen": verdict.fee_fen,
        **extra,
    }
    await audit.record(uow, clock, staff, action, f"lane:{lane_name(lot, lane)}", reason, details)
    await uow.commit()
    commands = commands_for(lane_name(lot, lane), decision)
    return ActionResult(
        decision.action.value,
        decision.reason,
        decision.display_zh,
        verdict.stay_ref,
        verdict.fee_fen,
        commands,
        closed,
    )


async def _redecide(
    uow: UnitOfWork, lane: LaneRow, passage: LanePassageRow, verdict: Verdict
) -> None:
    """Put a new decision on an existing passage (no new task: the open one carries on)."""
    decision = verdict.decision
    passage.action = decision.action.value
    passage.reason = decision.reason
    passage.display = decision.display_zh[:128]
    passage.stay_id = verdict.stay_id
    passage.status = {LaneAction.PAY: "awaiting_payment", LaneAction.HOLD: "held"}.get(
        decision.action, "resolved"
    )
    passage.details = {**passage.details, "flags": list(decision.flags)}
    await uow.lots.flush()

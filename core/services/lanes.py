"""Use case: a plate read at a lane of a gated lot becomes a decision and commands, once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.billing import DayCalendar
from core.clock import Clock
from core.errors import NotFoundError
from core.lane_events import GateReport, GateState, IntercomCall, LaneRead
from core.lanes import (
    Decision,
    Direction,
    HoldReason,
    LaneAction,
    LaneCommand,
    commands_for,
)
from core.services import lane_entry, lane_exit
from core.store.activity import DeviceEventRow
from core.store.lane_values import LaneFacts, LotFacts
from core.store.lots import AttendantTaskRow, LanePassageRow
from core.store.unit_of_work import StoreConflictError, UnitOfWork

PAY_URL = "https://park.example.cn/mp/pay?stay={stay_ref}"  # the mini-program's pay page
ENTRY_QR_URL = "https://park.example.cn/mp/lane?lot={lot}&lane={lane}"  # 无牌车 scan-in page


class UnknownLaneDeviceError(NotFoundError):
    """The device is not installed at any lane."""

    code = "unknown_lane_device"
    message_zh = "设备未登记在任何车道"


class StayNotFoundError(NotFoundError):
    """No lot stay has this reference."""

    code = "stay_not_found"
    message_zh = "停车记录不存在"


@dataclass(frozen=True, slots=True)
class LaneOutcome:
    """What a read did: the decision for the lane, the passage and stay it touched."""

    outcome: str  # applied, duplicate, recorded (an offline record: no decision for the lane)
    passage_ref: str | None = None
    decision: Decision | None = None
    stay_ref: str | None = None
    fee_fen: int | None = None
    pay_url: str | None = None
    commands: list[LaneCommand] = field(default_factory=list)
    display: dict[str, Any] | None = None  # the lane's LED and voice profile, for the transport


def lane_name(lot: LotFacts, lane: LaneFacts) -> str:
    """How commands name a lane."""
    return f"{lot.code}/{lane.code}"


async def on_lane_read(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, read: LaneRead
) -> LaneOutcome:
    """Decide what the lane does with the car, store it once, commit; a resend repeats it."""
    # One lot at a time; the read's passage, if stored before, comes with the lock. A resend
    # racing its original may miss it here: then the passage's unique key refuses the second.
    found = await uow.lane_reads.lock_lane_of_device(read.device_code, read.dedupe_key)
    if found is None:
        raise UnknownLaneDeviceError(detail=f"device {read.device_code!r}")
    lane, lot, display = found.lane, found.lot, found.lane.display
    if found.seen is not None:
        return _shown(replay(found.seen, lot.code, lane.code, duplicate=True), display)
    uow.lots.remember_policy(lot.id, found.policy)
    uow.city.remember_lot(lot, found.operator_code)
    passage = new_passage(read, lane, clock.now())
    names = (lot.code, lane.code)
    try:
        if lane.direction == Direction.ENTRY.value:
            result = await lane_entry.admit(uow, clock, lot, lane, read, passage)
        else:
            result = await lane_exit.release(uow, clock, calendar, lot, lane, read, passage)
        passage.fee_fen = result.fee_fen
        passage.details = {**passage.details, **result.details, "stay_ref": result.stay_ref}
        await record_decision(uow, lane, passage, result.decision, result.stay_id)
        outcome = replay(passage, *names, duplicate=False)
        await uow.commit()
    except StoreConflictError:
        await uow.rollback()  # the commit rolled back; a write sent by a query did not
        seen = await uow.lots.passage_by_key(read.dedupe_key)
        if seen is None:
            raise
        return _shown(replay(seen, *names, duplicate=True), display)
    return _shown(outcome, display)


def _shown(outcome: LaneOutcome, display: dict[str, Any] | None) -> LaneOutcome:
    """The outcome with the lane's display profile, which the transport formats from."""
    return replace(outcome, display=display) if display else outcome


def new_passage(read: LaneRead, lane: LaneFacts, now: datetime) -> LanePassageRow:
    """A passage row for a read, before the decision is known."""
    return LanePassageRow(
        ref=uuid.uuid4().hex[:20],
        dedupe_key=read.dedupe_key,
        lane_id=lane.id,
        direction=lane.direction,
        plate=read.plate.number if read.plate else None,
        plate_colour=read.plate_colour.value if read.plate_colour else None,
        vehicle_type=read.vehicle_type,
        vehicle_colour=read.vehicle_colour,
        confidence=read.confidence,
        image_ref=read.image_ref,
        read_at=min(read.device_time, now),
        created_at=now,
        details={"vendor": read.vendor, "offline": read.offline, "payload": read.payload},
    )


async def record_decision(
    uow: UnitOfWork,
    lane: LaneFacts,
    passage: LanePassageRow,
    decision: Decision,
    stay_id: int | None,
) -> None:
    """Put the decision on the passage and, when a human is needed, a task in the queue."""
    passage.action = decision.action.value
    passage.reason = decision.reason
    passage.display = decision.display_zh[:128]
    passage.stay_id = stay_id
    passage.status = {
        LaneAction.PAY: "awaiting_payment",
        LaneAction.HOLD: "held",
    }.get(decision.action, "done")
    passage.details = {**(passage.details or {}), "flags": list(decision.flags)}
    if passage.details.get("offline"):
        passage.status = "done"  # the lane already let the car through on its own
    hold = decision.action is LaneAction.HOLD and decision.hold is not None
    await uow.lots.insert(passage, key_now=hold)  # a task names the passage
    if hold and decision.hold is not None:
        uow.lots.add(
            AttendantTaskRow(
                lane_id=lane.id,
                passage_id=passage.id,
                reason=decision.hold.value,
                created_at=passage.created_at,
                note=decision.reason,
            )
        )


def replay(passage: LanePassageRow, lot: str, lane: str, *, duplicate: bool) -> LaneOutcome:
    """The outcome a passage stands for; a resend of its read gets the same answer."""
    if passage.details.get("offline"):
        return LaneOutcome("duplicate" if duplicate else "recorded", passage.ref)
    decision = Decision(
        LaneAction(passage.action),
        passage.reason,
        passage.display,
        flags=tuple(passage.details.get("flags", [])),
    )
    ref = passage.details.get("stay_ref")
    pay_url = PAY_URL.format(stay_ref=ref) if decision.action is LaneAction.PAY and ref else None
    if decision.reason == "no_plate":
        pay_url = ENTRY_QR_URL.format(lot=lot, lane=lane)
    return LaneOutcome(
        "duplicate" if duplicate else "applied",
        passage.ref,
        decision,
        ref,
        passage.fee_fen,
        pay_url,
        commands_for(f"{lot}/{lane}", decision, pay_url),
    )


async def on_gate_report(uow: UnitOfWork, clock: Clock, report: GateReport) -> str:
    """Keep a barrier's state; a fault puts the lane in the attendant's queue."""
    hold = HoldReason.DEVICE_FAULT if report.state is GateState.FAULT else None
    return await _device_event(uow, clock, report, f"gate_{report.state.value}", hold)


async def on_intercom_call(uow: UnitOfWork, clock: Clock, call: IntercomCall) -> str:
    """A driver called from a lane: the lane goes into the attendant's queue."""
    return await _device_event(uow, clock, call, "intercom_call", HoldReason.INTERCOM)


async def _device_event(
    uow: UnitOfWork,
    clock: Clock,
    event: GateReport | IntercomCall,
    kind: str,
    hold: HoldReason | None,
) -> str:
    found = await uow.lots.lane_of_device(event.device_code)
    if found is None:
        raise UnknownLaneDeviceError(detail=f"device {event.device_code!r}")
    lane, _ = found
    if await uow.events.exists(event.dedupe_key):
        return "duplicate"
    now = clock.now()
    uow.events.add(
        DeviceEventRow(
            dedupe_key=event.dedupe_key,
            vendor=event.vendor,
            device_code=event.device_code,
            kind=kind,
            device_time=event.device_time,
            received_at=now,
            payload=event.payload,
            outcome="applied" if hold is None else "review",
        )
    )
    if hold is not None and await uow.lots.open_task_for(lane.id, hold.value) is None:
        uow.lots.add(AttendantTaskRow(lane_id=lane.id, reason=hold.value, created_at=now))
    try:
        await uow.commit()
    except StoreConflictError:
        return "duplicate"
    return "applied"


async def settle_exit_payment(
    uow: UnitOfWork,
    clock: Clock,
    stay_ref: str,
    amount_fen: int,
    channel: str,
    *,
    paid_at: datetime | None = None,
) -> list[LaneCommand]:
    """A payment of a lot stay settled: note it, and open the lane where the car waits for it.

    Call it inside the caller's unit of work, before its commit (it does not commit, and posts
    no ledger entry: the payment's own entry is the caller's); publish the returned commands
    after the commit.
    """
    stay = await uow.stays.by_ref(stay_ref)
    details = await uow.lots.lot_stay(stay.id) if stay is not None else None
    if stay is None or details is None or stay.lot_id is None:
        raise StayNotFoundError(detail=f"lot stay {stay_ref!r}")
    details.paid_fen += amount_fen
    details.paid_at = paid_at or clock.now()
    commands: list[LaneCommand] = []
    lot = await uow.city.lot(stay.lot_id)
    for passage in await uow.lots.waiting_passages(stay.id):
        if passage.status != "awaiting_payment":
            continue
        owed = int(passage.details.get("owed_before_fen", 0)) + (passage.fee_fen or 0)
        if details.paid_fen < owed:
            continue
        text = f"{stay.plate or ''} 已缴费 一路顺风".strip()
        opened = Decision(LaneAction.OPEN, f"paid_{channel}", text)
        commands.extend(await open_waiting(uow, lot, passage, opened, channel))
    return commands


async def open_waiting(
    uow: UnitOfWork, lot: LotFacts, passage: LanePassageRow, opened: Decision, settled_by: str
) -> list[LaneCommand]:
    """Let the car waiting at a passage go: the passage is done, its lane opens."""
    lane, _ = await uow.lots.lane_by_id(passage.lane_id)
    passage.status = "done"
    passage.details = {**passage.details, "settled_by": settled_by}
    return commands_for(lane_name(lot, lane), opened)


def as_dict(outcome: LaneOutcome) -> dict[str, Any]:
    """A JSON-ready form of an outcome, for logs and HTTP answers."""
    decision = outcome.decision
    return {
        "outcome": outcome.outcome,
        "passage_ref": outcome.passage_ref,
        "action": decision.action.value if decision else None,
        "reason": decision.reason if decision else None,
        "display": decision.display_zh if decision else None,
        "stay_ref": outcome.stay_ref,
        "fee_fen": outcome.fee_fen,
        "pay_url": outcome.pay_url,
    }

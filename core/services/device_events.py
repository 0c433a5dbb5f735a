"""Use cases: video plate reads (stays and violations), heartbeats and faults of devices."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from core.availability import OccupancyChange
from core.berth_events import EventOutcome
from core.berth_rules import BerthRules, outside_clock_window
from core.billing import DayCalendar
from core.clock import Clock
from core.device_events import DeviceFault, Heartbeat, PlateRead
from core.errors import NotFoundError
from core.services.berth_events import (
    DEFAULT_RULES,
    BerthEventResult,
    UnknownBerthError,
    commit_once,
    occupancy_change,
)
from core.services.berth_timeline import BerthTimeline
from core.store.activity import DeviceEventRow
from core.store.city import BerthRow
from core.store.devices import ViolationRow
from core.store.unit_of_work import UnitOfWork


class UnknownDeviceError(NotFoundError):
    """The event names a device the city has not registered."""

    code = "unknown_device"
    message_zh = "设备编号不存在"


@dataclass(frozen=True, slots=True)
class PlateReadResult:
    """What a plate read did: the stay it named and the violation it raised."""

    outcome: EventOutcome
    stay_ref: str | None = None
    violation_ref: str | None = None
    note: str | None = None
    change: OccupancyChange | None = None


async def record_plate_read(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    read: PlateRead,
    rules: BerthRules = DEFAULT_RULES,
) -> PlateReadResult:
    """Attach a video plate read to its berth's stay, or record a violation, in one transaction."""
    berth = None
    if read.berth_code is not None:
        berth = await uow.city.berth_by_code(read.berth_code)
        if berth is None:
            raise UnknownBerthError(detail=f"berth {read.berth_code!r}")
        await uow.onstreet.lock_berth(berth.id)
    if await uow.events.exists(read.dedupe_key):
        return PlateReadResult(EventOutcome.DUPLICATE)
    now = clock.now()
    row = _event_row(read.dedupe_key, read.vendor, read.device_code, "plate_read", read, now)
    uow.events.add(row)
    if clock_note := outside_clock_window(read.device_time, now, rules):
        row.outcome, row.note = "review", clock_note
        await commit_once(uow, read.dedupe_key, BerthEventResult(EventOutcome.REVIEW))
        return PlateReadResult(EventOutcome.REVIEW, note=row.note)
    violation = await _violation(uow, read, berth, now)
    result = PlateReadResult(EventOutcome.APPLIED, violation_ref=violation)
    if berth is not None and berth.zone_id is None:
        row.outcome, row.note = "review", "berth belongs to a lot, not a zone"
        result = PlateReadResult(EventOutcome.REVIEW, violation_ref=violation, note=row.note)
    elif berth is not None and read.plate is not None:
        timeline = BerthTimeline(uow, clock, calendar, rules, berth)
        image = read.image_refs[0] if read.image_refs else None
        effect = await timeline.add(row, "plate", read.plate.number, image)
        outcome = EventOutcome.APPLIED if effect.placed else EventOutcome.REVIEW
        change = await occupancy_change(uow, berth, now, timeline.occupied)
        result = PlateReadResult(outcome, effect.stay_ref, violation, effect.note or None, change)
    committed = await commit_once(uow, read.dedupe_key, BerthEventResult(result.outcome))
    if committed.outcome is EventOutcome.DUPLICATE:
        return PlateReadResult(EventOutcome.DUPLICATE)
    return result


async def _violation(
    uow: UnitOfWork, read: PlateRead, berth: BerthRow | None, now: datetime
) -> str | None:
    """Record a capture when the car is outside any berth or in a closed one."""
    if berth is None:
        kind = "outside_berth"
    elif berth.closed or await uow.onstreet.closure_at(berth.id, read.device_time) is not None:
        kind = "closed_berth"
    else:
        return None
    ref = uuid.uuid4().hex[:20]
    uow.onstreet.add_violation(
        ViolationRow(
            ref=ref,
            kind=kind,
            plate=read.plate.number if read.plate else None,
            plate_colour=read.plate_colour.value if read.plate_colour else None,
            device_code=read.device_code,
            berth_id=berth.id if berth else None,
            location=read.location or (berth.code if berth else ""),
            observed_at=read.device_time,
            images={"refs": list(read.image_refs)},
            status="open",
            created_at=now,
        )
    )
    return ref


async def record_heartbeat(
    uow: UnitOfWork, clock: Clock, beat: Heartbeat, rules: BerthRules = DEFAULT_RULES
) -> EventOutcome:
    """Note that a device is alive, with its battery and signal when this beat is the newest."""
    device = await uow.onstreet.device(beat.device_code)
    if device is None:
        raise UnknownDeviceError(detail=f"device {beat.device_code!r}")
    now = clock.now()
    row = _event_row(beat.dedupe_key, beat.vendor, beat.device_code, "heartbeat", beat, now)
    if clock_note := outside_clock_window(beat.device_time, now, rules):
        row.outcome, row.note = "review", clock_note
    # One statement that waits for a concurrent twin: a resend sent at once is a duplicate.
    if not await uow.onstreet.insert_event(row):
        return EventOutcome.DUPLICATE
    if row.outcome != "review":
        health = await uow.onstreet.locked_health(device.id)
        # A late heartbeat proves the device was alive then, but says nothing about now.
        if health.last_heartbeat_at is None or health.last_heartbeat_at < beat.device_time:
            health.last_heartbeat_at = beat.device_time
            health.battery_pct = beat.battery_pct
            health.signal_dbm = beat.signal_dbm
    committed = await commit_once(uow, beat.dedupe_key, BerthEventResult(EventOutcome.APPLIED))
    if committed.outcome is EventOutcome.DUPLICATE:
        return EventOutcome.DUPLICATE
    return EventOutcome.REVIEW if row.outcome == "review" else EventOutcome.APPLIED


async def record_fault(uow: UnitOfWork, clock: Clock, fault: DeviceFault) -> EventOutcome:
    """Raise or clear a device's fault; the newest report by device time wins."""
    device = await uow.onstreet.device(fault.device_code)
    if device is None:
        raise UnknownDeviceError(detail=f"device {fault.device_code!r}")
    now = clock.now()
    row = _event_row(fault.dedupe_key, fault.vendor, fault.device_code, "fault", fault, now)
    if not await uow.onstreet.insert_event(row):
        return EventOutcome.DUPLICATE
    health = await uow.onstreet.locked_health(device.id)
    if health.fault_at is None or health.fault_at <= fault.device_time:
        health.fault_at = fault.device_time
        health.fault_code = None if fault.cleared else fault.fault_code
        health.fault_text = None if fault.cleared else fault.description
    committed = await commit_once(uow, fault.dedupe_key, BerthEventResult(EventOutcome.APPLIED))
    return committed.outcome


def _event_row(
    key: str,
    vendor: str,
    device_code: str,
    kind: str,
    event: PlateRead | Heartbeat | DeviceFault,
    now: datetime,
) -> DeviceEventRow:
    return DeviceEventRow(
        dedupe_key=key,
        vendor=vendor,
        device_code=device_code,
        kind=kind,
        device_time=event.device_time,
        received_at=now,
        payload=event.payload,
        outcome="applied",
    )

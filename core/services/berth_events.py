"""Use case: a berth sensor or video event opens, closes and prices on-street stays."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from core.availability import OccupancyChange
from core.berth_events import BerthEvent, EventOutcome
from core.berth_rules import BerthRules, outside_clock_window
from core.billing import DayCalendar
from core.clock import Clock
from core.errors import NotFoundError
from core.services.berth_timeline import BerthTimeline
from core.services.notices import notify_stay_opened
from core.store.activity import DeviceEventRow
from core.store.city import BerthRow
from core.store.unit_of_work import StoreConflictError, UnitOfWork

log = logging.getLogger(__name__)

DEFAULT_RULES = BerthRules()


class UnknownBerthError(NotFoundError):
    """The event names a berth the city does not have."""

    code = "unknown_berth"
    message_zh = "泊位编号不存在"


@dataclass(frozen=True, slots=True)
class BerthEventResult:
    """What an event did, for the device's acknowledgement and the live counts."""

    outcome: EventOutcome
    stay_ref: str | None = None
    fee_fen: int | None = None
    note: str | None = None
    change: OccupancyChange | None = None


async def record_berth_event(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    event: BerthEvent,
    rules: BerthRules = DEFAULT_RULES,
) -> BerthEventResult:
    """Store the event once and place it on the berth's timeline, in one transaction."""
    result = await apply_berth_event(uow, clock, calendar, event, rules)
    if result.outcome is EventOutcome.DUPLICATE:
        return result
    return await commit_once(uow, event.dedupe_key, result)


async def apply_berth_event(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    event: BerthEvent,
    rules: BerthRules = DEFAULT_RULES,
) -> BerthEventResult:
    """Store the event once and re-derive the berth's timeline with it; the caller commits."""
    found = await uow.onstreet.lock_berth_by_code(event.berth_code)
    if found is None:
        raise UnknownBerthError(detail=f"berth {event.berth_code!r}")
    berth, closures = found
    now = clock.now()
    row = DeviceEventRow(
        dedupe_key=event.dedupe_key,
        vendor=event.vendor,
        device_code=event.device_code,
        kind=f"berth_{event.state.value}",
        device_time=event.device_time,
        received_at=now,
        payload=event.payload,
        outcome="applied",  # the usual case; the timeline says otherwise when it must
        note=None,
    )
    if berth.zone_id is None:
        row.outcome, row.note = "review", "berth belongs to a lot, not a zone"
    elif clock_note := outside_clock_window(event.device_time, now, rules):
        row.outcome, row.note = "review", clock_note
    # Dedupe and store in one statement; the berth lock orders resends of the same event.
    if not await uow.onstreet.insert_event(row):
        return BerthEventResult(EventOutcome.DUPLICATE)
    occupied: bool | None = None
    if row.outcome == "review":
        result = BerthEventResult(EventOutcome.REVIEW, note=row.note)
    else:
        timeline = BerthTimeline(uow, clock, calendar, rules, berth, closures=closures)
        plate = event.plate.number if event.plate else None
        effect = await timeline.add(row, event.state.value, plate, event.image_ref)
        await uow.onstreet.save_outcome(row)
        occupied = timeline.occupied
        if occupied:  # only an open stay is noticed, and only the last stay can be open
            await notify_stay_opened(uow, clock, effect.stay_ref)  # driver features, issue 7
        outcome = EventOutcome.APPLIED if effect.placed else EventOutcome.REVIEW
        result = BerthEventResult(outcome, effect.stay_ref, effect.fee_fen, effect.note or None)
    uow.onstreet.note_device(event.device_code, at=event.device_time)
    change = await occupancy_change(uow, berth, now, occupied)
    return _with_change(result, change)


async def occupancy_change(
    uow: UnitOfWork, berth: BerthRow, now: datetime, occupied: bool | None = None
) -> OccupancyChange | None:
    """Bump the berth's state version when its occupancy changed; None when it did not."""
    if occupied is None:
        occupied = await uow.onstreet.has_open_stay(berth.id)
    version = await uow.onstreet.set_occupancy(berth.id, occupied, now)
    return None if version is None else OccupancyChange(berth.code, occupied, version)


async def commit_once(
    uow: UnitOfWork, dedupe_key: str, result: BerthEventResult
) -> BerthEventResult:
    """Commit; a unique clash on the dedupe key means another worker stored it first."""
    await uow.onstreet.write_device_news()
    try:
        await uow.commit()
    except StoreConflictError:
        if await uow.events.exists(dedupe_key):
            return BerthEventResult(EventOutcome.DUPLICATE)
        raise
    return result


def _with_change(result: BerthEventResult, change: OccupancyChange | None) -> BerthEventResult:
    return BerthEventResult(result.outcome, result.stay_ref, result.fee_fen, result.note, change)

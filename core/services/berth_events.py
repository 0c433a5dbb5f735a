"""Use case: a berth sensor or video event opens, closes and prices on-street stays."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from core.berth_events import BerthEvent, BerthState, EventOutcome
from core.billing import CalendarUnknownError, DayCalendar
from core.clock import Clock
from core.errors import NotFoundError
from core.ledger import stay_charged
from core.services.pricing import price_street_stay
from core.store.activity import DeviceEventRow, StayRow
from core.store.city import BerthRow
from core.store.unit_of_work import StoreConflictError, UnitOfWork

log = logging.getLogger(__name__)


class UnknownBerthError(NotFoundError):
    """The event names a berth the city does not have."""

    code = "unknown_berth"
    message_zh = "泊位编号不存在"


@dataclass(frozen=True, slots=True)
class BerthEventResult:
    """What an event did, for the device's acknowledgement."""

    outcome: EventOutcome
    stay_ref: str | None = None
    fee_fen: int | None = None
    note: str | None = None


async def record_berth_event(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, event: BerthEvent
) -> BerthEventResult:
    """Store the event once and apply it to the berth's stay, in one transaction."""
    if await uow.events.exists(event.dedupe_key):
        return BerthEventResult(EventOutcome.DUPLICATE)
    berth = await uow.city.berth_by_code(event.berth_code)
    if berth is None:
        raise UnknownBerthError(detail=f"berth {event.berth_code!r}")
    if event.state is BerthState.OCCUPIED:
        result = await _open_stay(uow, berth, event)
    else:
        result = await _close_stay(uow, clock, calendar, berth, event)
    uow.events.add(
        DeviceEventRow(
            dedupe_key=event.dedupe_key,
            vendor=event.vendor,
            device_code=event.device_code,
            kind=f"berth_{event.state.value}",
            device_time=event.device_time,
            received_at=clock.now(),
            payload=event.payload,
            outcome=result.outcome.value,
            note=result.note,
        )
    )
    try:
        await uow.commit()
    except StoreConflictError:
        # The same event raced in on another worker; it won, so this one is the resend.
        if await uow.events.exists(event.dedupe_key):
            return BerthEventResult(EventOutcome.DUPLICATE)
        raise
    return result


async def _open_stay(uow: UnitOfWork, berth: BerthRow, event: BerthEvent) -> BerthEventResult:
    if berth.zone_id is None:
        return BerthEventResult(EventOutcome.REVIEW, note="berth belongs to a lot, not a zone")
    current = await uow.stays.open_at_berth(berth.id)
    if current is not None:
        return BerthEventResult(
            EventOutcome.REVIEW, stay_ref=current.ref, note="occupied while a stay is open"
        )
    zone = await uow.city.zone(berth.zone_id)
    stay = StayRow(
        ref=uuid.uuid4().hex[:20],
        plate=event.plate.number if event.plate else None,
        operator_id=zone.operator_id,
        zone_id=zone.id,
        berth_id=berth.id,
        status="open",
        entered_at=event.device_time,
    )
    uow.stays.add(stay)
    return BerthEventResult(EventOutcome.APPLIED, stay_ref=stay.ref)


async def _close_stay(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, berth: BerthRow, event: BerthEvent
) -> BerthEventResult:
    stay = await uow.stays.open_at_berth(berth.id)
    if stay is None:
        return BerthEventResult(EventOutcome.REVIEW, note="vacated without an open stay")
    if event.device_time < stay.entered_at:
        return BerthEventResult(
            EventOutcome.REVIEW, stay_ref=stay.ref, note="vacated before the stay began"
        )
    stay.exited_at = event.device_time
    if stay.plate is None:
        stay.status = "review"
        return BerthEventResult(EventOutcome.REVIEW, stay_ref=stay.ref, note="stay has no plate")
    try:
        priced = await price_street_stay(uow, stay, event.device_time, calendar)
    except CalendarUnknownError as exc:
        stay.status = "review"
        return BerthEventResult(EventOutcome.REVIEW, stay_ref=stay.ref, note=str(exc))
    stay.tariff_code, stay.tariff_version = priced.tariff_code, priced.tariff_version
    stay.quote = priced.quote.to_dict()
    if priced.quote.needs_review:
        stay.status = "review"
        return BerthEventResult(EventOutcome.REVIEW, stay_ref=stay.ref, note="implausible fee")
    stay.status = "closed"
    stay.fee_fen = priced.quote.total_fen
    if stay.fee_fen > 0:
        operator = await uow.city.operator(stay.operator_id)
        entry = stay_charged(stay.ref, stay.plate, operator.code, stay.fee_fen)
        await uow.ledger.post(entry, clock.now())
    return BerthEventResult(EventOutcome.APPLIED, stay_ref=stay.ref, fee_fen=stay.fee_fen)

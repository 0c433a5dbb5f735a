"""Use cases that read stays for drivers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.billing import CalendarUnknownError, DayCalendar
from core.clock import Clock
from core.plates import Plate
from core.services.pricing import price_street_stay
from core.store.activity import StayRow
from core.store.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class StayView:
    """A stay with its fee, final or so far."""

    ref: str
    plate: str
    status: str
    place: str
    entered_at: datetime
    exited_at: datetime | None
    fee_fen: int | None
    explanation: str | None
    lines: list[dict[str, Any]] = field(default_factory=list)


async def list_plate_stays(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, plate: Plate
) -> list[StayView]:
    """A plate's stays still to pay (open, under review, or closed and unpaid), for anyone.

    Anyone can type a plate, so paid stays (the plate's history) are left out here; a driver
    whose binding is verified sees them through core.services.driver_stays.
    """
    views = []
    for row in await uow.stays.for_plate(plate.number):
        if row.status == "closed" and (
            not row.fee_fen or await uow.payments.settled_for_stay(row.ref) is not None
        ):
            continue
        views.append(await _view(uow, clock, calendar, row))
    return views


async def stay_view(uow: UnitOfWork, clock: Clock, calendar: DayCalendar, row: StayRow) -> StayView:
    """A stay with its fee: final when closed, priced up to now when open."""
    return await _view(uow, clock, calendar, row)


async def _view(uow: UnitOfWork, clock: Clock, calendar: DayCalendar, row: StayRow) -> StayView:
    place = await uow.city.place_name(row.berth_id, row.lot_id)
    quote = row.quote
    if row.status == "open" and row.zone_id is not None:
        quote = await _quote_so_far(uow, clock, calendar, row)
    return StayView(
        ref=row.ref,
        plate=row.plate or "",
        status=row.status,
        place=place,
        entered_at=row.entered_at,
        exited_at=row.exited_at,
        fee_fen=row.fee_fen if row.status != "open" else _total(quote),
        explanation=str(quote["explanation_zh"]) if quote else None,
        lines=list(quote["lines"]) if quote else [],
    )


async def _quote_so_far(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, row: StayRow
) -> dict[str, Any] | None:
    now = max(clock.now(), row.entered_at)
    try:
        priced = await price_street_stay(uow, row, now, calendar)
    except CalendarUnknownError:
        return None
    return priced.quote.to_dict()


def _total(quote: dict[str, Any] | None) -> int | None:
    return int(quote["total_fen"]) if quote else None

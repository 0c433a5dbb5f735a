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


@dataclass(frozen=True, slots=True)
class PayableStay:
    """A stay anyone may pay for a plate: its reference and the amount due, not where or when."""

    ref: str
    plate: str
    due_fen: int


async def payable_stays(uow: UnitOfWork, plate: Plate) -> list[PayableStay]:
    """A plate's closed stays with money due, oldest first, for whoever typed the plate.

    Anyone can type a plate, and an unverified binding can pay, not look: so no place, times,
    breakdown or open stay (where the car is now) here. A verified driver sees those through
    core.services.driver_stays.
    """
    found = await uow.stays.unpaid_for_plate(plate.number)
    return [PayableStay(row.ref, plate.number, due) for row, due in found]


async def paid_toward(uow: UnitOfWork, stay: StayRow) -> int:
    """What a stay holds toward its fee: every channel at a lot; its settled payments on the
    street (a refund under way counts once it is done, as at the lot)."""
    if stay.lot_id is not None:
        details = await uow.lots.lot_stay(stay.id)
        return details.paid_fen if details is not None else 0
    return await uow.payments.held_for_stay(stay.ref)


async def stay_view(uow: UnitOfWork, clock: Clock, calendar: DayCalendar, row: StayRow) -> StayView:
    """A stay with its fee: final when closed, priced up to now when open."""
    place = await uow.city.place_name(row.berth_id, row.lot_id)
    return await _view(uow, clock, calendar, row, place)


async def stay_views(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, rows: list[StayRow]
) -> list[StayView]:
    """stay_view of each row, their places read together (a page of history)."""
    places = await uow.city.place_names(rows)
    return [await _view(uow, clock, calendar, row, places[row.id]) for row in rows]


async def _view(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, row: StayRow, place: str
) -> StayView:
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
        explanation=str(quote["explanation_zh"]) if quote and "explanation_zh" in quote else None,
        lines=list(quote.get("lines", [])) if quote else [],
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
    return int(quote["total_fen"]) if quote and "total_fen" in quote else None

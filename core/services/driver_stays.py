"""Use cases of a verified driver looking at their plates: current stays, history, detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.billing import DayCalendar
from core.clock import Clock
from core.errors import NotFoundError
from core.payments import Payment
from core.services.lot_pricing import price_lot_stay
from core.services.stays import StayView, paid_toward, stay_view, stay_views
from core.services.vehicles import list_plates, require_verified
from core.store.activity import StayRow
from core.store.unit_of_work import UnitOfWork

CURRENT = ("open",)
PAST = ("closed", "review")


class StayNotFoundError(NotFoundError):
    """No stay with this reference belongs to the driver's plates."""

    code = "stay_not_found"
    message_zh = "未找到该停车记录"


@dataclass(frozen=True, slots=True)
class StayImage:
    """A camera image of the stay."""

    taken_at: datetime
    ref: str


@dataclass(frozen=True, slots=True)
class DriverStay:
    """A stay of a verified plate: the fee, whether it is paid, and on detail its evidence."""

    view: StayView
    paid: bool
    tariff: str | None
    payments: tuple[Payment, ...] = ()
    images: tuple[StayImage, ...] = ()
    auto_pay: str | None = None  # core.auto_pay.ParkingState, when the stay was told to WeChat


async def current_stays(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, driver_id: int
) -> list[DriverStay]:
    """Open stays of the driver's verified plates, priced up to now."""
    rows = await _visible(uow, driver_id, CURRENT, limit=50, before_id=None)
    return [DriverStay(view, False, None) for view in await stay_views(uow, clock, calendar, rows)]


async def stay_history(
    uow: UnitOfWork,
    clock: Clock,
    calendar: DayCalendar,
    driver_id: int,
    *,
    limit: int,
    before_ref: str | None,
) -> list[DriverStay]:
    """Ended stays of the driver's verified plates, newest first, paged by a stay reference."""
    before_id = None
    if before_ref is not None:
        cursor = await uow.stays.by_ref(before_ref)
        if cursor is None or cursor.plate is None:
            raise StayNotFoundError(detail=f"cursor {before_ref}")
        try:
            await require_verified(uow, driver_id, cursor.plate, cursor.ref)
        except NotFoundError:
            raise StayNotFoundError(detail=f"cursor {before_ref}") from None
        before_id = cursor.id
    rows = await _visible(uow, driver_id, PAST, limit=limit, before_id=before_id)
    held = await uow.stays.paid_toward(rows)
    views = await stay_views(uow, clock, calendar, rows)
    return [
        DriverStay(
            view, held[row.id] >= (row.fee_fen or 0), _tariff(row.tariff_code, row.tariff_version)
        )
        for row, view in zip(rows, views, strict=True)
    ]


async def stay_detail(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, driver_id: int, ref: str
) -> DriverStay:
    """One stay of a verified plate with its breakdown, payments and images."""
    row = await uow.stays.by_ref(ref)
    if row is None or row.plate is None or row.status == "void":
        raise StayNotFoundError(detail=ref)
    try:
        await require_verified(uow, driver_id, row.plate, row.ref)
    except NotFoundError:
        raise StayNotFoundError(detail=ref) from None  # a stranger learns nothing
    paid = await _paid_in_full(uow, row)
    images = tuple(StayImage(at, ref) for at, ref in await uow.vehicles.stay_images(row.id))
    parking = await uow.auto_pay.parking(row.ref)
    return DriverStay(
        await stay_view(uow, clock, calendar, row),
        paid,
        _tariff(row.tariff_code, row.tariff_version),
        tuple(await uow.payments.for_stay(row.ref)),
        images,
        parking.state if parking is not None else None,
    )


async def _visible(
    uow: UnitOfWork,
    driver_id: int,
    statuses: tuple[str, ...],
    *,
    limit: int,
    before_id: int | None,
) -> list[StayRow]:
    """Stays of the verified plates, and of plates verified by paying those the driver paid."""
    bound = await list_plates(uow, driver_id)  # one read for both kinds of verified plate
    plates = sorted(b.plate for b in bound if b.verified)
    rows = await uow.vehicles.stays(plates, statuses, limit=limit, before_id=before_id)
    paying = [b.plate for b in bound if b.paid_stays_only]
    rows += await uow.vehicles.paid_stays(
        driver_id, paying, statuses, limit=limit, before_id=before_id
    )
    return sorted(rows, key=lambda row: row.id, reverse=True)[:limit]


async def _paid_in_full(uow: UnitOfWork, row: StayRow) -> bool:
    """Whether a stay holds its whole fee (a fee that grew after payment is not paid in full)."""
    return await paid_toward(uow, row) >= (row.fee_fen or 0)


def _tariff(code: str | None, version: int | None) -> str | None:
    return f"{code} v{version}" if code else None


@dataclass(frozen=True, slots=True)
class UnpaidStay:
    """A stay of a verified plate with money due: where, when and how much."""

    ref: str
    plate: str
    place: str
    entered_at: datetime
    exited_at: datetime | None
    due_fen: int


async def unpaid_stays(uow: UnitOfWork, driver_id: int, plate: str) -> list[UnpaidStay]:
    """A plate's stays with money due, with places and times: a verified binding only."""
    await require_verified(uow, driver_id, plate)
    return [
        UnpaidStay(
            row.ref,
            plate,
            await uow.city.place_name(row.berth_id, row.lot_id),
            row.entered_at,
            row.exited_at,
            due,
        )
        for row, due in await uow.stays.unpaid_for_plate(plate)
    ]


async def lot_fee_so_far(
    uow: UnitOfWork, clock: Clock, calendar: DayCalendar, ref: str
) -> int | None:
    """What an open lot stay would be due if the car left now (None: not a lot stay)."""
    row = await uow.stays.by_ref(ref)
    if row is None or row.lot_id is None or row.status != "open":
        return None
    details = await uow.lots.lot_stay(row.id)
    if details is None:
        return None
    lot = await uow.city.lot(row.lot_id)
    return (await price_lot_stay(uow, calendar, lot, row, details, clock.now())).due_fen

"""Use case: rebuild one day of the report roll-ups (idempotent: a day's rows are replaced)."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from core.arrears import age_days
from core.bills import day_bounds
from core.errors import DomainError
from core.jobs import JobContext, JobDetail
from core.reports.ageing import bucket_of
from core.reports.occupancy import hourly_use
from core.store.rollup_repository import Place
from core.store.unit_of_work import UnitOfWork


class RollupMismatchError(DomainError):
    """The day's revenue roll-up does not add up to the ledger: an entry was not attributed."""

    code = "rollup_mismatch"
    status = 500
    message_zh = "营收汇总与总账不符"


def _owner(places: dict[str, Place], code: str) -> dict[str, str]:
    """The operator and district columns of a place's rows ('' for a place not found)."""
    place = places.get(code)
    return {
        "operator_code": place.operator_code if place else "",
        "district_code": place.district_code if place else "",
    }


async def roll_up_revenue(uow: UnitOfWork, day: date) -> int:
    """Replace the day's revenue rows; raise unless they sum to the ledger to the fen."""
    rolled, ledger = await uow.rollups.replace_revenue(day)
    if rolled != ledger:
        raise RollupMismatchError(detail=f"{day}: rolled {rolled} fen, ledger {ledger} fen")
    return rolled


async def roll_up_occupancy(uow: UnitOfWork, day: date, places: dict[str, Place]) -> int:
    """Replace the day's hourly occupancy rows; the rows written."""
    _, end = day_bounds(day)
    use = hourly_use(await uow.rollups.spans(day), day, end)
    rows = [
        {
            "hour": hour,
            "operator_code": places[code].operator_code,
            "district_code": places[code].district_code,
            "place_code": code,
            "berths": places[code].berths,
            "arrivals": u.arrivals,
            "occupied_seconds": u.occupied_seconds,
        }
        for (code, hour), u in sorted(use.items())
        if code in places
    ]
    await uow.rollups.replace_occupancy(day, rows)
    return len(rows)


async def roll_up_arrears(uow: UnitOfWork, day: date, places: dict[str, Place]) -> int:
    """Replace the day's arrears snapshot (as at the day's end) by zone and age bucket."""
    _, end = day_bounds(day)
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in await uow.rollups.unpaid_at(end):
        key = (item.zone_code, bucket_of(age_days(item.exited_at, end)))
        sums[key][0] += 1
        sums[key][1] += item.due_fen
    rows = [
        {
            **_owner(places, zone),
            "zone_code": zone,
            "bucket": bucket,
            "stays": n,
            "due_fen": fen,
        }
        for (zone, bucket), (n, fen) in sorted(sums.items())
    ]
    await uow.rollups.replace_arrears(day, rows)
    return len(rows)


async def roll_up_devices(uow: UnitOfWork, day: date, places: dict[str, Place]) -> int:
    """Replace the day's device rows: devices per place and kind, device-hours heard."""
    heard = await uow.rollups.heard_hours(day)
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for code, kind, place in await uow.rollups.device_places():
        sums[(place, kind)][0] += 1
        sums[(place, kind)][1] += heard.get(code, 0)
    rows = [
        {
            **_owner(places, place),
            "place_code": place,
            "kind": kind,
            "devices": n,
            "hours_heard": hours,
        }
        for (place, kind), (n, hours) in sorted(sums.items())
    ]
    await uow.rollups.replace_devices(day, rows)
    return len(rows)


async def run_rollups(ctx: JobContext, day: date) -> JobDetail:
    """The daily roll-up job: every table for `day`, one transaction, progress per table."""
    async with ctx.uows() as uow:
        places = await uow.rollups.places()
        ctx.progress(0, 6)
        revenue_fen = await roll_up_revenue(uow, day)
        ctx.progress(1, 6)
        hours = await roll_up_occupancy(uow, day, places)
        ctx.progress(2, 6)
        arrears = await roll_up_arrears(uow, day, places)
        ctx.progress(3, 6)
        shifts = await uow.rollups.replace_shifts(day)
        ctx.progress(4, 6)
        devices = await roll_up_devices(uow, day, places)
        ctx.progress(5, 6)
        await uow.rollups.replace_invoices(day)
        await uow.commit()
        ctx.progress(6, 6)
    return {
        "revenue_fen": revenue_fen,
        "occupancy_rows": hours,
        "arrears_rows": arrears,
        "shift_rows": shifts,
        "device_rows": devices,
    }

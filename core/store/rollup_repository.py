"""Rebuilds one day of the roll-up tables from the raw rows; never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import String, and_, delete, func, insert, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.bills import day_bounds
from core.payments import SETTLED_STATUSES
from core.reports.occupancy import Span
from core.store.activity import DeviceEventRow, StayRow
from core.store.base import Base
from core.store.city import BerthRow, DeviceRow, DistrictRow, LaneRow, LotRow, OperatorRow, ZoneRow
from core.store.invoices import InvoiceRow
from core.store.lots import CashierShiftRow
from core.store.pass_sales import RightOrderRow
from core.store.payments import PaymentRow
from core.store.people import StaffRow
from core.store.revenue_rollup import ledger_total_of_day, revenue_of_day
from core.store.rollups import (
    ArrearsDayRow,
    DeviceDayRow,
    InvoiceDayRow,
    OccupancyHourRow,
    RevenueDayRow,
    ShiftDayRow,
)

_SETTLED = sorted(s.value for s in SETTLED_STATUSES)


@dataclass(frozen=True, slots=True)
class Place:
    """A zone or lot with its operator, district and berths (a lot's capacity)."""

    code: str
    operator_code: str
    district_code: str
    berths: int


@dataclass(frozen=True, slots=True)
class Unpaid:
    """An unpaid on-street stay at a moment: where, when it ended, what is due."""

    zone_code: str
    exited_at: datetime
    due_fen: int


class RollupRepository:
    """Writes a day's roll-up rows (deleting what the day had first) and reads their inputs."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _clear(self, table: type[Base], day: date) -> None:
        await self._session.execute(delete(table).where(table.day == day))  # type: ignore[attr-defined]

    async def replace_revenue(self, day: date) -> tuple[int, int]:
        """Roll the day's ledger up; (fen rolled up, fen the ledger moved) for the check."""
        await self._clear(RevenueDayRow, day)
        start, end = day_bounds(day)
        rows = revenue_of_day(start, end)
        names = [c.name for c in rows.selected_columns]
        source = rows.add_columns(literal(day).label("day"))
        await self._session.execute(insert(RevenueDayRow).from_select([*names, "day"], source))
        rolled = await self._session.scalar(
            select(func.coalesce(func.sum(RevenueDayRow.amount_fen), 0)).where(
                RevenueDayRow.day == day
            )
        )
        ledger = await self._session.scalar(ledger_total_of_day(start, end))
        return int(rolled or 0), int(ledger or 0)

    async def places(self) -> dict[str, Place]:
        """Every zone (berths counted) and lot (its capacity), by code."""
        zone_berths = (
            select(BerthRow.zone_id, func.count().label("berths"))
            .where(BerthRow.zone_id.is_not(None))
            .group_by(BerthRow.zone_id)
            .subquery()
        )
        zones = (
            select(ZoneRow.code, OperatorRow.code, DistrictRow.code, zone_berths.c.berths)
            .join(OperatorRow, OperatorRow.id == ZoneRow.operator_id)
            .join(DistrictRow, DistrictRow.id == ZoneRow.district_id)
            .outerjoin(zone_berths, zone_berths.c.zone_id == ZoneRow.id)
        )
        lots = (
            select(LotRow.code, OperatorRow.code, DistrictRow.code, LotRow.capacity)
            .join(OperatorRow, OperatorRow.id == LotRow.operator_id)
            .join(DistrictRow, DistrictRow.id == LotRow.district_id)
        )
        found = {}
        for query in (zones, lots):
            for code, operator, district, berths in await self._session.execute(query):
                found[code] = Place(code, operator, district, int(berths or 0))
        return found

    async def spans(self, day: date) -> list[Span]:
        """Stays that were at a place during the day (not void), with the place's code."""
        start, end = day_bounds(day)
        place = func.coalesce(LotRow.code, ZoneRow.code)
        query = (
            select(place, StayRow.entered_at, StayRow.exited_at)
            .outerjoin(LotRow, LotRow.id == StayRow.lot_id)
            .outerjoin(ZoneRow, ZoneRow.id == StayRow.zone_id)
            .where(
                StayRow.entered_at < end,
                or_(StayRow.exited_at.is_(None), StayRow.exited_at >= start),
                StayRow.status != "void",
            )
        )
        rows = await self._session.execute(query)
        return [Span(code, entered, exited) for code, entered, exited in rows if code]

    async def replace_occupancy(self, day: date, rows: Sequence[dict[str, Any]]) -> None:
        """Store the day's hours."""
        await self._clear(OccupancyHourRow, day)
        if rows:
            await self._session.execute(insert(OccupancyHourRow), [{**r, "day": day} for r in rows])

    async def unpaid_at(self, moment: datetime) -> list[Unpaid]:
        """On-street stays ended before `moment` whose fee payments made by then do not cover."""
        held = (
            select(func.coalesce(func.sum(PaymentRow.amount_fen - PaymentRow.refunded_fen), 0))
            .where(
                PaymentRow.stay_ref == StayRow.ref,
                PaymentRow.status.in_(_SETTLED),
                PaymentRow.paid_at < moment,
            )
            .scalar_subquery()
        )
        query = (
            select(ZoneRow.code, StayRow.exited_at, StayRow.fee_fen - held)
            .join(ZoneRow, ZoneRow.id == StayRow.zone_id)
            .where(
                StayRow.status == "closed",
                StayRow.lot_id.is_(None),
                StayRow.fee_fen > 0,
                StayRow.exited_at < moment,
                StayRow.plate.is_not(None),
                StayRow.fee_fen > held,
            )
        )
        return [
            Unpaid(zone, exited, int(due))
            for zone, exited, due in await self._session.execute(query)
        ]

    async def replace_arrears(self, day: date, rows: Sequence[dict[str, Any]]) -> None:
        """Store the day's arrears snapshot."""
        await self._clear(ArrearsDayRow, day)
        if rows:
            await self._session.execute(insert(ArrearsDayRow), [{**r, "day": day} for r in rows])

    async def replace_shifts(self, day: date) -> int:
        """Roll up the shifts closed on the day by lot and cashier; the rows written."""
        await self._clear(ShiftDayRow, day)
        start, end = day_bounds(day)
        s = CashierShiftRow
        keys = (OperatorRow.code, DistrictRow.code, LotRow.code, StaffRow.username)
        source = (
            select(
                literal(day).label("day"),
                *keys,
                func.count(),
                func.sum(func.coalesce(s.expected_cash_fen, 0)),
                func.sum(func.coalesce(s.counted_cash_fen, 0)),
                func.sum(func.coalesce(s.difference_fen, 0)),
            )
            .join(LotRow, LotRow.id == s.lot_id)
            .join(OperatorRow, OperatorRow.id == LotRow.operator_id)
            .join(DistrictRow, DistrictRow.id == LotRow.district_id)
            .join(StaffRow, StaffRow.id == s.staff_id)
            .where(s.status == "closed", s.closed_at >= start, s.closed_at < end)
            .group_by(*keys)
        )
        columns = [
            "day",
            "operator_code",
            "district_code",
            "lot_code",
            "cashier",
            "shifts",
            "expected_cash_fen",
            "counted_cash_fen",
            "difference_fen",
        ]
        result = await self._session.execute(insert(ShiftDayRow).from_select(columns, source))
        return int(getattr(result, "rowcount", 0) or 0)

    async def device_places(self) -> list[tuple[str, str, str]]:
        """Each device's code, kind and the code of the zone or lot it serves."""
        place = func.coalesce(ZoneRow.code, LotRow.code, literal("", String))
        query = (
            select(DeviceRow.code, DeviceRow.kind, place)
            .outerjoin(BerthRow, BerthRow.id == DeviceRow.berth_id)
            .outerjoin(LaneRow, LaneRow.id == DeviceRow.lane_id)
            .outerjoin(ZoneRow, ZoneRow.id == BerthRow.zone_id)
            .outerjoin(LotRow, LotRow.id == func.coalesce(BerthRow.lot_id, LaneRow.lot_id))
        )
        return [(c, k, p) for c, k, p in await self._session.execute(query)]

    async def pass_terms(self, start: datetime, end: datetime) -> list[PassTerm]:
        """Applied pass orders whose bought term may overlap [start, end)."""
        return await pass_terms(self._session, start, end)

    async def heard_hours(self, day: date) -> dict[str, int]:
        """Per device, in how many of the day's hours it sent anything."""
        start, _ = day_bounds(day)
        heard: dict[str, int] = {}
        for hour in range(24):
            begin = start + timedelta(hours=hour)
            query = (
                select(DeviceEventRow.device_code)
                .where(
                    DeviceEventRow.device_time >= begin,
                    DeviceEventRow.device_time < begin + timedelta(hours=1),
                )
                .distinct()
            )
            for code in await self._session.scalars(query):
                heard[code] = heard.get(code, 0) + 1
        return heard

    async def replace_devices(self, day: date, rows: Iterable[dict[str, Any]]) -> None:
        """Store the day's device rows."""
        await self._clear(DeviceDayRow, day)
        values = [{**r, "day": day} for r in rows]
        if values:
            await self._session.execute(insert(DeviceDayRow), values)

    async def replace_invoices(self, day: date) -> None:
        """Roll up invoices issued and reversed on the day by seller and kind."""
        await self._clear(InvoiceDayRow, day)
        start, end = day_bounds(day)
        i = InvoiceRow

        def on_day(column: Any) -> Any:
            return and_(column >= start, column < end)

        source = (
            select(
                literal(day).label("day"),
                i.operator_code,
                i.kind,
                func.count(i.issued_at).filter(on_day(i.issued_at)),
                func.coalesce(func.sum(i.amount_fen).filter(on_day(i.issued_at)), 0),
                func.count(i.reversed_at).filter(on_day(i.reversed_at)),
                func.coalesce(func.sum(i.amount_fen).filter(on_day(i.reversed_at)), 0),
            )
            .where(or_(on_day(i.issued_at), on_day(i.reversed_at)))
            .group_by(i.operator_code, i.kind)
        )
        columns = [
            "day",
            "operator_code",
            "kind",
            "issued",
            "issued_fen",
            "reversed",
            "reversed_fen",
        ]
        await self._session.execute(insert(InvoiceDayRow).from_select(columns, source))


@dataclass(frozen=True, slots=True)
class PassTerm:
    """What a pass order paid for: its operator, the fen kept (after refunds) and the term."""

    operator_code: str
    kept_fen: int
    start: datetime
    end: datetime


async def pass_terms(session: AsyncSession, start: datetime, end: datetime) -> list[PassTerm]:
    """Applied pass orders whose bought term may overlap [start, end)."""
    o, p = RightOrderRow, PaymentRow
    query = (
        select(
            p.operator_code,
            p.amount_fen - p.refunded_fen,
            o.applied_at,
            o.valid_until_before,
            o.valid_until_after,
        )
        .join(p, p.out_trade_no == o.out_trade_no)
        .where(
            o.kind == "pass",
            o.applied_at.is_not(None),
            o.applied_at < end,
            o.valid_until_after > start,
        )
    )
    terms = []
    for operator, kept, applied, before, after in await session.execute(query):
        # A renewal buys the months after the pass's old end; a new pass starts when applied.
        begins = before if before is not None and before > applied else applied
        terms.append(PassTerm(operator, int(kept), begins, after))
    return terms

"""Reads the roll-up tables for reports, summed in SQL over a date range and a staff scope."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from core.reports.periods import DateRange
from core.staff import Scope
from core.store.rollups import (
    ArrearsDayRow,
    DeviceDayRow,
    InvoiceDayRow,
    OccupancyHourRow,
    RevenueDayRow,
    ShiftDayRow,
)

Rows = list[tuple[Any, ...]]

# What the revenue report may group by, and the column that holds it.
REVENUE_KEYS = {
    "day": RevenueDayRow.day,
    "lot": RevenueDayRow.lot_code,
    "zone": RevenueDayRow.zone_code,
    "district": RevenueDayRow.district_code,
    "operator": RevenueDayRow.operator_code,
    "sub_merchant": RevenueDayRow.sub_mchid,
}


def _scoped(table: Any, scope: Scope, place: Any | None) -> ColumnElement[bool]:
    """Rows a scoped account may see: its operators', districts' or lots' (as covers() says)."""
    if scope.city_wide:
        return true()
    checks = [table.operator_code.in_(sorted(scope.operators))] if scope.operators else []
    if scope.districts and hasattr(table, "district_code"):
        checks.append(table.district_code.in_(sorted(scope.districts)))
    if scope.lots and place is not None:
        checks.append(place.in_(sorted(scope.lots)))
    return or_(*checks) if checks else false()


def _within(query: Select[Any], table: Any, period: DateRange) -> Select[Any]:
    return query.where(table.day >= period.first, table.day <= period.last)


class ReportRepository:
    """Sums of the roll-ups; never writes."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def _all(self, query: Select[Any]) -> Rows:
        return [tuple(row) for row in await self._session.execute(query)]

    async def revenue(self, period: DateRange, by: str, scope: Scope) -> Rows:
        """(key, channel, flow, entries, fen) summed over the range."""
        r, key = RevenueDayRow, REVENUE_KEYS[by]
        query = (
            select(key, r.channel, r.flow, func.sum(r.entries), func.sum(r.amount_fen))
            .where(_scoped(r, scope, r.lot_code))
            .group_by(key, r.channel, r.flow)
            .order_by(key)
        )
        return await self._all(_within(query, r, period))

    async def occupancy_by_place(self, period: DateRange, scope: Scope) -> Rows:
        """(place, berths, arrivals, occupied seconds) summed over the range."""
        o = OccupancyHourRow
        query = (
            select(
                o.place_code, func.max(o.berths), func.sum(o.arrivals), func.sum(o.occupied_seconds)
            )
            .where(_scoped(o, scope, o.place_code))
            .group_by(o.place_code)
            .order_by(o.place_code)
        )
        return await self._all(_within(query, o, period))

    async def occupancy_by_hour(self, period: DateRange, scope: Scope) -> Rows:
        """(hour, arrivals, occupied seconds) summed over the range and every place."""
        o = OccupancyHourRow
        query = (
            select(o.hour, func.sum(o.arrivals), func.sum(o.occupied_seconds))
            .where(_scoped(o, scope, o.place_code))
            .group_by(o.hour)
            .order_by(o.hour)
        )
        return await self._all(_within(query, o, period))

    async def arrears(self, day: date, scope: Scope) -> Rows:
        """(bucket, stays, due fen) of the snapshot at the end of `day`."""
        a = ArrearsDayRow
        query = (
            select(a.bucket, func.sum(a.stays), func.sum(a.due_fen))
            .where(a.day == day, _scoped(a, scope, None))
            .group_by(a.bucket)
        )
        return await self._all(query)

    async def shifts(self, period: DateRange, scope: Scope) -> Rows:
        """(lot, cashier, shifts, expected, counted, difference) summed over the range."""
        s = ShiftDayRow
        query = (
            select(
                s.lot_code,
                s.cashier,
                func.sum(s.shifts),
                func.sum(s.expected_cash_fen),
                func.sum(s.counted_cash_fen),
                func.sum(s.difference_fen),
            )
            .where(_scoped(s, scope, s.lot_code))
            .group_by(s.lot_code, s.cashier)
            .order_by(s.lot_code, s.cashier)
        )
        return await self._all(_within(query, s, period))

    async def devices(self, period: DateRange, scope: Scope) -> Rows:
        """(place, kind, devices, device-hours heard, days) over the range."""
        d = DeviceDayRow
        query = (
            select(
                d.place_code,
                d.kind,
                func.max(d.devices),
                func.sum(d.hours_heard),
                func.count(func.distinct(d.day)),
            )
            .where(_scoped(d, scope, d.place_code))
            .group_by(d.place_code, d.kind)
            .order_by(d.place_code, d.kind)
        )
        return await self._all(_within(query, d, period))

    async def invoices(self, period: DateRange, scope: Scope) -> Rows:
        """(operator, issued, issued fen, reversed, reversed fen) over the range."""
        i = InvoiceDayRow
        query = (
            select(
                i.operator_code,
                func.sum(i.issued),
                func.sum(i.issued_fen),
                func.sum(i.reversed),
                func.sum(i.reversed_fen),
            )
            .where(_scoped(i, scope, None))
            .group_by(i.operator_code)
            .order_by(i.operator_code)
        )
        return await self._all(_within(query, i, period))

"""Use case: build a named report for a date range and a staff scope from the roll-ups."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from core.errors import NotFoundError, ValidationFailedError
from core.reports import catalog
from core.reports.channels import Channel, Flow
from core.reports.periods import DateRange
from core.reports.tables import Report
from core.staff import Scope, covers
from core.store.report_repository import REVENUE_KEYS
from core.store.unit_of_work import UnitOfWork


class UnknownReportError(NotFoundError):
    """No report has this name."""

    code = "report_not_found"
    message_zh = "没有此报表"


class ReportGroupingError(ValidationFailedError):
    """The revenue report cannot be grouped by this."""

    code = "report_grouping_invalid"
    message_zh = (
        "报表分组方式无效（营收：day、lot、zone、district、operator、sub_merchant；"
        "占用率：place、hour）"
    )


Builder = Callable[[UnitOfWork, DateRange, Scope, str | None], Awaitable[Report]]


async def _revenue(uow: UnitOfWork, period: DateRange, scope: Scope, by: str | None) -> Report:
    by = by or "day"
    if by not in REVENUE_KEYS:
        raise ReportGroupingError(detail=by)
    return catalog.revenue(period, by, await uow.reports.revenue(period, by, scope))


OCCUPANCY_KEYS = ("place", "hour")


async def _occupancy(uow: UnitOfWork, period: DateRange, scope: Scope, by: str | None) -> Report:
    by = by or "place"
    if by == "hour":
        places = await uow.rollups.places()
        berths = sum(
            p.berths
            for p in places.values()
            if covers(scope, p.operator_code, p.district_code, p.code)
        )
        found = [
            (h, berths, n, s) for h, n, s in await uow.reports.occupancy_by_hour(period, scope)
        ]
        return catalog.occupancy(period, by, found)
    if by not in OCCUPANCY_KEYS:
        raise ReportGroupingError(detail=by)
    return catalog.occupancy(period, by, await uow.reports.occupancy_by_place(period, scope))


async def _arrears(uow: UnitOfWork, period: DateRange, scope: Scope, _: str | None) -> Report:
    recovered = sum(
        int(fen)
        for _, channel, flow, _, fen in await uow.reports.revenue(period, "operator", scope)
        if channel == Channel.ARREARS and flow == Flow.COLLECTED
    )
    snapshot = await uow.reports.arrears(period.last, scope)
    return catalog.arrears_ageing(period, snapshot, recovered)


async def _passes(uow: UnitOfWork, period: DateRange, scope: Scope, _: str | None) -> Report:
    return catalog.passes(period, await uow.reports.revenue(period, "day", scope))


async def _shifts(uow: UnitOfWork, period: DateRange, scope: Scope, _: str | None) -> Report:
    return catalog.cashier_shifts(period, await uow.reports.shifts(period, scope))


async def _devices(uow: UnitOfWork, period: DateRange, scope: Scope, _: str | None) -> Report:
    return catalog.device_uptime(period, await uow.reports.devices(period, scope))


async def _invoices(uow: UnitOfWork, period: DateRange, scope: Scope, _: str | None) -> Report:
    paid = await uow.reports.revenue(period, "operator", scope)
    return catalog.invoices(period, await uow.reports.invoices(period, scope), paid)


REPORTS: dict[str, Builder] = {
    "revenue": _revenue,
    "occupancy": _occupancy,
    "arrears-ageing": _arrears,
    "passes": _passes,
    "cashier-shifts": _shifts,
    "device-uptime": _devices,
    "invoices": _invoices,
}


async def build_report(
    uow: UnitOfWork, name: str, period: DateRange, scope: Scope, *, by: str | None = None
) -> Report:
    """The report `name` over `period` as `scope` may see it, grouped `by` (or its default)."""
    builder = REPORTS.get(name)
    if builder is None:
        raise UnknownReportError(detail=name)
    return await builder(uow, period, scope, by)


async def build_chart(
    uow: UnitOfWork, name: str, period: DateRange, scope: Scope, *, by: str | None = None
) -> Report:
    """The report a chart plots: occupancy by hour of the day, the others as asked."""
    return await build_report(uow, name, period, scope, by="hour" if name == "occupancy" else by)
